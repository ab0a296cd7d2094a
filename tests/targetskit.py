"""Test kit for sales targets: a small sales pack (account, opportunity and the shipped
sales_target entity and workflows/targets.yaml) with the default pack's role hierarchy and
teams, users in teams, and factories for deals, accounts and targets.

The pack is small so a deployment costs little; it keeps what the metrics read from the
default pack (opportunity amount, stage, close_date; account type) and the shipped
sales_target.yaml and targets.yaml themselves.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.context import Context
from app.migrate.publish import publish
from app.model.build import build_models
from app.model.system import create_system_tables
from app.plugins import make_plugin_manager
from app.records import Actor, Records
from app.records.change import SYSTEM
from app.settings import load_settings
from app.targets.periods import Period
from app.users import create_user, set_teams
from tests.factories import ROLES, write_schema

ROOT = Path(__file__).resolve().parent.parent
TEAMS = ("east", "north", "south")
ACCESS = {"access": {
    "roles": {
        "admin": {},
        "sales_director": {"default": {"create": True, "read": "all", "edit": "all",
                                       "delete": "all", "export": True}},
        "sales_manager": {"reports_to": "sales_director", "default": {
            "create": True, "read": "subordinates", "edit": "subordinates",
            "delete": "subordinates", "export": True}},
        "sales_rep": {"reports_to": "sales_manager", "default": {
            "create": True, "read": "own", "edit": "own", "delete": "own"}},
        "service_agent": {"default": {"create": True, "read": "own", "edit": "own"}},
    },
    "teams": {t: {"label": {"en": t.capitalize(), "zh": t}} for t in TEAMS},
}}
ACCOUNT = {"entity": "account", "label": {"en": "Account", "zh": "客户"}, "title": "name",
           "fields": {"name": {"type": "string", "required": True},
                      "type": {"type": "picklist", "default": "prospect",
                               "choices": ["customer", "prospect", "partner"]}},
           "permissions": {"sales_rep": {"read": "all"}, "sales_manager": {"read": "all"}}}
OPPORTUNITY = {"entity": "opportunity", "label": {"en": "Opportunity", "zh": "商机"},
               "title": "name",
               "fields": {"name": {"type": "string", "required": True},
                          "account": {"type": "lookup", "to": "account"},
                          "amount": {"type": "currency", "min": 0},
                          "stage": {"type": "picklist", "default": "prospecting",
                                    "choices": ["prospecting", "proposal", "won", "lost"]},
                          "close_date": {"type": "date"}}}
#: (username, full name, roles, teams)
PEOPLE: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("admin", "Admin", ("admin",), ()),
    ("director", "Zhou Director", ("sales_director",), ()),
    ("manager", "Wang Manager", ("sales_manager",), ("east",)),
    ("alice", "Alice East", ("sales_rep",), ("east",)),
    ("bob", "Bob East", ("sales_rep",), ("east",)),
    ("carol", "Carol North", ("sales_rep",), ("north",)),
    ("agent", "Sun Agent", ("service_agent",), ()),
)
PASSWORD = "targets-pass-1"
#: the sales dashboard (the Targets card shows on it) with one report
REPORTS = """\
reports:
  deals_by_stage: {entity: opportunity, group_by: [stage], measures: [count], chart: bar}
dashboards:
  sales:
    label: {en: Sales, zh: 销售}
    roles: [sales_rep, sales_manager, sales_director]
    widgets: [{report: deals_by_stage}]
"""


def write_pack(folder: Path, targets_yaml: str | None = None) -> Path:
    """config.yaml, schemas/ and workflows/ of the small sales pack in `folder`."""
    schemas = folder / "schemas"
    write_schema(schemas, "_access", ACCESS)
    write_schema(schemas, "account", ACCOUNT)
    write_schema(schemas, "opportunity", OPPORTUNITY)
    shutil.copy(ROOT / "schemas" / "sales_target.yaml", schemas / "sales_target.yaml")
    (folder / "workflows").mkdir(parents=True, exist_ok=True)
    (folder / "workflows" / "targets.yaml").write_text(
        targets_yaml if targets_yaml is not None
        else (ROOT / "workflows" / "targets.yaml").read_text(encoding="utf-8"),
        encoding="utf-8")
    (folder / "reports").mkdir(parents=True, exist_ok=True)
    (folder / "reports" / "sales.yaml").write_text(REPORTS, encoding="utf-8")
    (folder / "config.yaml").write_text(
        f"schemas: schemas\nworkflows: workflows\nreports: reports\n"
        f"roles: [{', '.join(ROLES)}]\n"
        "migrations: migrations\nlogin_rate_limit: 1000 per minute\n"
        "task_queue: immediate\n", encoding="utf-8")
    return folder


def deployment(folder: Path, database_url: str) -> Context:
    """The small sales pack published to `database_url`, with PEOPLE. Caller disposes."""
    write_pack(folder)
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, full_name, roles, teams in PEOPLE:
            uid = create_user(conn, username, PASSWORD, list(roles), ROLES,
                              full_name=full_name)
            if teams:
                set_teams(conn, uid, list(teams), list(TEAMS))
    publish(ctx.engine, ctx.yaml_meta())
    return ctx


def records(ctx: Context) -> Records:
    """The records service of the live version with the built-in plugins (one per Context)."""
    found: Records | None = ctx.__dict__.get("_targets_records")
    if found is None:
        found = ctx.__dict__["_targets_records"] = Records(
            ctx.engine, build_models(ctx.yaml_meta()),
            plugins=make_plugin_manager(entry_points=False))
    return found


def uid(ctx: Context, username: str) -> int:
    from app.model.system import users

    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(users.c.id).where(users.c.username == username))
                   .scalar_one())


def actor(ctx: Context, username: str) -> Actor:
    roles = next(p[2] for p in PEOPLE if p[0] == username)
    return Actor(uid(ctx, username), username, roles)


def account(ctx: Context, owner: str = "admin", *, type: str = "prospect",
            created: datetime | None = None, name: str = "Acme") -> int:
    """An account owned by `owner` (created_at moved to `created` when given)."""
    rs = records(ctx)
    made = rs.create("account", {"name": name, "type": type, "owner": uid(ctx, owner)})
    if created is not None:
        table = rs.table("account")
        with ctx.engine.begin() as conn:
            conn.execute(table.update().where(table.c.id == made["id"])
                         .values(created_at=created))
    return int(made["id"])


def deal(ctx: Context, owner: str, amount: str | int | Decimal, close: date,
         stage: str = "won", **extra: Any) -> dict[str, Any]:
    return records(ctx).create("opportunity", {
        "name": f"Deal {amount}", "amount": amount, "stage": stage, "close_date": close,
        "owner": uid(ctx, owner), **extra})


def target(ctx: Context, metric: str, period: Period, value: Any, *, rep: str | None = None,
           team: str | None = None, by: Actor = SYSTEM) -> dict[str, Any]:
    """A sales target through the records service (owned by the rep it is for)."""
    field = "target_amount" if metric == "revenue" else "target_count"
    values: dict[str, Any] = {"metric": metric, "period_type": period.kind,
                              "period_start": period.start, field: value}
    if rep is not None:
        values["assignee"] = uid(ctx, rep)
        values["owner"] = uid(ctx, rep)
    if team is not None:
        values["team"] = team
    return records(ctx).create("sales_target", values, by)
