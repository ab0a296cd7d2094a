"""Test kit for stage machines: the default CRM pack with workflows/sales.yaml (or other
workflows YAML) published, a sales manager besides tests.webkit.USERS, and the records service
with the built-in plugins."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from app.context import Context
from app.migrate.publish import publish
from app.model.build import build_models
from app.model.system import create_system_tables
from app.plugins import make_plugin_manager
from app.records import Actor, Records
from app.settings import load_settings
from app.users import create_user
from tests.dbtemplates import prefill
from tests.webkit import ROLES, ROOT, USERS, user_id

SALES = (ROOT / "workflows" / "sales.yaml").read_text(encoding="utf-8")
#: (username, password, roles) of the users a stage deployment has: tests.webkit.USERS and a
#: sales manager
STAGE_USERS = (*USERS, ("manager", "manager-pass-1", ["sales_manager"]))


def stage_deployment(folder: Path, database_url: str, workflows: str = SALES) -> Context:
    """The default pack with `workflows` as workflows/sales.yaml, published once, with
    STAGE_USERS and the `immediate` task queue (queued actions run at once). The caller
    disposes the Context."""
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    (folder / "workflows").mkdir(parents=True)
    (folder / "workflows" / "sales.yaml").write_text(workflows, encoding="utf-8")
    (folder / "config.yaml").write_text(
        f"schemas: schemas\nworkflows: workflows\nroles: [{', '.join(ROLES)}]\n"
        "migrations: migrations\nlogin_rate_limit: 1000 per minute\ntask_queue: immediate\n",
        encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    prefill(ctx, folder, _fill_stages, STAGE_USERS)
    return ctx


def _fill_stages(ctx: Context) -> None:
    """What `stage_deployment` writes to its database (tests/dbtemplates.py copies it)."""
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, password, roles in STAGE_USERS:
            create_user(conn, username, password, roles, ctx.settings.roles,
                        full_name=username.capitalize())
    publish(ctx.engine, ctx.yaml_meta())


def records(ctx: Context) -> Records:
    """The records service of the live version with the built-in plugins (one per Context)."""
    found: Records | None = ctx.__dict__.get("_stage_records")
    if found is None:
        found = ctx.__dict__["_stage_records"] = Records(
            ctx.engine, build_models(ctx.yaml_meta()),
            plugins=make_plugin_manager(entry_points=False))
    return found


def actor(ctx: Context, username: str, *roles: str) -> Actor:
    return Actor(user_id(ctx, username), username, roles)


def account(ctx: Context, who: Actor | None = None, name: str = "Acme") -> int:
    """An account (owned by `who`, so they may link to it)."""
    rec = records(ctx)
    made = rec.create("account", {"name": name}) if who is None \
        else rec.create("account", {"name": name}, who)
    return int(made["id"])


def deal(ctx: Context, who: Actor | None = None, **values: Any) -> dict[str, Any]:
    """An opportunity created through the service by `who` (default: the system), with an
    account of theirs; prospecting unless `stage` is given."""
    rec = records(ctx)
    body = {"name": "Big deal", "account": account(ctx, who), **values}
    if who is None:
        return rec.create("opportunity", body)
    return rec.create("opportunity", body, who)
