"""What a write does besides its own row: autonumbers, roll-ups of parents, the audit trail.
All run on the operation's connection, inside its transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.fields import registry
from app.fields.computed import autonumber_scope, format_autonumber
from app.meta.types import EntityDef, FieldDef
from app.model.build import Models
from app.model.rollup import rollup_subquery
from app.model.system import audit, sequence_key, sequences


def next_number(conn: sa.Connection, scope: str) -> int:
    """Increment and return one autonumber counter, atomically (a row lock on PostgreSQL; the
    write transaction's lock on SQLite)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(sequences).values(scope=scope, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=[sequences.c.scope],
                                      set_={"value": sequences.c.value + 1})
    return int(conn.execute(stmt.returning(sequences.c.value)).scalar_one())


def autonumber(conn: sa.Connection, table: sa.Table, f: FieldDef, when: date) -> str:
    fmt = str(f.opt("format"))
    column = registry.get(f.type).column_name(f)
    counter = next_number(conn, sequence_key(table.name, column, autonumber_scope(fmt, when)))
    return format_autonumber(fmt, counter, when)


def rollup_parents(models: Models, child: str) -> list[tuple[EntityDef, FieldDef, FieldDef]]:
    """(parent entity, roll-up field, the child's link field) for every roll-up over `child`."""
    out = []
    for parent in models.meta:
        for f in parent:
            if f.type != "rollup" or f.opt("entity") != child:
                continue
            via = models.meta.entity(child).fields.get(str(f.opt("via")))
            if via is not None and f.name in models.tables[parent.name].c:
                out.append((parent, f, via))
    return out


def recompute_rollups(conn: sa.Connection, models: Models, child: str,
                      parent_ids: Mapping[str, Iterable[Any]], depth: int = 0) -> None:
    """Recompute the roll-ups over `child` on the parents `parent_ids` (link field -> ids), then
    the roll-ups over those parents on their own parents (roll-ups of roll-ups)."""
    if depth > 8:
        return
    child_def = models.meta.entity(child)
    for parent, f, via in rollup_parents(models, child):
        ids = sorted({int(i) for i in parent_ids.get(via.name, ()) if i is not None})
        if not ids:
            continue
        ptable = models.tables[parent.name]
        value = rollup_subquery(f, ptable, child_def, models.tables[child],
                                dict(models.formulas.get(child, {})))
        conn.execute(ptable.update().where(ptable.c.id.in_(ids)).values({f.name: value}))
        grand = _links_of(conn, models, parent, ids)
        if grand:
            recompute_rollups(conn, models, parent.name, grand, depth + 1)


def own_rollups(conn: sa.Connection, models: Models, entity: str, ids: list[int]) -> None:
    """Compute the roll-up fields of new rows (a new account has 0 opportunities, not NULL)."""
    e = models.meta.entity(entity)
    table = models.tables[entity]
    values = {}
    for f in e:
        child = models.meta.entities.get(str(f.opt("entity")))
        if f.type != "rollup" or child is None or f.name not in table.c \
                or f.opt("via") not in child.fields:
            continue
        values[f.name] = rollup_subquery(f, table, child, models.tables[child.name],
                                         dict(models.formulas.get(child.name, {})))
    if values:
        conn.execute(table.update().where(table.c.id.in_(ids)).values(values))


def _links_of(conn: sa.Connection, models: Models, entity: EntityDef, ids: list[int]
              ) -> dict[str, list[Any]]:
    """For the rows `ids` of `entity`: link field -> the parent ids, where a roll-up uses it."""
    links = {via.name: via for _, _, via in rollup_parents(models, entity.name)}
    if not links:
        return {}
    table = models.tables[entity.name]
    cols = {name: table.c[registry.get(f.type).column_name(f)] for name, f in links.items()}
    rows = conn.execute(sa.select(*cols.values()).where(table.c.id.in_(ids))).all()
    return {name: [row[i] for row in rows] for i, name in enumerate(cols)}


def link_values(models: Models, entity: str, *records: Mapping[str, Any]
                ) -> dict[str, list[Any]]:
    """Link field -> parent ids found in `records` (old and new values of a change)."""
    out: dict[str, list[Any]] = {}
    for _, _, via in rollup_parents(models, entity):
        out[via.name] = [r.get(via.name) for r in records]
    return out


def write_audit(conn: sa.Connection, *, entity: str, record_id: int, action: str,
                user_id: int | None, changes: Mapping[str, Any] | None, version: int | None
                ) -> None:
    conn.execute(audit.insert().values(
        entity=entity, record_id=record_id, action=action, user_id=user_id,
        changes=dict(changes) if changes is not None else None, version=version,
        at=datetime.now(UTC),
    ))
