"""Factories for tests: schema folders written from Python dicts, metas, and published DBs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import yaml

from app.meta.loader import load_meta
from app.meta.types import Meta
from app.migrate.publish import Published, publish

if TYPE_CHECKING:
    from app.context import Context

#: the roles of the shipped config.yaml (the default pack's access file names them all)
ROLES = ("admin", "sales_director", "sales_manager", "sales_rep", "service_manager",
         "service_agent", "marketing")
#: the small pack's access file: tests that are not about access let sales_rep (the role every
#: test config has) do everything
OPEN_ACCESS = {"access": {"roles": {r: {"default": {
    "create": True, "read": "all", "edit": "all", "delete": "all", "export": True,
    "import": True}} for r in ("sales_rep",)}}}


def write_schema(folder: Path, name: str, body: dict[str, Any] | str) -> Path:
    """Write one YAML file (a dict is dumped; a string is written as is)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    text = body if isinstance(body, str) else yaml.safe_dump(body, sort_keys=False,
                                                              allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def account(**extra_fields: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": {"type": "string", "required": True, "label": {"en": "Name", "zh": "名称"}},
        "industry": {"type": "picklist", "choices": ["tech", "retail", "finance"]},
        "employees": {"type": "integer", "min": 0},
        "website": {"type": "url"},
    }
    fields.update(extra_fields)
    return {"entity": "account", "label": {"en": "Account", "zh": "客户"}, "title": "name",
            "fields": fields}


def contact(**extra_fields: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "last_name": {"type": "string", "required": True},
        "email": {"type": "email"},
        "account": {"type": "lookup", "to": "account"},
    }
    fields.update(extra_fields)
    return {"entity": "contact", "title": "last_name", "fields": fields}


def small_pack(folder: Path, acc: dict[str, Any] | None = None,
               con: dict[str, Any] | None = None) -> Path:
    write_schema(folder, "account", acc or account())
    write_schema(folder, "contact", con or contact())
    write_schema(folder, "_access", OPEN_ACCESS)
    return folder


def meta_of(folder: Path, *more: Path) -> Meta:
    return load_meta([folder, *more], ROLES)


def apply(engine: sa.Engine, folder: Path, *more: Path, **kw: Any) -> Published:
    return publish(engine, meta_of(folder, *more), **kw)


def insert(engine: sa.Engine, table: str, *rows: dict[str, Any]) -> None:
    """Insert rows; all must name the same columns (executemany takes the first row's)."""
    assert all(set(r) == set(rows[0]) for r in rows), "rows name different columns"
    with engine.begin() as conn:
        conn.execute(sa.table(table, *(sa.column(k) for k in rows[0])).insert(), list(rows))


def rows(engine: sa.Engine, table: str, *cols: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        t = sa.table(table, sa.column("id"), *(sa.column(c) for c in cols))
        return [tuple(r) for r in conn.execute(
            sa.select(t.c.id, *(t.c[c] for c in cols)).order_by(t.c.id))]


def columns(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def live_context(folder: Path, database_url: str, username: str, password: str,
                 role: str) -> Context:
    """A deployment in `folder`: config.yaml, the small pack published, and one user.
    The caller disposes it."""
    from app.context import Context
    from app.model.system import create_system_tables
    from app.settings import load_settings
    from app.users import create_user

    (folder / "config.yaml").write_text("schemas: schemas\nroles: [sales_rep]\n")
    small_pack(folder / "schemas")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "k"}))
    publish(ctx.engine, meta_of(folder / "schemas"))
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        create_user(conn, username, password, [role], ctx.settings.roles)
    return ctx


def service(engine: sa.Engine, folder: Path, plugins: Any = None) -> Any:
    """Publish the schemas in `folder` (with system tables and one user) and return the
    records service of that version."""
    from app.model.build import build_models
    from app.model.system import create_system_tables
    from app.records import Records

    if not (folder / "_access.yaml").exists():  # not about access: sales_rep may do anything
        write_schema(folder, "_access", OPEN_ACCESS)
    with engine.begin() as conn:
        create_system_tables(conn)
    published = apply(engine, folder)
    del published
    return Records(engine, build_models(meta_of(folder)), plugins=plugins)


def make_user(engine: sa.Engine, username: str, roles: tuple[str, ...] = ("sales_rep",)) -> Any:
    """A user in sys_user and the Actor acting as them."""
    from app.records import Actor
    from app.users import create_user

    with engine.begin() as conn:
        uid = create_user(conn, username, "password-123", list(roles), ROLES)
    return Actor(uid, username, roles)


def deal(**extra_fields: Any) -> dict[str, Any]:
    """An opportunity-like entity with a picklist stage, a rule, conditional fields, a
    formula, an autonumber and a lookup to account."""
    fields: dict[str, Any] = {
        "name": {"type": "string", "required": True, "label": {"en": "Name", "zh": "名称"}},
        "number": {"type": "autonumber", "format": "D-{0000}"},
        "account": {"type": "lookup", "to": "account"},
        "stage": {"type": "picklist", "choices": ["open", "won", "lost"], "default": "open"},
        "amount": {"type": "currency", "min": 0},
        "probability": {"type": "percent", "default": 10},
        "expected": {"type": "formula", "expr": "amount * probability / 100",
                     "result": "currency"},
        "close_date": {"type": "date"},
        "loss_reason": {"type": "string", "visible_when": "stage == 'lost'",
                        "required_when": "stage == 'lost'"},
    }
    fields.update(extra_fields)
    return {"entity": "deal", "title": "name", "fields": fields, "rules": [
        {"name": "won_needs_date", "when": "stage == 'won' and close_date == null",
         "field": "close_date",
         "message": {"en": "A won deal needs a close date", "zh": "赢单必须填写成交日期"}}]}


def rollup_account() -> dict[str, Any]:
    return account(
        deals={"type": "rollup", "entity": "deal", "via": "account", "op": "count"},
        won={"type": "rollup", "entity": "deal", "via": "account", "op": "sum",
             "field": "amount", "where": "stage == 'won'"},
    )
