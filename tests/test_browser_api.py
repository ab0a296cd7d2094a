"""In a real browser: make an API token from the user menu, open the API docs page (Swagger UI
from local assets) and call the API from it with the browser session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from tests.webkit import browser_sign_in, live_server


@pytest.fixture
def server(crm: Context) -> Any:
    with live_server(crm) as base:
        yield base


def test_token_page_and_docs_page(browser: Any, server: str, artifacts: Path) -> None:
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
        (server, "data:", "blob:")) else None)
    try:
        browser_sign_in(page, server)
        page.click("#user-menu")
        page.click("text=API tokens")
        page.fill("#name", "Spreadsheet sync")
        page.select_option("#scope", "read")
        page.click("button:has-text('Create token')")
        token = page.locator("#new-token").inner_text()
        assert token.startswith("crm_")
        assert page.locator("td", has_text="Spreadsheet sync").count() == 1
        page.screenshot(path=str(artifacts / "api-tokens.png"), full_page=True)
        page.click("text=API documentation")
        page.wait_for_selector(".swagger-ui .opblock-tag", timeout=20_000)
        assert page.locator(".opblock-tag[data-tag=opportunity]").count() == 1
        assert "config-" in page.locator(".info").inner_text()
        page.screenshot(path=str(artifacts / "api-docs-top.png"))
        page.click("#operations-account-list_account")
        page.click("#operations-account-list_account .try-out__btn")
        page.click("#operations-account-list_account .execute")
        page.wait_for_selector("#operations-account-list_account .live-responses-table",
                               timeout=20_000)
        status = page.locator("#operations-account-list_account .live-responses-table "
                              "tbody .response-col_status").first.inner_text()
        assert status.strip() == "200"
        page.screenshot(path=str(artifacts / "api-docs.png"), full_page=False)
        assert outside == []  # no CDN, nothing fetched from elsewhere
    finally:
        page.close()
