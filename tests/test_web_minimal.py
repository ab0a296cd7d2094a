"""The minimal web app: sign-in (CSRF protected), the home page lists live entities."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app.web import create_app
from tests.factories import live_context


@pytest.fixture
def client(tmp_path: Path, database_url: str) -> Iterator[FlaskClient]:
    ctx = live_context(tmp_path, database_url, "rep", "password-1", "sales_rep")
    app = create_app(ctx)
    try:
        yield app.test_client()
    finally:
        ctx.dispose()


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_home_needs_login(client: FlaskClient) -> None:
    assert client.get("/").status_code == 302


def test_login_without_csrf_is_refused(client: FlaskClient) -> None:
    resp = client.post("/login", data={"username": "rep", "password": "password-1"})
    assert resp.status_code == 400


def test_wrong_password_then_right(client: FlaskClient) -> None:
    token = csrf(client.get("/login").text)
    bad = client.post("/login", data={"username": "rep", "password": "nope-nope",
                                      "csrf_token": token})
    assert "Wrong username or password." in bad.text
    ok = client.post("/login", data={"username": "rep", "password": "password-1",
                                     "csrf_token": token}, follow_redirects=True)
    assert ok.status_code == 200
    assert "Config version 1 is live." in ok.text and "Account" in ok.text
