"""Test kit for approvals: the default CRM pack with the shipped workflows/ folder published,
an org chart (rep -> manager -> director, a second director), the `immediate` task queue, a
frozen clock, and helpers to make quotes and act as users.

    ctx = approval_deployment(tmp_path, database_url, extra_config=mail_config)
    flow = Flow(ctx)
    quote = flow.quote(discount=30, owner="rep")
    approval = flow.approvals.submit("quote", quote, flow.who("rep"))
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.migrate.publish import publish
from app.model.approvals import approval_events, approval_tasks, approvals
from app.model.system import create_system_tables, users
from app.records import Actor, Records
from app.settings import load_settings
from app.users import create_user
from app.workflow.approvals.engine import Approvals
from tests.dbtemplates import prefill
from tests.webkit import ROLES, ROOT

#: (username, roles, manager) of the org chart, every password is f"{username}-pass-12"
ORG: tuple[tuple[str, list[str], str | None], ...] = (
    ("admin", ["admin"], None),
    ("director", ["sales_director"], None),
    ("director2", ["sales_director"], None),
    ("manager", ["sales_manager"], "director"),
    ("rep", ["sales_rep"], "manager"),
    ("rep2", ["sales_rep"], "manager"),
    ("loner", ["sales_rep"], None),
)
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday morning


def password(username: str) -> str:
    return f"{username}-pass-12"


def approval_deployment(folder: Path, database_url: str, *, extra_config: str = "",
                        workflows: dict[str, str] | None = None) -> Context:
    """The default pack with workflows/ (the shipped files, or `workflows`: file name ->
    text), published, with ORG. The caller disposes the Context."""
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    if workflows is None:
        shutil.copytree(ROOT / "workflows", folder / "workflows")
    else:
        (folder / "workflows").mkdir(parents=True)
        for name, text in workflows.items():
            (folder / "workflows" / name).write_text(text, encoding="utf-8")
    (folder / "config.yaml").write_text(
        f"schemas: schemas\nworkflows: workflows\nroles: [{', '.join(ROLES)}]\n"
        "migrations: migrations\nlogin_rate_limit: 1000 per minute\ntask_queue: immediate\n"
        f"{extra_config}", encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    prefill(ctx, folder, _fill_approval, ORG)
    return ctx


def _fill_approval(ctx: Context) -> None:
    """What `approval_deployment` writes to its database (tests/dbtemplates.py copies it)."""
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        ids: dict[str, int] = {}
        for username, roles, manager in ORG:
            ids[username] = create_user(conn, username, password(username), roles,
                                        ctx.settings.roles, email=f"{username}@example.com",
                                        full_name=username.capitalize())
            if manager is not None:
                conn.execute(users.update().where(users.c.id == ids[username])
                             .values(manager_id=ids[manager]))
    publish(ctx.engine, ctx.yaml_meta())


class Flow:
    """Records and approvals of a deployment, as the system or as a user."""

    def __init__(self, ctx: Context) -> None:
        from app.cli_privacy import live_records

        self.ctx = ctx
        ctx.queue  # noqa: B018  (made as the web app and the worker make it: mails go out)
        self.rs: Records = live_records(ctx)
        self.approvals = Approvals(self.rs, ctx.settings)

    def who(self, username: str) -> Actor:
        with self.ctx.engine.connect() as conn:
            row = conn.execute(sa.select(users.c.id, users.c.roles)
                               .where(users.c.username == username)).one()
        return Actor(int(row.id), username, tuple(row.roles))

    def as_user(self, username: str) -> Approvals:
        """The approvals service on a records service reading as `username`."""
        rs = Records(self.rs.engine, self.rs.models, plugins=self.rs.plugins,
                     actor=self.who(username))
        return Approvals(rs, self.ctx.settings)

    def quote(self, *, discount: float = 30, owner: str = "rep", name: str = "Big deal",
              lines: int = 1) -> int:
        who = self.who(owner)
        q = self.rs.create("quote", {"name": name, "discount": discount}, who)
        for i in range(lines):
            self.rs.create("quote_line", {"quote": q["id"], "description": f"Line {i + 1}",
                                          "quantity": 2, "unit_price": 1000}, who)
        return int(q["id"])

    def record(self, entity: str, record_id: int) -> dict[str, Any]:
        return self.rs.get(entity, record_id)

    def approval(self, approval_id: int) -> Any:
        with self.ctx.engine.connect() as conn:
            return conn.execute(sa.select(approvals).where(approvals.c.id == approval_id)).one()

    def tasks(self, approval_id: int, status: str | None = "open") -> list[Any]:
        t = approval_tasks.c
        stmt = sa.select(approval_tasks).where(t.approval_id == approval_id).order_by(t.id)
        if status is not None:
            stmt = stmt.where(t.status == status)
        with self.ctx.engine.connect() as conn:
            return list(conn.execute(stmt).all())

    def task_for(self, approval_id: int, username: str) -> int:
        uid = self.who(username).id
        found = [t.id for t in self.tasks(approval_id) if uid in (t.assignee_id,
                                                                  t.delegated_from_id)]
        assert found, f"{username} has no open task on approval {approval_id}"
        return int(found[0])

    def events(self, approval_id: int) -> list[str]:
        with self.ctx.engine.connect() as conn:
            return list(conn.execute(sa.select(approval_events.c.kind).where(
                approval_events.c.approval_id == approval_id)
                .order_by(approval_events.c.id)).scalars())

    def assignees(self, approval_id: int) -> list[str]:
        names = {self.who(u).id: u for u, _r, _m in ORG}
        return sorted(names[t.assignee_id] for t in self.tasks(approval_id)
                      if t.assignee_id is not None)


@pytest.fixture
def frozen_clock() -> Iterator[datetime]:
    """The clock stands at START for the test (move it with app.clock.advance / set_now);
    bind it in a test module: `frozen_clock = approvalkit.frozen_clock`."""
    from app import clock

    clock.set_now(START)
    try:
        yield START
    finally:
        clock.set_now(None)


@pytest.fixture
def approval_ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    """A deployment of the default pack with workflows/ and the clock frozen at START; bind it
    in a test module: `ctx = approvalkit.approval_ctx`."""
    from app import clock

    clock.set_now(START)
    made = approval_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        clock.set_now(None)
        made.dispose()


def signed_in(web: Flask, name: str) -> FlaskClient:
    """A test client of `web` signed in as the org chart's user `name`."""
    from tests.webkit import sign_in

    client = web.test_client()
    sign_in(client, name, password(name))
    return client


def api_caller(ctx: Context) -> Callable[..., Any]:
    """`call(user, method, path, json=None, **kw)`: the answer of /api/v1<path> called with
    the user's API token (made on first use)."""
    from tests.apikit import token_for
    from tests.webkit import web_app

    client = web_app(ctx).test_client()
    tokens: dict[str, dict[str, str]] = {}

    def call(user: str, method: str, path: str, json: Any = None, **kw: Any) -> Any:
        if user not in tokens:
            tokens[user] = token_for(ctx, user)
        return client.open(f"/api/v1{path}", method=method, json=json, headers=tokens[user],
                           **kw)

    return call
