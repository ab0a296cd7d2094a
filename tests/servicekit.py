"""Test kit for the knowledge base and satisfaction surveys (docs/service.md): the default CRM
pack with the shipped workflows/ and reports/, service users, the `immediate` task queue, and
helpers to make categories, articles, cases and surveys.

    ctx = service_deployment(tmp_path, database_url, extra_config=mail_server.config)
    desk = Desk(ctx)
    art = desk.article("Printer jams", status="published", summary="Open tray 2 ...")
    case = desk.case(owner="agent", contact_email="li@example.com")
    token = desk.close(case)           # the survey's token, read from the mail it sent
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.meta.types import Meta
from app.migrate.publish import publish
from app.model.notify import mails
from app.model.system import create_system_tables
from app.records import Actor, Records
from app.settings import load_settings
from app.users import create_user, set_teams
from app.web import create_app
from tests.webkit import ROLES, ROOT, csrf, user_id

#: (username, roles, teams) of a service deployment; every password is f"{username}-pass-12"
PEOPLE: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("admin", ("admin",), ()),
    ("agent", ("service_agent",), ("east",)),
    ("agent2", ("service_agent",), ("north",)),
    ("svcmanager", ("service_manager",), ()),
    ("svcmanager2", ("service_manager",), ()),
    ("rep", ("sales_rep",), ("east",)),
)
LINK = re.compile(r"/survey/([A-Za-z0-9_-]{20,100})")


def password(username: str) -> str:
    return f"{username}-pass-12"


def service_deployment(folder: Path, database_url: str, *, extra_config: str = "") -> Context:
    """The default pack with the shipped workflows/ and reports/, published, with PEOPLE and
    the immediate task queue. The caller disposes the Context."""
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    shutil.copytree(ROOT / "workflows", folder / "workflows")
    shutil.copytree(ROOT / "reports", folder / "reports")
    (folder / "config.yaml").write_text(
        f"schemas: schemas\nworkflows: workflows\nreports: reports\nroles: [{', '.join(ROLES)}]\n"
        "migrations: migrations\nlogin_rate_limit: 1000 per minute\ntask_queue: immediate\n"
        f"{extra_config}", encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, roles, teams in PEOPLE:
            uid = create_user(conn, username, password(username), list(roles),
                              ctx.settings.roles, email=f"{username}@example.com",
                              full_name=username.capitalize())
            if teams:
                set_teams(conn, uid, teams, ["east", "north", "south"])
    publish(ctx.engine, _meta(ctx, folder))
    ctx.queue  # noqa: B018  (made as the web app and the worker make it: queued work runs)
    return ctx


_METAS: dict[str, Meta] = {}


def _meta(ctx: Context, folder: Path) -> Meta:
    """The config of the deployment's folders, loaded once per test process for the same file
    texts (loading the whole pack is most of a deployment's time; Meta is frozen)."""
    digest = hashlib.sha256()
    for path in [*sorted(folder.glob("*/*.y*ml")), folder / "config.yaml"]:
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    key = digest.hexdigest()
    if key not in _METAS:
        _METAS[key] = ctx.yaml_meta()
    ctx.plugins  # noqa: B018  (the plugins' actions registered, as yaml_meta would)
    return _METAS[key]


class Desk:
    """Records of a service deployment, as the system or as a user."""

    def __init__(self, ctx: Context) -> None:
        from app.cli_privacy import live_records

        self.ctx = ctx
        self.rs: Records = live_records(ctx)

    def who(self, username: str) -> Actor:
        roles = {u: r for u, r, _t in PEOPLE}[username]
        return Actor(user_id(self.ctx, username), username, roles)

    def as_user(self, username: str) -> Records:
        return Records(self.rs.engine, self.rs.models, plugins=self.rs.plugins,
                       actor=self.who(username))

    def category(self, name: str, parent: int | None = None, **values: Any) -> int:
        return int(self.rs.create("kb_category", {"name": name, "parent": parent,
                                                  **values})["id"])

    def article(self, title: str, *, status: str = "published", owner: str = "svcmanager",
                **values: Any) -> int:
        """An article made by the system for `owner` (published unless told otherwise)."""
        made = self.rs.create("kb_article", {"title": title, "owner": user_id(self.ctx, owner),
                                             **values})
        path = {"draft": [], "in_review": ["in_review"], "published": ["in_review", "published"],
                "archived": ["in_review", "published", "archived"]}[status]
        for step in path:  # the moves the stage machine allows (the system may make them all)
            self.rs.update("kb_article", made["id"], {"status": step})
        return int(made["id"])

    def contact(self, email: str | None = "li.wei@example.com", **values: Any) -> int:
        body = {"last_name": "Li", "first_name": "Wei", "email": email, **values}
        return int(self.rs.create("contact", body)["id"])

    def case(self, *, owner: str = "agent", contact: int | None = None,
             **values: Any) -> dict[str, Any]:
        body = {"subject": "Printer on fire", "contact": contact,
                "owner": user_id(self.ctx, owner), **values}
        return self.rs.create("case", body)

    def close(self, case: dict[str, Any], by: str = "agent") -> str | None:
        """Close the case as `by` (the survey goes out on the immediate queue); the token of
        the newest survey mail of the case, if one was written."""
        self.as_user(by).update("case", case["id"], {"status": "closed",
                                                    "resolution": "Replaced the toner"},
                                self.who(by))
        return self.survey_token()

    def survey_mails(self) -> list[dict[str, Any]]:
        with self.ctx.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                sa.select(mails).where(mails.c.kind == "survey").order_by(mails.c.id))]

    def survey_token(self) -> str | None:
        found = self.survey_mails()
        if not found:
            return None
        match = LINK.search(found[-1]["body_text"])
        return match.group(1) if match else None

    def surveys(self, case_id: int | None = None) -> list[dict[str, Any]]:
        table = self.rs.table("survey_response")
        stmt = self.rs.full_select("survey_response").order_by(table.c.id)
        if case_id is not None:
            stmt = stmt.where(table.c.case_id == case_id)
        with self.ctx.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def record(self, entity: str, record_id: int) -> dict[str, Any]:
        return self.rs.get(entity, record_id)


def web(ctx: Context) -> Flask:
    return create_app(ctx, testing=True)


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    token = csrf(client.get("/login").text)
    resp = client.post("/login", data={"username": username, "password": password(username),
                                       "csrf_token": token})
    assert resp.status_code == 302, resp.text
    return client
