"""Archived records in everyday reads: the one condition every list, search, board, related
list, report, export, "My work" and lookup picker adds beside `deleted_at IS NULL`.

    where += excluded(records, "case")            # [] when `case` has no archived rows at all

A record is archived while `sys_archived` (app/model/archive.py) holds (entity, record_id). The
condition is `NOT EXISTS (SELECT 1 FROM sys_archived WHERE entity = :e AND record_id = id)`,
a probe of the table's unique index per row. It is left out when the entity has no archived
rows at all (one indexed lookup, remembered by the records service for `TTL` seconds: a web
request makes one Records, so in practice once per request), so deployments that never archive
pay nothing. Administrators may ask for archived records too (`include=True`: "Show archived",
"include archived" in the global search); for anyone else it is ignored.

Detail pages still open archived records (`Records.get` does not exclude them); `info` gives
the banner's "Archived on ...".
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.model.archive import archived
from app.records.service import Records

#: seconds a Records remembers whether an entity has archived rows (a long-lived one, such as
#: the task queue's, sees a run within this time)
TTL = 2.0
_MEMO = "_crm_archived_any"
#: engines whose database has the table (a deployment that starts on new code before `crm
#: migrate` made it must not fail every list)
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


@dataclass(frozen=True)
class ArchivedInfo:
    """When, by whom and in which run a record was archived."""

    archived_at: datetime
    archived_by_id: int | None
    run_id: int | None


def may_see(records: Records) -> bool:
    """Whether the records service's actor may ask for archived records (administrators and
    the system)."""
    return bool(records.access().unrestricted)


def _table_ready(conn: sa.Connection) -> bool:
    engine = conn.engine
    if engine in _ready:
        return True
    if sa.inspect(conn).has_table(archived.name):
        _ready.add(engine)
        return True
    return False


def forget(records: Records) -> None:
    """Drop what `records` remembers (after it archived or restored records itself)."""
    vars(records).pop(_MEMO, None)


def any_archived(records: Records, entity: str) -> bool:
    """Whether `entity` has archived records at all (remembered for TTL seconds)."""
    memo: dict[str, tuple[bool, float]] = vars(records).setdefault(_MEMO, {})
    now = time.monotonic()
    known = memo.get(entity)
    if known is not None and now - known[1] < TTL:
        return known[0]
    with records.engine.connect() as conn:
        found = _table_ready(conn) and conn.execute(
            sa.select(archived.c.id).where(archived.c.entity == entity).limit(1)
        ).first() is not None
    memo[entity] = (found, now)
    return found


def is_archived_clause(table: sa.Table, entity: str) -> sa.ColumnElement[bool]:
    """EXISTS: the row of `table` (of `entity`) is archived."""
    return sa.exists(sa.select(archived.c.id).where(archived.c.entity == entity,
                                                    archived.c.record_id == table.c.id))


def excluded(records: Records, entity: str, include: bool = False
             ) -> list[sa.ColumnElement[bool]]:
    """The WHERE conditions that leave `entity`'s archived records out: [] when there are none,
    or when an administrator asked for them (`include`)."""
    if include and may_see(records):
        return []
    if not any_archived(records, entity):
        return []
    return [sa.not_(is_archived_clause(records.table(entity), entity))]


def info(records: Records, entity: str, record_id: int,
         conn: sa.Connection | None = None) -> ArchivedInfo | None:
    """When `entity` #`record_id` was archived (None: it is not)."""
    if not any_archived(records, entity):
        return None
    stmt = sa.select(archived.c.archived_at, archived.c.archived_by_id, archived.c.run_id
                     ).where(archived.c.entity == entity, archived.c.record_id == record_id)
    if conn is None:
        with records.engine.connect() as own:
            row = own.execute(stmt).first()
    else:
        row = conn.execute(stmt).first()
    if row is None:
        return None
    return ArchivedInfo(_aware(row.archived_at), row.archived_by_id, row.run_id)


def archived_ids(records: Records, entity: str, ids: list[int]) -> set[int]:
    """Those of `ids` that are archived (one query; none when the entity has none)."""
    if not ids or not any_archived(records, entity):
        return set()
    stmt = sa.select(archived.c.record_id).where(archived.c.entity == entity,
                                                 archived.c.record_id.in_(ids))
    with records.engine.connect() as conn:
        return {int(i) for i in conn.execute(stmt).scalars()}


def _aware(value: Any) -> Any:
    from app.records.attachments import aware

    return aware(value)
