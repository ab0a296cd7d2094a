""""Not duplicates": pairs of records a user said are different, so duplicate detection stops
offering them together (`sys_dedupe_dismissed`, one row per pair, smaller id first)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import combinations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.i18n import _
from app.model.dedupe import dismissed
from app.records import Actor, RecordError, Records

#: most records one dismissal names (every pair of them is kept)
MAX_RECORDS = 20


def dismissed_pairs(conn: sa.Connection, entity: str, record_id: int | None = None
                    ) -> set[tuple[int, int]]:
    """The dismissed pairs of `entity` (those with `record_id`), as (smaller, larger) ids."""
    stmt = sa.select(dismissed.c.low_id, dismissed.c.high_id).where(dismissed.c.entity == entity)
    if record_id is not None:
        stmt = stmt.where(sa.or_(dismissed.c.low_id == record_id,
                                 dismissed.c.high_id == record_id))
    return {(int(r.low_id), int(r.high_id)) for r in conn.execute(stmt)}


def dismiss(rs: Records, actor: Actor, entity: str, ids: Sequence[int]) -> int:
    """Mark every pair of `ids` as not duplicates (the `merge` grant, and each record readable
    by `actor`); returns how many pairs were new."""
    from app.dedupe.find import load, may_merge

    may_merge(rs, actor, entity)
    wanted = sorted({int(i) for i in ids})
    if any(not 0 < i < 2**31 for i in wanted):
        raise RecordError(_("Record ids are whole numbers from 1 to 2147483647."))
    if len(wanted) < 2:
        raise RecordError(_("Name at least two records that are not duplicates."))
    if len(wanted) > MAX_RECORDS:
        raise RecordError(_("Name at most %(n)s records at a time.", n=MAX_RECORDS))
    found = load(rs, actor, entity, wanted)
    missing = [i for i in wanted if i not in found]
    if missing:
        from app.records import NotFound

        raise NotFound(_("%(entity)s #%(id)s does not exist or was deleted.",
                         entity=rs.entity(entity).label_for(actor.locale), id=missing[0]))
    now = datetime.now(UTC)
    made = 0
    with rs.transaction() as conn:
        have = dismissed_pairs(conn, entity)
        rows = [{"entity": entity, "low_id": a, "high_id": b, "dismissed_by_id": actor.id,
                 "dismissed_at": now} for a, b in combinations(wanted, 2) if (a, b) not in have]
        if rows:  # a pair another user dismissed meanwhile is skipped, not an error
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(dialect.insert(dismissed).on_conflict_do_nothing(), rows)
            made = len(rows)
    return made
