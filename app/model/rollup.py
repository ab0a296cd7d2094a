"""Roll-up summaries as SQL: one correlated subquery per roll-up field, used to backfill a new
roll-up column and (by the records service) to recompute a parent after its children change."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.expr import parse
from app.fields import registry
from app.meta.types import EntityDef, FieldDef


def child_columns(child: EntityDef, table: sa.Table) -> dict[str, sa.ColumnElement[Any]]:
    cols: dict[str, sa.ColumnElement[Any]] = {}
    for f in child:
        ftype = registry.get(f.type)
        if ftype.has_column and ftype.column_name(f) in table.c:
            cols[f.name] = table.c[ftype.column_name(f)]
    return cols


def rollup_subquery(
    f: FieldDef,
    parent: sa.Table,
    child: EntityDef,
    child_table: sa.Table,
    child_formulas: dict[str, sa.ColumnElement[Any]] | None = None,
) -> sa.ScalarSelect[Any]:
    """SELECT op(child.field) FROM child WHERE child.<via>_id = parent.id AND not deleted."""
    cols = child_columns(child, child_table)
    cols.update(child_formulas or {})
    op = f.opt("op")
    via = child.fields[f.opt("via")]
    link = child_table.c[registry.get(via.type).column_name(via)]
    if op == "count":
        agg: sa.ColumnElement[Any] = sa.func.count(child_table.c.id)
    else:
        target = cols[f.opt("field")]
        agg = sa.func.coalesce(getattr(sa.func, op)(target), 0) if op == "sum" else \
            getattr(sa.func, op)(target)
    conditions = [link == parent.c.id, child_table.c.deleted_at.is_(None)]
    if f.opt("where"):
        conditions.append(parse(f.opt("where"), list(cols)).to_sql(cols))
    return sa.select(agg).where(*conditions).scalar_subquery()
