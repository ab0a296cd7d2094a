"""Signing in and out: CSRF, wrong passwords, rate limiting, password change, language."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from app.context import Context
from tests.webkit import csrf, deployment, post_form, sign_in, web_app


def test_pages_need_sign_in(web: object) -> None:
    c = web.test_client()  # type: ignore[attr-defined]
    resp = c.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_sign_in_without_csrf_is_refused(web: object) -> None:
    c = web.test_client()  # type: ignore[attr-defined]
    resp = c.post("/login", data={"username": "admin", "password": "admin-pass-1"})
    assert resp.status_code == 400
    assert "form expired" in resp.text


def test_wrong_password_then_right(web: object) -> None:
    c = web.test_client()  # type: ignore[attr-defined]
    token = csrf(c.get("/login").text)
    bad = c.post("/login", data={"username": "admin", "password": "nope-nope",
                                 "csrf_token": token})
    assert "Wrong username or password." in bad.text
    ok = c.post("/login", data={"username": "admin", "password": "admin-pass-1",
                                "csrf_token": token}, follow_redirects=True)
    assert ok.status_code == 200 and "My work" in ok.text


def test_sign_out_needs_post_and_ends_the_session(client: FlaskClient) -> None:
    client.get("/logout", follow_redirects=True)
    assert client.get("/").status_code == 200  # a GET (a link, an image) does not sign out
    token = csrf(client.get("/").text)
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/").status_code == 302


def test_sign_in_is_rate_limited(tmp_path: Path, database_url: str) -> None:
    ctx: Context = deployment(tmp_path, database_url, pack="small",
                              extra_config="login_rate_limit: 3 per minute\n")
    try:
        c = web_app(ctx).test_client()
        token = csrf(c.get("/login").text)
        codes = [c.post("/login", data={"username": "admin", "password": "wrong-wrong",
                                        "csrf_token": token}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        blocked = c.post("/login", data={"username": "admin", "password": "admin-pass-1",
                                         "csrf_token": token})
        assert blocked.status_code == 429 and "Too many attempts" in blocked.text
    finally:
        ctx.dispose()


def test_password_change(web: object) -> None:
    c = web.test_client()  # type: ignore[attr-defined]
    sign_in(c, "rep")
    wrong = post_form(c, "/me/password", {"current": "bad-bad-bad", "new": "new-pass-123",
                                                "repeat": "new-pass-123"})
    assert "The current password is wrong." in wrong.text
    differ = post_form(c, "/me/password", {"current": "rep-pass-12", "new": "new-pass-123",
                                                 "repeat": "new-pass-124"})
    assert "The two new passwords differ." in differ.text
    ok = post_form(c, "/me/password", {"current": "rep-pass-12", "new": "new-pass-123",
                                             "repeat": "new-pass-123"})
    assert ok.status_code == 302
    fresh = web.test_client()  # type: ignore[attr-defined]
    sign_in(fresh, "rep", "new-pass-123")


def test_language_choice_is_kept_for_the_user(web: object) -> None:
    c = web.test_client()  # type: ignore[attr-defined]
    sign_in(c, "rep")
    token = csrf(c.get("/").text)
    c.post("/me/language", data={"locale": "zh_CN", "next": "/", "csrf_token": token})
    other = web.test_client()  # type: ignore[attr-defined]
    sign_in(other, "rep")
    assert 'lang="zh-CN"' in other.get("/").text


def test_session_cookie_is_http_only(web: object) -> None:
    c = web.test_client()  # type: ignore[attr-defined]
    resp = c.get("/login")
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_form_messages_of_wtforms_follow_the_language(web: object) -> None:
    c = web.test_client()  # type: ignore[attr-defined]
    sign_in(c, "rep")
    token = csrf(c.get("/").text)
    c.post("/me/language", data={"locale": "zh_CN", "next": "/", "csrf_token": token})
    resp = post_form(c, "/me/password", {"current": "", "new": "", "repeat": ""})
    assert "该字段是必填字段。" in resp.text


def test_language_can_be_chosen_before_signing_in(web: object) -> None:
    c = web.test_client()  # type: ignore[attr-defined]
    token = csrf(c.get("/login").text)
    c.post("/me/language", data={"locale": "zh_CN", "next": "/login", "csrf_token": token})
    page = c.get("/login").text
    assert 'lang="zh-CN"' in page and "登录" in page
