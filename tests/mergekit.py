"""Test kit for duplicate detection and merge (app/dedupe): a small pack (account, contact and
the records that point at them: activities, badges (master-detail), profiles (a unique link),
leads (a read-only link)) with workflows/duplicates.yaml and a few more rules, users of three
roles, and the records service with the built-in plugins. `default_pack_deployment` is the
shipped pack instead."""

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
from tests.factories import write_schema
from tests.webkit import ROOT, user_id

ROLES = ("admin", "sales_manager", "sales_rep")
#: (username, password, roles)
USERS = (("admin", "admin-pass-1", ["admin"]), ("manager", "manager-pass-1", ["sales_manager"]),
         ("rep", "rep-pass-12", ["sales_rep"]))
PASSWORDS = {u: p for u, p, _ in USERS}

S = {"type": "string", "max_length": 120}
PACK: dict[str, dict[str, Any]] = {
    "account": {"entity": "account", "label": {"en": "Account", "zh": "客户"}, "title": "name",
                "fields": {
                    "name": {**S, "required": True}, "city": S, "phone": {"type": "phone"},
                    "code": {**S, "unique": True}, "parent": {"type": "lookup", "to": "account"},
                    "contacts": {"type": "rollup", "entity": "contact", "via": "account",
                                 "op": "count"}},
                "permissions": {"sales_manager": {"merge": True}}},
    "contact": {"entity": "contact", "label": {"en": "Contact", "zh": "联系人"},
                "title": "last_name", "fields": {
                    "first_name": S, "last_name": {**S, "required": True},
                    "email": {"type": "email"}, "mobile": {"type": "phone"},
                    "title": S, "secret": {**S},
                    "account": {"type": "lookup", "to": "account"},
                    "reports_to": {"type": "lookup", "to": "contact"}},
                "permissions": {"sales_manager": {"merge": True, "hidden": ["secret"]}}},
    "activity": {"entity": "activity", "title": "subject", "fields": {
        "subject": {**S, "required": True},
        "related_account": {"type": "lookup", "to": "account"},
        "related_contact": {"type": "lookup", "to": "contact"}}},
    "badge": {"entity": "badge", "title": "number", "fields": {
        "contact": {"type": "master_detail", "to": "contact"}, "number": S}},
    "profile": {"entity": "profile", "title": "bio", "fields": {
        "contact": {"type": "lookup", "to": "contact", "unique": True}, "bio": S}},
    "lead": {"entity": "lead", "title": "company", "fields": {
        "company": S,
        "converted_contact": {"type": "lookup", "to": "contact", "read_only": True}}},
    "_access": {"access": {"roles": {
        "sales_manager": {"default": {"create": True, "read": "all", "edit": "all",
                                      "delete": "subordinates"}},
        "sales_rep": {"reports_to": "sales_manager",
                      "default": {"create": True, "read": "all", "edit": "own",
                                  "delete": "own"}}}}},
}
#: rules besides the shipped ones, one per normaliser
EXTRA_RULES = """duplicates:
  contact_last_name:
    entity: contact
    match: [{field: last_name, normalize: text}]
  contact_mobile:
    entity: contact
    match: [{field: mobile, normalize: phone}]
  account_city:
    entity: account
    match: [{field: city}]
  contact_secret:
    entity: contact
    match: [{field: secret}]
"""


def deployment(folder: Path, database_url: str, *, extra_rules: str = EXTRA_RULES) -> Context:
    """The small merge pack published with workflows/duplicates.yaml (and `extra_rules`), the
    USERS, and the immediate task queue. The caller disposes the Context."""
    for name, body in PACK.items():
        write_schema(folder / "schemas", name, body)
    flows = folder / "workflows"
    flows.mkdir(parents=True)
    shutil.copy(ROOT / "workflows" / "duplicates.yaml", flows / "duplicates.yaml")
    if extra_rules:
        (flows / "extra.yaml").write_text(extra_rules, encoding="utf-8")
    return _publish(folder, database_url)


def default_pack_deployment(folder: Path, database_url: str) -> Context:
    """The shipped default pack with workflows/duplicates.yaml, and USERS."""
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    (folder / "workflows").mkdir(parents=True)
    shutil.copy(ROOT / "workflows" / "duplicates.yaml", folder / "workflows" / "duplicates.yaml")
    return _publish(folder, database_url, roles=(
        "admin", "sales_director", "sales_manager", "sales_rep", "service_manager",
        "service_agent", "marketing"))


def _publish(folder: Path, database_url: str, roles: tuple[str, ...] = ROLES) -> Context:
    (folder / "config.yaml").write_text(
        f"schemas: schemas\nworkflows: workflows\nroles: [{', '.join(roles)}]\n"
        "migrations: migrations\nlogin_rate_limit: 1000 per minute\ntask_queue: immediate\n",
        encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, password, user_roles in USERS:
            create_user(conn, username, password, user_roles, ctx.settings.roles,
                        full_name=username.capitalize())
    publish(ctx.engine, ctx.yaml_meta())
    return ctx


def records(ctx: Context) -> Records:
    """The records service of the live version with the built-in plugins (one per Context)."""
    found: Records | None = ctx.__dict__.get("_merge_records")
    if found is None:
        found = ctx.__dict__["_merge_records"] = Records(
            ctx.engine, build_models(ctx.yaml_meta()),
            plugins=make_plugin_manager(entry_points=False))
    return found


def actor(ctx: Context, username: str) -> Actor:
    roles = next(r for u, _p, r in USERS if u == username)
    return Actor(user_id(ctx, username), username, tuple(roles))


def make(ctx: Context, entity: str, who: str | None = None, **values: Any) -> dict[str, Any]:
    """A record created through the service (by `who`, else the system)."""
    rs = records(ctx)
    return rs.create(entity, values) if who is None else rs.create(entity, values,
                                                                   actor(ctx, who))


def current(ctx: Context, entity: str, record_id: int) -> dict[str, Any]:
    """A record as stored now, deleted or not."""
    return records(ctx).get(entity, record_id, deleted=True)
