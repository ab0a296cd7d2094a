"""Security headers on every response: nosniff, referrer policy, no framing, a strict
Content-Security-Policy (a looser script-src only on flask-admin's back office), HSTS only
with `secure_cookies`, and `Cache-Control: no-store` on the API and signed-in pages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from app.context import Context
from tests.webkit import deployment, sign_in, web_app


def directives(resp: Any) -> dict[str, str]:
    csp = resp.headers.get("Content-Security-Policy", "")
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
            for part in (p.strip() for p in csp.split(";")) if part}


def assert_common(resp: Any) -> None:
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    assert resp.headers.get("Referrer-Policy") == "same-origin"
    assert resp.headers.get("X-Frame-Options") == "DENY"
    d = directives(resp)
    assert d["default-src"] == "'self'"
    assert d["img-src"] == "'self' data:"
    assert d["style-src"] == "'self'"
    assert d["style-src-elem"] == "'self'"
    assert d["object-src"] == "'none'"
    assert d["base-uri"] == "'self'"
    assert d["form-action"] == "'self'"
    assert d["frame-ancestors"] == "'none'"


def test_every_kind_of_response_has_the_headers(web: Any) -> None:
    anon = web.test_client()
    responses = [anon.get("/login"), anon.get("/"), anon.get("/no-such-page"),
                 anon.get("/api/v1/accounts")]
    static = anon.get("/static/crm.css")
    static.close()
    responses.append(static)
    signed = web.test_client()
    sign_in(signed)
    responses += [signed.get("/"), signed.get("/account/"), signed.get("/api/v1/docs"),
                  signed.get("/api/v1/accounts"), signed.get("/api/v1/openapi.json")]
    for resp in responses:
        assert_common(resp)
        assert directives(resp)["script-src"] == "'self'", resp.request.path
        assert "Strict-Transport-Security" not in resp.headers


def test_back_office_allows_flask_admins_inline_handlers_only(client: Any) -> None:
    resp = client.get("/admin/")
    assert resp.status_code == 200
    assert_common(resp)
    assert directives(resp)["script-src"] == "'self' 'unsafe-inline'"
    # not a prefix match on "/admin..." for the rest of the site
    assert directives(client.get("/administrator"))["script-src"] == "'self'"


def test_pages_have_no_inline_script_style_or_handlers(client: Any) -> None:
    """What the policy forbids must not be on the pages (the browser test checks it live)."""
    pages = ["/", "/account/", "/opportunity/board", "/account/new", "/api/v1/docs",
             "/search?q=a", "/me/password", "/me/tokens"]
    for url in pages:
        resp = client.get(url, follow_redirects=True)
        assert resp.status_code == 200, url
        html = resp.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert "<style" not in html, url
        assert not re.search(r"\son[a-z]+\s*=", html), url
        assert "javascript:" not in html, url


def test_hsts_only_with_secure_cookies(tmp_path: Path, database_url: str) -> None:
    ctx: Context = deployment(tmp_path, database_url, pack="small",
                              extra_config="secure_cookies: true\n")
    try:
        app = web_app(ctx)
        resp = app.test_client().get("/login")
        assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"
    finally:
        ctx.dispose()


def test_no_store_on_api_and_signed_in_pages_only(web: Any) -> None:
    anon = web.test_client()
    assert "no-store" not in anon.get("/login").headers.get("Cache-Control", "")
    assert anon.get("/api/v1/accounts").headers["Cache-Control"] == "no-store"
    signed = web.test_client()
    sign_in(signed)
    for url in ["/", "/account/", "/api/v1/accounts", "/api/v1/docs", "/admin/"]:
        assert signed.get(url).headers["Cache-Control"] == "no-store", url
    # static files stay cacheable, signed in or not
    for url in ["/static/crm.js", "/api/v1/docs/assets/swagger-ui.css"]:
        resp = signed.get(url)
        assert resp.status_code == 200
        assert "no-store" not in resp.headers.get("Cache-Control", ""), url
        resp.close()
