"""SQLAlchemy tables and ORM classes for one config version.

Every version gets a NEW DeclarativeBase (and so a new MetaData and registry): classes of an old
version are never mutated, so requests still running on it finish safely while the next request
uses the new classes. Formula fields become `column_property` SQL expressions, so they sort and
filter in the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from app.expr import parse
from app.fields import registry as default_registry
from app.fields.base import Registry
from app.meta.types import EntityDef, FieldDef, Meta
from app.model.system import users


def system_columns(table: str) -> list[sa.Column[Any]]:
    def user_fk(name: str) -> sa.Column[Any]:
        return sa.Column(
            name, sa.Integer,
            sa.ForeignKey("sys_user.id", ondelete="SET NULL", name=f"fk_{table}_{name}"),
        )

    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version", sa.Integer, nullable=False, default=1, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.current_timestamp()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.current_timestamp()),
        user_fk("created_by_id"),
        user_fk("updated_by_id"),
        user_fk("owner_id"),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
    ]


def field_columns(
    entity: EntityDef, meta: Meta, registry: Registry
) -> Iterator[tuple[FieldDef, sa.Column[Any]]]:
    for f in entity:
        col = registry.get(f.type).column(f, entity, meta)
        if col is not None and f.encrypted:  # ciphertext, whatever the type (app/crypto.py)
            col = sa.Column(col.name, sa.Text(), nullable=True)
        if col is not None:
            yield f, col


def index_name(table: str, column: str, unique: bool = False) -> str:
    """A deterministic index name within PostgreSQL's 63-character limit."""
    name = f"{'uq' if unique else 'ix'}_{table}_{column}"
    if len(name) > 63:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = f"{name[:54]}_{digest}"
    return name


def field_index(f: FieldDef, table: str, col: sa.Column[Any]) -> sa.Index | None:
    """Indexes are created here, by name, never by Column(index=/unique=), so migrations can
    find them again: unique and indexed fields, lookups, and autonumbers (unique)."""
    unique = bool(f.unique or f.type == "autonumber")
    col.index = None
    col.unique = None
    if unique or f.indexed or f.type in ("lookup", "master_detail", "user"):
        return sa.Index(index_name(table, col.name, unique), col.name, unique=unique)
    return None


def entity_table(
    entity: EntityDef, meta: Meta, metadata: sa.MetaData, registry: Registry
) -> sa.Table:
    columns: list[sa.Column[Any]] = system_columns(entity.table)
    indexes: list[sa.Index] = []
    for f, col in field_columns(entity, meta, registry):
        columns.append(col)
        idx = field_index(f, entity.table, col)
        if idx is not None:
            indexes.append(idx)
    return sa.Table(
        entity.table, metadata, *columns, *indexes,
        sa.Index(index_name(entity.table, "owner_id"), "owner_id"),
        sa.Index(index_name(entity.table, "deleted_at"), "deleted_at"),
    )


def formula_expression(
    f: FieldDef, entity: EntityDef, columns: dict[str, sa.ColumnElement[Any]], registry: Registry
) -> sa.ColumnElement[Any]:
    expr = parse(f.opt("expr"), list(columns))
    sql = expr.to_sql(columns)
    result = registry.get(f.opt("result"))
    if result.has_column and f.opt("result") not in ("boolean",):
        return sa.cast(sql, result.sa_type(f))
    return sql


@dataclass
class Models:
    """The tables and classes of one config version."""

    meta: Meta
    base: type[orm.DeclarativeBase]
    tables: dict[str, sa.Table]
    classes: dict[str, type[Any]]
    #: formula field -> its SQL expression over the entity's table
    formulas: dict[str, dict[str, sa.ColumnElement[Any]]]

    @property
    def metadata(self) -> sa.MetaData:
        return self.base.metadata

    def table(self, entity: str) -> sa.Table:
        return self.tables[entity]

    def cls(self, entity: str) -> type[Any]:
        return self.classes[entity]


def _class_name(entity: str) -> str:
    return "".join(part.capitalize() for part in entity.split("_"))


def build_models(meta: Meta, registry: Registry | None = None, *, orm_classes: bool = True
                 ) -> Models:
    """Tables, formula SQL and (unless `orm_classes` is False) ORM classes of one version.
    Schema changes need only the Core part, which is a fraction of the cost on large configs."""
    from app.meta.loader import gc_paused

    with gc_paused():
        return _build_models(meta, registry or default_registry, orm_classes)


def _build_models(meta: Meta, reg: Registry, orm_classes: bool) -> Models:

    class Base(orm.DeclarativeBase):
        pass

    users.to_metadata(Base.metadata)
    tables = {e.name: entity_table(e, meta, Base.metadata, reg) for e in meta}
    formulas: dict[str, dict[str, sa.ColumnElement[Any]]] = {}
    for e in meta:
        formulas[e.name] = formula_columns(e, tables[e.name], reg)
    classes: dict[str, type[Any]] = {}
    if not orm_classes:
        return Models(meta=meta, base=Base, tables=tables, classes=classes, formulas=formulas)
    for e in meta:
        table = tables[e.name]
        attrs: dict[str, Any] = {"__table__": table, "__entity__": e.name}
        for fname, sql in formulas[e.name].items():
            attrs[fname] = orm.column_property(sql.label(fname), deferred=False)
        classes[e.name] = type(_class_name(e.name), (Base,), attrs)
    for e in meta:
        _relationships(e, classes, tables)
    orm.configure_mappers()
    return Models(meta=meta, base=Base, tables=tables, classes=classes, formulas=formulas)


def formula_columns(
    entity: EntityDef, table: sa.Table, registry: Registry = default_registry
) -> dict[str, sa.ColumnElement[Any]]:
    """Formula SQL in dependency order, so a formula may use another formula."""
    columns: dict[str, sa.ColumnElement[Any]] = {}
    for f in entity:
        ftype = registry.get(f.type)
        if ftype.has_column:
            columns[f.name] = table.c[ftype.column_name(f)]
    pending = [f for f in entity if f.type == "formula"]
    out: dict[str, sa.ColumnElement[Any]] = {}
    while pending:
        progressed = False
        for f in list(pending):
            names = parse(f.opt("expr"), [*columns, *(p.name for p in pending)]).names
            if any(n in {p.name for p in pending} for n in names):
                continue
            sql = formula_expression(f, entity, columns, registry)
            columns[f.name] = sql
            out[f.name] = sql
            pending.remove(f)
            progressed = True
        if not progressed:  # a cycle: the config checks report it; build nothing for them
            break
    return out


def _relationships(
    e: EntityDef, classes: dict[str, type[Any]], tables: dict[str, sa.Table]
) -> None:
    cls = classes[e.name]
    for f in e:
        if f.type not in ("lookup", "master_detail"):
            continue
        target = f.opt("to")
        if target not in classes:
            continue
        fk_col = tables[e.name].c[f"{f.name}_id"]
        kwargs: dict[str, Any] = {"foreign_keys": [fk_col], "lazy": "select", "viewonly": True}
        if target == e.name:
            kwargs["remote_side"] = [tables[e.name].c.id]
        setattr(cls, f.name, orm.relationship(classes[target], **kwargs))
