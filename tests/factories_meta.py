"""Hand-built metadata and small harnesses for field type tests.

`make_field` builds a FieldDef the way the loader does (type options normalised by the type);
`make_entity` / `make_meta` build the minimal config `check()` needs; `bind`, `api_load`,
`api_dump` and `create_sql` put a field type's form field, API field and column to work.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import marshmallow
import sqlalchemy as sa
import wtforms
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.datastructures import MultiDict

from app.fields import registry
from app.meta.types import EntityDef, FieldDef, Meta, freeze

_FIELD_ATTRS = {f.name for f in dataclasses.fields(FieldDef)} - {"name", "type", "options"}


def make_field(name: str, type: str, **kw: Any) -> FieldDef:
    """A FieldDef: FieldDef attributes by keyword, anything else is a type option."""
    attrs = {k: v for k, v in kw.items() if k in _FIELD_ATTRS}
    options = {k: v for k, v in kw.items() if k not in _FIELD_ATTRS}
    options = registry.get(type).normalize_options(options)
    return FieldDef(name=name, type=type, options=freeze(options), **attrs)


def make_entity(name: str, *fields: FieldDef) -> EntityDef:
    return EntityDef(
        name=name,
        label={"en": name.capitalize()},
        plural={"en": name.capitalize() + "s"},
        title=None,
        fields={f.name: f for f in fields},
    )


def make_meta(*entities: EntityDef) -> Meta:
    return Meta(entities={e.name: e for e in entities})


def check(
    f: FieldDef, *others: EntityDef, entity: str = "deal"
) -> list[tuple[str, str, str | None]]:
    """Run the type's check on `f` inside entity `entity`, with `others` in the config."""
    here = make_entity(entity, f)
    meta = make_meta(here, *others)
    return [(p.code, p.message, p.option) for p in registry.get(f.type).check(f, here, meta)]


def bind(f: FieldDef, data: list[tuple[str, str]] | None = None, locale: str = "en") -> Any:
    """The form field of `f` bound in a one-field form, filled from `data` (name `x`)."""
    unbound = registry.get(f.type).form_field(f, locale)
    form_cls = type("OneFieldForm", (wtforms.Form,), {"x": unbound})
    form = form_cls(MultiDict(data) if data is not None else None)
    return form


def _schema(f: FieldDef) -> marshmallow.Schema:
    return marshmallow.Schema.from_dict({"x": registry.get(f.type).api_field(f)})()


def api_load(f: FieldDef, payload: dict[str, Any]) -> dict[str, Any]:
    return _schema(f).load(payload)


def api_dump(f: FieldDef, value: Any) -> dict[str, Any]:
    return _schema(f).dump({"x": value})


DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}


def table_for(f: FieldDef, entity: str = "deal", *targets: str) -> sa.Table:
    """`ent_<entity>` with an id and the column of `f`, in a MetaData that also holds
    `ent_<target>` tables and `sys_user` for foreign keys."""
    md = sa.MetaData()
    for target in (*targets, "user"):
        name = "sys_user" if target == "user" else f"ent_{target}"
        if name not in md.tables:
            sa.Table(name, md, sa.Column("id", sa.Integer, primary_key=True))
    here = make_entity(entity, f)
    col = registry.get(f.type).column(f, here, make_meta(here))
    cols = [] if col is None else [col]
    return sa.Table(here.table, md, sa.Column("id", sa.Integer, primary_key=True), *cols)


def create_sql(table: sa.Table, dialect: str) -> str:
    """CREATE TABLE and CREATE INDEX statements, one string, whitespace squeezed."""
    parts = [str(sa.schema.CreateTable(table).compile(dialect=DIALECTS[dialect]))]
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        parts.append(str(sa.schema.CreateIndex(index).compile(dialect=DIALECTS[dialect])))
    return " ".join(" ".join(parts).split())
