"""In a real browser: sign in with the admin that setup prints and see the live entities."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from app.web import create_app
from tests.factories import live_context


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[str]:
    ctx = live_context(tmp_path, database_url, "admin", "admin-pass-1", "admin")
    srv = make_server("127.0.0.1", 0, create_app(ctx), threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        ctx.dispose()


def test_sign_in_and_see_entities(browser: Any, server: str, artifacts: Path) -> None:
    page = browser.new_page()
    try:
        page.goto(server + "/")
        assert "/login" in page.url
        page.fill("#username", "admin")
        page.fill("#password", "wrong-password")
        page.click("button[type=submit]")
        assert page.locator(".flash").inner_text() == "Wrong username or password."
        page.fill("#username", "admin")
        page.fill("#password", "admin-pass-1")
        page.click("button[type=submit]")
        page.wait_for_url(server + "/")
        assert page.locator("h1").inner_text() == "Entities"
        assert page.locator("td", has_text="Account").count() == 1
        page.screenshot(path=str(artifacts / "home.png"), full_page=True)
        page.click("text=Sign out")
        page.wait_for_url("**/login")
    finally:
        page.close()
