"""Archiving closed records older than a chosen age: preview, run, restore (no Flask).

    age = parse_age("365d")                                   # 30d, 8w, 18m, 2y
    p = preview(rs, admin, "case", age)                        # p.count, p.sample, p.cutoff
    run_id = start(rs, admin, "case", age, queue=ctx.queue, who=who)
    restore_run(rs, admin, run_id, who=who)                    # or restore_record(...)

Which records of an entity may be archived is config (`archiving:`, app/meta/archiving.py):
those matching its `when` whose `age_field` is before now minus the age. Archiving writes one
`sys_archived` row per record (app/model/archive.py) and leaves the record itself untouched;
everyday reads then leave it out (app/records/archived.py). Master-detail children (quote lines
of a quote) are archived with their parent, in the same run, and come back with it.

Only administrators (and the system) may archive or restore. A run of more than `QUEUE_ABOVE`
records goes to the task queue (`archive.run`, app/archive/tasks.py) when a queue is given; it
works in batches of `BATCH` records, one transaction each, and counts its progress on its
`sys_archive_run` row. Every run and restore is written to the security log.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app import clock, seclog
from app.i18n import _
from app.meta.archiving import SECTION, SYSTEM_DATES, ArchiveDef
from app.model.archive import (
    DONE,
    FAILED,
    QUEUED,
    RESTORED,
    RUNNING,
    archive_runs,
    archived,
)
from app.records import Actor, Forbidden, NotFound, RecordError, Records
from app.records.archived import forget, is_archived_clause
from app.records.attachments import aware

#: runs of more records than this go to the task queue (when one is given)
QUEUE_ABOVE = 2000
#: records archived per transaction
BATCH = 500
#: records a preview shows
SAMPLE = 10
#: the longest age: 100 years
MAX_AMOUNT = {"d": 36_500, "w": 5_200, "m": 1_200, "y": 100}
AGE = re.compile(r"^\s*(\d{1,5})\s*([dwmy])\s*$", re.IGNORECASE)
#: security log events
ARCHIVED_EVENT = "archive.run"
RESTORED_EVENT = "archive.restore"
seclog.EVENTS.setdefault(ARCHIVED_EVENT, lambda: _("Records archived"))
seclog.EVENTS.setdefault(RESTORED_EVENT, lambda: _("Archived records restored"))


class ArchiveError(RecordError):
    """An archiving request that cannot be done (a bad age, an entity not declared): 400."""


@dataclass(frozen=True)
class Age:
    amount: int
    unit: str  # d, w, m, y

    @property
    def text(self) -> str:
        return f"{self.amount}{self.unit}"

    def cutoff(self, now: datetime) -> datetime:
        """`now` minus this age (months and years by the calendar, the day kept or clamped)."""
        if self.unit in ("d", "w"):
            return now - timedelta(days=self.amount * (7 if self.unit == "w" else 1))
        months = self.amount * (12 if self.unit == "y" else 1)
        total = now.year * 12 + now.month - 1 - months
        year, month = divmod(total, 12)
        day = min(now.day, calendar.monthrange(year, month + 1)[1])
        return now.replace(year=year, month=month + 1, day=day)


def parse_age(text: str) -> Age:
    """`365d`, `8w`, `18m`, `2y` (days, weeks, months, years); ArchiveError otherwise."""
    match = AGE.match(str(text or ""))
    if match is None:
        raise ArchiveError(_("'%(age)s' is not an age: write a number and d (days), w (weeks), "
                             "m (months) or y (years), like 365d or 2y.", age=str(text)[:40]))
    amount, unit = int(match.group(1)), match.group(2).lower()
    if not 1 <= amount <= MAX_AMOUNT[unit]:
        raise ArchiveError(_("The age must be between 1 day and 100 years."))
    return Age(amount, unit)


@dataclass(frozen=True)
class Preview:
    entity: str
    age: Age
    cutoff: datetime
    count: int
    #: (id, title, age value) of the first records
    sample: list[tuple[int, str, Any]]


# --- what may be archived --------------------------------------------------------------------
def declared(rs: Records) -> Mapping[str, ArchiveDef]:
    """The entities the config lets be archived, by name."""
    return rs.meta.feature(SECTION)


def definition(rs: Records, entity: str) -> ArchiveDef:
    found = declared(rs).get(entity)
    if found is None:
        raise ArchiveError(_("%(entity)s records cannot be archived: the config's `archiving:` "
                             "does not name them.", entity=entity))
    return found


def must_admin(rs: Records, actor: Actor) -> None:
    if not rs.access(actor).unrestricted:
        raise Forbidden(_("Only administrators may archive and restore records."))


def _columns(rs: Records, entity: str) -> dict[str, sa.ColumnElement[Any]]:
    table = rs.table(entity)
    cols: dict[str, sa.ColumnElement[Any]] = {
        f: table.c[c] for f, c in rs.spec(entity).columns.items() if c in table.c}
    cols.update(rs.models.formulas.get(entity, {}))
    return cols


def _age_column(rs: Records, d: ArchiveDef) -> sa.ColumnElement[Any]:
    table = rs.table(d.entity)
    if d.age_field in SYSTEM_DATES:
        return table.c[d.age_field]
    return table.c[rs.spec(d.entity).columns[d.age_field]]


def _bound(rs: Records, d: ArchiveDef, cutoff: datetime) -> Any:
    f = rs.entity(d.entity).fields.get(d.age_field)
    return cutoff.date() if f is not None and f.type == "date" else cutoff


def _eligible(rs: Records, d: ArchiveDef, cutoff: datetime) -> list[sa.ColumnElement[bool]]:
    """Live records matching `when`, older than `cutoff`, not archived yet."""
    table = rs.table(d.entity)
    age = _age_column(rs, d)
    where: list[sa.ColumnElement[bool]] = [
        table.c.deleted_at.is_(None), age.is_not(None), age < _bound(rs, d, cutoff),
        sa.not_(is_archived_clause(table, d.entity))]
    if d.when:
        where.append(rs.spec(d.entity).expr(d.when).to_sql(_columns(rs, d.entity)))
    return where


# --- preview and run -------------------------------------------------------------------------
def preview(rs: Records, actor: Actor, entity: str, age: Age) -> Preview:
    """How many records a run would archive now, and the first few of them."""
    must_admin(rs, actor)
    d = definition(rs, entity)
    cutoff = age.cutoff(clock.now())
    where = _eligible(rs, d, cutoff)
    table = rs.table(entity)
    col = _age_column(rs, d)
    with rs.engine.connect() as conn:
        count = int(conn.execute(sa.select(sa.func.count()).select_from(table)
                                 .where(*where)).scalar_one())
        rows = conn.execute(sa.select(table.c.id, col.label("age")).where(*where)
                            .order_by(col, table.c.id).limit(SAMPLE)).all()
        titles = rs.titles(entity, [r.id for r in rows], conn)
    return Preview(entity, age, cutoff, count,
                   [(int(r.id), titles.get(r.id, f"#{r.id}"), r.age) for r in rows])


def start(rs: Records, actor: Actor, entity: str, age: Age, *, queue: Any = None,
          who: seclog.Who | None = None) -> int:
    """Archive what `preview` counts: a run row, then the run here or (more than QUEUE_ABOVE
    records and a `queue` given) on the task queue. Returns the run's id."""
    p = preview(rs, actor, entity, age)
    if p.count == 0:
        raise ArchiveError(_("No record is old enough to be archived."))
    queued = queue is not None and p.count > QUEUE_ABOVE
    with rs.transaction() as conn:
        run_id = int(conn.execute(archive_runs.insert().values(
            entity=entity, older_than=age.text, cutoff=p.cutoff,
            status=QUEUED if queued else RUNNING, total=p.count, done=0,
            created_by_id=actor.id, created_at=clock.now()).returning(archive_runs.c.id)
        ).scalar_one())
        seclog.record(conn, ARCHIVED_EVENT, who=who or _who(actor), entity=entity,
                      detail={"run": run_id, "older_than": age.text, "records": p.count,
                              "cutoff": p.cutoff})
    if queued:
        queue.enqueue_task("archive.run", run_id)
    else:
        execute(rs, run_id)
    return run_id


def execute(rs: Records, run_id: int) -> None:
    """Do (or finish) a run: batches of BATCH records until none is left."""
    with rs.transaction() as conn:
        run = conn.execute(sa.select(archive_runs).where(archive_runs.c.id == run_id)
                           .with_for_update()).first()
        if run is None or run.status not in (QUEUED, RUNNING):
            return
        conn.execute(archive_runs.update().where(archive_runs.c.id == run_id)
                     .values(status=RUNNING))
    try:
        d = definition(rs, run.entity)
        cutoff = aware(run.cutoff)
        while _batch(rs, d, cutoff, run_id, run.created_by_id):
            pass
    except Exception as exc:
        with rs.transaction() as conn:
            conn.execute(archive_runs.update().where(archive_runs.c.id == run_id).values(
                status=FAILED, finished_at=clock.now(), error=str(exc)[:2000]))
        raise
    finally:
        forget(rs)
    with rs.transaction() as conn:
        conn.execute(archive_runs.update().where(archive_runs.c.id == run_id).values(
            status=DONE, finished_at=clock.now()))


def _batch(rs: Records, d: ArchiveDef, cutoff: datetime, run_id: int, by: int | None) -> bool:
    """Archive up to BATCH records (with their master-detail children); False when none is
    left."""
    table = rs.table(d.entity)
    with rs.transaction() as conn:
        ids = [int(i) for i in conn.execute(
            sa.select(table.c.id).where(*_eligible(rs, d, cutoff)).order_by(table.c.id)
            .limit(BATCH)).scalars()]
        if not ids:
            return False
        now = clock.now()
        _mark(conn, d.entity, ids, now, by, run_id)
        for child, cids in _children(rs, conn, d.entity, ids, archived_too=False):
            _mark(conn, child, cids, now, by, run_id)
        conn.execute(archive_runs.update().where(archive_runs.c.id == run_id)
                     .values(done=archive_runs.c.done + len(ids)))
    return len(ids) == BATCH


def _mark(conn: sa.Connection, entity: str, ids: list[int], now: datetime, by: int | None,
          run_id: int) -> None:
    if ids:
        conn.execute(archived.insert(), [
            {"entity": entity, "record_id": i, "archived_at": now, "archived_by_id": by,
             "run_id": run_id} for i in ids])


def _children(rs: Records, conn: sa.Connection, entity: str, ids: list[int], *,
              archived_too: bool, depth: int = 0) -> list[tuple[str, list[int]]]:
    """(child entity, ids) of the live master-detail children of `ids`, and theirs; only the
    not yet archived ones unless `archived_too`."""
    out: list[tuple[str, list[int]]] = []
    if depth > 5 or not ids:
        return out
    for child in rs.meta:
        for f in child:
            if f.type != "master_detail" or f.opt("to") != entity \
                    or f.name not in rs.spec(child.name).columns:
                continue
            ctable = rs.table(child.name)
            link = ctable.c[rs.spec(child.name).columns[f.name]]
            stmt = sa.select(ctable.c.id).where(link.in_(ids), ctable.c.deleted_at.is_(None))
            if not archived_too:
                stmt = stmt.where(sa.not_(is_archived_clause(ctable, child.name)))
            cids = [int(i) for i in conn.execute(stmt).scalars()]
            if cids:
                out.append((child.name, cids))
                out += _children(rs, conn, child.name, cids, archived_too=archived_too,
                                 depth=depth + 1)
    return out


# --- restore ---------------------------------------------------------------------------------
def restore_run(rs: Records, actor: Actor, run_id: int, *, who: seclog.Who | None = None
                ) -> int:
    """Bring back every record a run archived (those still archived); how many."""
    must_admin(rs, actor)
    with rs.transaction() as conn:
        run = conn.execute(sa.select(archive_runs).where(archive_runs.c.id == run_id)).first()
        if run is None:
            raise NotFound(_("There is no archiving run #%(id)s.", id=run_id))
        if run.status in (QUEUED, RUNNING):
            raise ArchiveError(_("Run #%(id)s is still running; restore it when it has "
                                 "finished.", id=run_id))
        n = conn.execute(sa.select(sa.func.count()).select_from(archived).where(
            archived.c.run_id == run_id, archived.c.entity == run.entity)).scalar_one()
        conn.execute(archived.delete().where(archived.c.run_id == run_id))
        conn.execute(archive_runs.update().where(archive_runs.c.id == run_id).values(
            status=RESTORED, restored_at=clock.now(), restored_by_id=actor.id))
        seclog.record(conn, RESTORED_EVENT, who=who or _who(actor), entity=run.entity,
                      detail={"run": run_id, "records": int(n)})
    forget(rs)
    return int(n)


def restore_record(rs: Records, actor: Actor, entity: str, record_id: int, *,
                   who: seclog.Who | None = None) -> None:
    """Bring back one archived record (and the children archived with it)."""
    must_admin(rs, actor)
    rs.entity(entity)
    with rs.transaction() as conn:
        row = conn.execute(sa.select(archived.c.id, archived.c.run_id).where(
            archived.c.entity == entity, archived.c.record_id == record_id)).first()
        if row is None:
            raise NotFound(_("%(entity)s #%(id)s is not archived.",
                             entity=rs.entity(entity).label_for(actor.locale), id=record_id))
        conn.execute(archived.delete().where(archived.c.id == row.id))
        for child, cids in _children(rs, conn, entity, [record_id], archived_too=True):
            conn.execute(archived.delete().where(archived.c.entity == child,
                                                 archived.c.record_id.in_(cids),
                                                 archived.c.run_id.is_not_distinct_from(
                                                     row.run_id)))
        seclog.record(conn, RESTORED_EVENT, who=who or _who(actor), entity=entity,
                      record_id=record_id, detail={"run": row.run_id, "records": 1})
    forget(rs)


# --- reading runs ----------------------------------------------------------------------------
def runs(engine: sa.Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(archive_runs).order_by(archive_runs.c.id.desc()).limit(limit))]


def run_of(engine: sa.Engine, run_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(archive_runs).where(archive_runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(_("There is no archiving run #%(id)s.", id=run_id))
    return dict(row._mapping)


def _who(actor: Actor) -> seclog.Who:
    return seclog.Who(actor.id, actor.username)
