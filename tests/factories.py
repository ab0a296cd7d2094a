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

ROLES = ("admin", "sales_manager", "sales_rep")


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
