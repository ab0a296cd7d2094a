"""Every response of the Runtime says which config version served it, in
X-CRM-Config-Version: pages, redirects, the API (also its refusals), static files, errors."""

from __future__ import annotations

from pathlib import Path

from werkzeug.test import Client

from app.runtime import VERSION_HEADER, Runtime, version_of
from tests.serverkit import add_account_field
from tests.webkit import deployment


def test_every_kind_of_response_names_its_version(tmp_path: Path, database_url: str) -> None:
    ctx = deployment(tmp_path, database_url, pack="small")
    try:
        client = Client(Runtime(ctx))
        version = str(version_of(ctx.engine))
        answers = {path: client.get(path, buffered=True) for path in (
            "/login", "/", "/account/", "/static/crm.css", "/api/v1/account",
            "/api/v1/docs", "/no/such/page", "/admin/", "/healthz")}
        assert {p: r.status_code for p, r in answers.items()} == {
            "/login": 200, "/": 302, "/account/": 302, "/static/crm.css": 200,
            "/api/v1/account": 401, "/api/v1/docs": 302, "/no/such/page": 404, "/admin/": 302,
            "/healthz": 200}
        assert {p: r.headers.get_all(VERSION_HEADER) for p, r in answers.items()} == {
            p: [version] for p in answers}
        refused = client.post("/login", data={"username": "admin"})  # no CSRF token: 400
        assert refused.status_code == 400 and refused.headers[VERSION_HEADER] == version

        new = add_account_field(ctx)
        assert client.get("/static/crm.css", buffered=True).headers[VERSION_HEADER] == str(new)
    finally:
        ctx.dispose()


def test_before_any_publish_the_header_says_none(tmp_path: Path, database_url: str) -> None:
    from app.context import Context
    from app.model.system import create_system_tables
    from app.settings import load_settings

    (tmp_path / "config.yaml").write_text("schemas: schemas\n")
    ctx = Context(load_settings(tmp_path / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "k"}))
    try:
        with ctx.engine.begin() as conn:
            create_system_tables(conn)
        resp = Client(Runtime(ctx)).get("/login")
        assert resp.status_code == 200 and resp.headers[VERSION_HEADER] == "none"
    finally:
        ctx.dispose()
