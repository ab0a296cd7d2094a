"""Test kit for the web layer: a deployment of the default CRM pack (or the small pack) with
users, a Flask test client that signs in, and a live server for browser tests."""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from app.context import Context
from app.meta.types import Meta
from app.migrate.publish import publish
from app.model.system import create_system_tables
from app.records import Records
from app.runtime import Runtime
from app.settings import load_settings
from app.users import create_user
from app.web import create_app
from tests import factories
from tests.dbtemplates import prefill
from tests.factories import meta_of, small_pack

ROOT = Path(__file__).resolve().parent.parent
ROLES = list(factories.ROLES)
#: (username, password, roles) of the users every web deployment has
USERS: Sequence[tuple[str, str, list[str]]] = (
    ("admin", "admin-pass-1", ["admin"]),
    ("rep", "rep-pass-12", ["sales_rep"]),
    ("rep2", "rep2-pass-12", ["sales_rep"]),
)


def deployment(folder: Path, database_url: str, *, pack: str = "default",
               extra_config: str = "") -> Context:
    """config.yaml + schemas in `folder`, published to `database_url`, with USERS.
    `pack` is "default" (the shipped CRM) or "small" (account + contact). Caller disposes."""
    schemas = folder / "schemas"
    if pack == "default":
        shutil.copytree(ROOT / "schemas", schemas)
    else:
        small_pack(schemas)
    (folder / "config.yaml").write_text(
        f"schemas: schemas\nroles: [{', '.join(ROLES)}]\nmigrations: migrations\n"
        f"login_rate_limit: 1000 per minute\n{extra_config}", encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    prefill(ctx, folder, _fill_deployment, USERS)
    return ctx


def _fill_deployment(ctx: Context) -> None:
    """What `deployment` writes to its database: system tables, USERS, the pack published."""
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, password, roles in USERS:
            create_user(conn, username, password, roles, ctx.settings.roles,
                        full_name=username.capitalize())
    publish(ctx.engine, _meta(Path(ctx.settings.schema_dirs[0])))


_METAS: dict[str, Meta] = {}


def _meta(schemas: Path) -> Meta:
    """The config of `schemas`, loaded once per test process for the same file texts (most
    tests publish the unchanged default pack: loading it is a third of a deployment's time).
    Meta is frozen; its provenance names the folder first loaded, which publish ignores."""
    digest = hashlib.sha256()
    for path in sorted(schemas.glob("*.y*ml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    key = digest.hexdigest()
    if key not in _METAS:
        _METAS[key] = meta_of(schemas)
    return _METAS[key]


def user_id(ctx: Context, username: str) -> int:
    import sqlalchemy as sa

    from app.model.system import users

    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(users.c.id).where(users.c.username == username))
                   .scalar_one())


def web_app(ctx: Context) -> Flask:
    return create_app(ctx, testing=True)


def records_of(app: Flask) -> Records:
    st = app.extensions["crm"]
    return Records(st.ctx.engine, st.models, plugins=st.plugins)


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: FlaskClient, username: str = "admin", password: str | None = None) -> None:
    password = password or dict((u, p) for u, p, _ in USERS)[username]
    token = csrf(client.get("/login").text)
    resp = client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})
    assert resp.status_code == 302, resp.text


def post_form(client: FlaskClient, url: str, data: dict[str, Any], **kw: Any) -> Any:
    """POST `data` to `url` with the CSRF token of the page at `url` (GET first)."""
    token = csrf(client.get(url).text)
    return client.post(url, data={**data, "csrf_token": token}, **kw)


@contextmanager
def live_server(ctx: Context) -> Iterator[str]:
    """Serve the Runtime (live config reload included) on a free port; yields the base URL."""
    srv = make_server("127.0.0.1", 0, Runtime(ctx), threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()


def browser_sign_in(page: Any, base: str, username: str = "admin",
                    password: str | None = None) -> None:
    password = password or dict((u, p) for u, p, _ in USERS)[username]
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def wrapper(html: str, name: str) -> str:
    """The HTML of the form wrapper of field `name` (up to the next field)."""
    at = html.index(f'data-field="{name}"')
    start = html.rindex("<div", 0, at)
    end = html.find("data-field=", at + 1)
    if end > 0:
        end = html.rindex("<div", 0, end)
    return html[start:end if end > 0 else None]
