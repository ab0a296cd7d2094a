"""Test kit for reports: the default CRM pack with the shipped reports/ (or given report YAML)
published, users of several roles, the records service as one of them, and a few records."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

from app.context import Context
from app.migrate.publish import publish
from app.model.build import build_models
from app.model.system import create_system_tables
from app.records import Actor, Records
from app.settings import load_settings
from app.users import create_user
from tests.dbtemplates import prefill
from tests.webkit import ROLES, ROOT, USERS, user_id

#: (username, password, roles, email) besides tests.webkit.USERS
MORE_USERS = (
    ("manager", "manager-pass-1", ["sales_manager"], "manager@example.com"),
    ("svcboss", "svcboss-pass-1", ["service_manager"], "svcboss@example.com"),
    ("svcboss2", "svcboss2-pass-1", ["service_manager"], None),
)


def report_deployment(folder: Path, database_url: str,
                      reports: dict[str, str] | None = None) -> Context:
    """The default pack with the shipped reports/ (or `reports`: file name -> YAML text),
    published once, with tests.webkit.USERS and MORE_USERS, the `immediate` task queue. The
    caller disposes the Context."""
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    if reports is None:
        shutil.copytree(ROOT / "reports", folder / "reports")
    else:
        (folder / "reports").mkdir(parents=True)
        for name, text in reports.items():
            (folder / "reports" / name).write_text(text, encoding="utf-8")
    (folder / "config.yaml").write_text(
        f"schemas: schemas\nreports: reports\nroles: [{', '.join(ROLES)}]\n"
        "migrations: migrations\nlogin_rate_limit: 1000 per minute\ntask_queue: immediate\n",
        encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    prefill(ctx, folder, _fill_reports, (USERS, MORE_USERS))
    return ctx


def _fill_reports(ctx: Context) -> None:
    """What `report_deployment` writes to its database (tests/dbtemplates.py copies it)."""
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, password, roles in USERS:
            create_user(conn, username, password, roles, ctx.settings.roles,
                        full_name=username.capitalize())
        for username, password, roles, email in MORE_USERS:
            create_user(conn, username, password, roles, ctx.settings.roles,
                        full_name=username.capitalize(), email=email)
    publish(ctx.engine, ctx.yaml_meta())


def records(ctx: Context, username: str | None = None) -> Records:
    """The records service of the live version, reading as `username` (None: the system)."""
    models = ctx.__dict__.get("_report_models")
    if models is None:
        models = ctx.__dict__["_report_models"] = build_models(ctx.yaml_meta())
    if username is None:
        return Records(ctx.engine, models)
    return Records(ctx.engine, models, actor=actor(ctx, username))


def actor(ctx: Context, username: str) -> Actor:
    roles = {u: r for u, _p, r in USERS} | {u: r for u, _p, r, _e in MORE_USERS}
    return Actor(user_id(ctx, username), username, tuple(roles[username]))


def deals(ctx: Context) -> dict[str, Any]:
    """Two accounts and seven opportunities: rep owns four, rep2 three (stages, amounts and
    close dates below); returns the ids."""
    rs = records(ctx)
    rep, rep2 = user_id(ctx, "rep"), user_id(ctx, "rep2")
    acme = rs.create("account", {"name": "Acme", "owner": rep})["id"]
    beta = rs.create("account", {"name": "Beta 北京", "owner": rep2})["id"]
    rows = [  # (name, account, owner, stage, amount, close date)
        ("A1", acme, rep, "prospecting", 100, date(2026, 1, 5)),
        ("A2", acme, rep, "proposal", 200, date(2026, 1, 31)),
        ("A3", acme, rep, "won", 300, date(2026, 2, 1)),
        ("A4", beta, rep, "won", 400, date(2026, 3, 31)),
        ("B1", beta, rep2, "won", 1000, date(2026, 3, 2)),
        ("B2", beta, rep2, "lost", 50, None),
        ("B3", beta, rep2, "qualification", None, date(2026, 4, 1)),
    ]
    ids = {}
    for name, account, owner, stage, amount, close in rows:
        values: dict[str, Any] = {"name": name, "account": account, "owner": owner,
                                  "stage": stage, "amount": amount, "close_date": close}
        if stage == "lost":
            values["loss_reason"] = "price"
        ids[name] = rs.create("opportunity", values)["id"]
    return {"acme": acme, "beta": beta, **ids}
