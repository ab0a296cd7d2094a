"""In a real browser: sign in, see the navigation of the default pack, switch to Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from tests.webkit import live_server


@pytest.fixture
def server(crm: Context) -> Iterator[str]:
    with live_server(crm) as base:
        yield base


def test_sign_in_switch_language_sign_out(browser: Any, server: str, artifacts: Path) -> None:
    page = browser.new_page()
    try:
        page.goto(server + "/")
        assert "/login" in page.url
        page.fill("#username", "admin")
        page.fill("#password", "wrong-password")
        page.click("button[type=submit]")
        assert "Wrong username or password." in page.locator(".alert").inner_text()
        page.fill("#username", "admin")
        page.fill("#password", "admin-pass-1")
        page.click("button[type=submit]")
        page.wait_for_url(server + "/")
        assert page.locator("nav a[data-entity=account]").inner_text() == "Accounts"
        page.screenshot(path=str(artifacts / "home.png"), full_page=True)
        page.click("#user-menu")
        page.click("text=简体中文")
        page.wait_for_load_state()
        assert page.locator("nav a[data-entity=account]").inner_text() == "客户"
        page.click("#user-menu")
        page.click("#sign-out")
        page.wait_for_url("**/login**")
    finally:
        page.close()
