"""What one user should work on now: the queries behind the "My work" home page.

Each function takes the records service and a sys_user id and runs small, bounded queries (by
owner index, by date, with a LIMIT), so the page stays fast on large tables. The shapes they rely
on come from the default pack and are found by name: an `activity` entity with a `status`
picklist, a due date or time field and user fields (`assigned_to`); an `opportunity` entity with a
`stage` picklist, a close date and a money field. A config without them simply gets fewer
sections (the functions return None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from app.meta.types import EntityDef, FieldDef
from app.model.system import audit
from app.records.archived import excluded
from app.records.service import Records

ACTIVITY = "activity"
DEAL = "opportunity"
#: activity status values that mean "nothing left to do" (the first present one is "done")
CLOSED_STATUSES = ("done", "completed", "cancelled", "canceled")
#: opportunity stages that mean the deal is decided
CLOSED_STAGES = ("won", "lost", "closed_won", "closed_lost")
#: names of an activity's due field, in order of preference
DUE_FIELDS = ("due_at", "due_date", "due")
CLOSE_FIELDS = ("close_date", "expected_close_date")
#: "My records" counts stop here (shown as 10000+): counting is then cheap for anyone
COUNT_CAP = 10_000


@dataclass(frozen=True)
class ActivityShape:
    """Where an activity keeps its status, due date and assignees."""

    entity: EntityDef
    status: FieldDef
    due: FieldDef
    #: user fields naming who must do it (besides the owner)
    assignees: tuple[FieldDef, ...]
    done: str
    closed: tuple[str, ...]


def activity_shape(records: Records) -> ActivityShape | None:
    e = records.meta.entities.get(ACTIVITY)
    if e is None:
        return None
    status = e.fields.get("status")
    due = next((e.fields[n] for n in DUE_FIELDS if n in e.fields), None)
    if status is None or status.type != "picklist" or due is None \
            or due.type not in ("date", "datetime"):
        return None
    values = [c.value for c in status.choices]
    closed = tuple(v for v in CLOSED_STATUSES if v in values)
    if not closed:
        return None
    assignees = tuple(f for f in e if f.type == "user"
                      and f.name in records.spec(ACTIVITY).columns)
    return ActivityShape(e, status, due, assignees, closed[0], closed)


@dataclass
class Agenda:
    """My open activities due up to today: overdue first, then today's, oldest due first."""

    shape: ActivityShape
    overdue: list[dict[str, Any]] = field(default_factory=list)
    today: list[dict[str, Any]] = field(default_factory=list)
    #: how many open activities are due by today in all (the lists stop at the limit)
    total: int = 0


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def my_activities(records: Records, user_id: int, now: datetime | None = None, *,
                  limit: int = 50) -> Agenda | None:
    """Activities owned by or assigned to `user_id`, not closed, due today or earlier."""
    shape = activity_shape(records)
    if shape is None or not records.access().allows(ACTIVITY, "read"):
        return None
    now = _utc(now or datetime.now(UTC))
    today = now.date()
    table = records.table(ACTIVITY)
    columns = records.spec(ACTIVITY).columns
    status = table.c[columns[shape.status.name]]
    due = table.c[columns[shape.due.name]]
    mine = [table.c.owner_id == user_id]
    mine += [table.c[columns[f.name]] == user_id for f in shape.assignees]
    if shape.due.type == "date":
        start_tomorrow: Any = today + timedelta(days=1)
        start_today: Any = today
    else:
        start_today = datetime.combine(today, time(), tzinfo=UTC)
        start_tomorrow = start_today + timedelta(days=1)
    where = sa.and_(table.c.deleted_at.is_(None), sa.or_(*mine),
                    sa.or_(status.is_(None), status.not_in(shape.closed)),
                    due.is_not(None), due < start_tomorrow,
                    *_readable(records, ACTIVITY))
    stmt = records.select(ACTIVITY).where(where).order_by(due, table.c.id).limit(limit)
    count = sa.select(sa.func.count()).select_from(table).where(where)
    with records.engine.connect() as conn:
        rows = [records.to_record(r) for r in conn.execute(stmt)]
        total = int(conn.execute(count).scalar_one())
    agenda = Agenda(shape, total=total)
    for row in rows:
        when = _utc(row[shape.due.name])
        (agenda.overdue if when < start_today else agenda.today).append(row)
    return agenda


@dataclass(frozen=True)
class Pipeline:
    """My open deals closing in a period, with their number and summed amount."""

    entity: EntityDef
    close: FieldDef
    amount: FieldDef | None
    rows: list[dict[str, Any]]
    count: int
    total: Any


def month_bounds(day: date) -> tuple[date, date]:
    """The first day of `day`'s month and the first day of the next month."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following


def my_deals(records: Records, user_id: int, today: date | None = None, *,
             limit: int = 20) -> Pipeline | None:
    """Opportunities owned by `user_id`, not won or lost, closing this month."""
    e = records.meta.entities.get(DEAL)
    if e is None or not records.access().allows(DEAL, "read"):
        return None
    e = records.visible_entity(DEAL)
    stage = e.fields.get("stage")
    close = next((e.fields[n] for n in CLOSE_FIELDS if n in e.fields), None)
    if stage is None or close is None or close.type != "date":
        return None
    columns = records.spec(DEAL).columns
    amount = next((f for f in e if f.type == "currency" and f.name in columns), None)
    table = records.table(DEAL)
    first, following = month_bounds(today or datetime.now(UTC).date())
    close_col = table.c[columns[close.name]]
    stage_col = table.c[columns[stage.name]]
    closed = [v for v in CLOSED_STAGES if v in {c.value for c in stage.choices}]
    where = sa.and_(table.c.deleted_at.is_(None), table.c.owner_id == user_id,
                    sa.or_(stage_col.is_(None), stage_col.not_in(closed)),
                    close_col >= first, close_col < following, *_readable(records, DEAL))
    stmt = records.select(DEAL).where(where).order_by(close_col, table.c.id).limit(limit)
    sums: list[sa.ColumnElement[Any]] = [sa.func.count()]
    if amount is not None:
        sums.append(sa.func.sum(table.c[columns[amount.name]]))
    with records.engine.connect() as conn:
        rows = [records.to_record(r) for r in conn.execute(stmt)]
        agg = conn.execute(sa.select(*sums).select_from(table).where(where)).one()
    total = agg[1] if amount is not None else None
    return Pipeline(e, close, amount, rows, int(agg[0]), total if total is not None else 0)


@dataclass(frozen=True)
class Recent:
    """A record I created or changed lately."""

    entity: EntityDef
    id: int
    title: str
    action: str
    at: datetime


def recent(records: Records, user_id: int, *, limit: int = 10, scan: int = 500) -> list[Recent]:
    """The latest `limit` distinct records `user_id` wrote (from the audit trail, newest
    first), skipping deleted records and entities the config no longer has. Only the last
    `scan` audit rows of the user are read."""
    stmt = (sa.select(audit.c.entity, audit.c.record_id, audit.c.action, audit.c.at)
            .where(audit.c.user_id == user_id, audit.c.record_id.is_not(None))
            .order_by(audit.c.id.desc()).limit(scan))
    picked: dict[tuple[str, int], tuple[str, datetime]] = {}
    with records.engine.connect() as conn:
        for row in conn.execute(stmt):
            key = (str(row.entity), int(row.record_id))
            if row.entity in records.meta.entities and key not in picked \
                    and records.access().allows(str(row.entity), "read"):
                picked[key] = (str(row.action), row.at)
            if len(picked) >= limit * 2:
                break
        live = _live_titles(records, conn, list(picked))
    out = []
    for (entity, rid), (action, at) in picked.items():
        if (entity, rid) in live:
            out.append(Recent(records.entity(entity), rid, live[(entity, rid)], action, at))
    return out[:limit]


def _live_titles(records: Records, conn: sa.Connection, keys: Sequence[tuple[str, int]]
                 ) -> dict[tuple[str, int], str]:
    by_entity: dict[str, list[int]] = {}
    for entity, rid in keys:
        by_entity.setdefault(entity, []).append(rid)
    out: dict[tuple[str, int], str] = {}
    for entity, ids in by_entity.items():
        table = records.table(entity)
        rows = conn.execute(sa.select(table.c.id).where(
            table.c.id.in_(ids), table.c.deleted_at.is_(None),
            *_readable(records, entity))).scalars().all()
        titles = records.titles(entity, list(rows), conn)
        out.update({(entity, int(i)): titles[int(i)].strip() for i in rows})
    return out


def _readable(records: Records, entity: str) -> list[sa.ColumnElement[bool]]:
    """The access condition on `entity` for the records service's actor, as a WHERE list
    (archived records left out)."""
    where = records.readable(entity)
    return excluded(records, entity) + ([] if where is None else [where])


def my_counts(records: Records, user_id: int, entities: Sequence[str] | None = None, *,
              cap: int = COUNT_CAP) -> list[tuple[EntityDef, int, bool]]:
    """(entity, how many live records `user_id` owns, whether there are more than that) for
    each entity: one query, by the owner index, counting at most `cap` + 1 rows per entity."""
    names = [n for n in (entities or [e.name for e in records.meta])
             if n in records.meta.entities and records.access().allows(n, "read")]
    if not names:
        return []
    parts = []
    for i, name in enumerate(names):
        table = records.table(name)
        mine = (sa.select(table.c.id).where(table.c.owner_id == user_id,
                                             table.c.deleted_at.is_(None),
                                             *excluded(records, name))
                .limit(cap + 1).subquery())
        parts.append(sa.select(sa.literal(i).label("i"), sa.func.count().label("n"))
                     .select_from(mine))
    with records.engine.connect() as conn:
        counts = {int(r.i): int(r.n) for r in conn.execute(sa.union_all(*parts))}
    return [(records.entity(n), min(counts.get(i, 0), cap), counts.get(i, 0) > cap)
            for i, n in enumerate(names)]
