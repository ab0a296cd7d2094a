"""In a real browser: a record whose text fields hold script and HTML payloads opens on its
detail page and in the list without any script running (no dialog fires)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from app.records import Actor
from tests.webkit import browser_sign_in, live_server, records_of, user_id, web_app

PAYLOAD = '<script>alert(1)</script> "><img src=x onerror=alert(1)> {{7*7}}'
RICH = '<p><b>bold</b><img src=x onerror=alert(1)><script>alert(2)</script></p>'


@pytest.fixture
def server(crm: Context) -> Iterator[str]:
    with live_server(crm) as base:
        yield base


def test_payload_never_runs(browser: Any, server: str, crm: Context, artifacts: Path) -> None:
    rec = records_of(web_app(crm))
    me = Actor(user_id(crm, "admin"), "admin", ("admin",))
    acc = rec.create("account", {"name": PAYLOAD, "description": PAYLOAD,
                                 "billing_street": PAYLOAD, "tags": [PAYLOAD]}, me)
    rec.create("note", {"title": PAYLOAD, "body": RICH, "related_account": acc["id"]}, me)
    rec.create("opportunity", {"name": PAYLOAD, "account": acc["id"]}, me)
    dialogs: list[str] = []
    page = browser.new_page()

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        browser_sign_in(page, server)
        for url in (f"/account/{acc['id']}", "/account/", "/note/", "/opportunity/board",
                    f"/account/{acc['id']}/edit"):
            page.goto(server + url)
            page.wait_for_load_state("networkidle")
            assert page.locator("text=" + "<script>alert(1)</script>").count() >= 1 or \
                url in ("/note/", "/opportunity/board"), url
        page.goto(server + f"/account/{acc['id']}")
        page.wait_for_load_state("networkidle")
        assert "{{7*7}}" in page.content()
        page.screenshot(path=str(artifacts / "hostile-detail.png"), full_page=True)
    finally:
        page.close()
    assert dialogs == []
