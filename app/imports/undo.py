"""Undoing an import: the records it created go to the recycle bin (soft delete through the
records service, in batches), the records it updated get their earlier values back, unless
someone changed them since the import (their version moved on): those are left as they are
and named in the undo report, as are records the user may not delete or change. The import
ends `undone`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app import crypto
from app.i18n import _, use_locale
from app.imports import jobs
from app.imports.options import SetupProblem
from app.imports.run import UNDO, may_import
from app.model.imports import CREATED, DONE, FAILED, RUNNING, UNDONE, UPDATED
from app.records.bulk_delete import delete_many
from app.records.change import Actor
from app.records.errors import RecordError

if TYPE_CHECKING:
    from app.records.service import Records

log = logging.getLogger(__name__)
#: records deleted per transaction
CHUNK = 500
#: sentences an undo report keeps (the rest are counted)
REPORT_LIMIT = 1000


def undo(records: Records, actor: Actor, import_id: int) -> jobs.ImportJob:
    """Undo a finished (or failed) run of an import; see the module's docstring."""
    job = jobs.get(records.engine, import_id, actor)
    may_import(records, job.entity, actor)
    if not job.written:
        raise SetupProblem(_("Only an import that wrote records can be undone."))
    with records.engine.begin() as conn:
        if not jobs.claim(conn, import_id, (DONE, FAILED), RUNNING, mode=UNDO):
            raise SetupProblem(_("This import is running or was undone already."))
    report: list[str] = []
    try:
        with use_locale(actor.locale):
            counts = _undo(records, actor, job, report)
    except Exception:
        log.exception("undo of import %s failed", import_id)
        with records.engine.begin() as conn:
            jobs.update(conn, import_id, status=FAILED, mode="run",
                        undo_report=[*report, _("The undo stopped on an unexpected error; "
                                                "try it again.")])
        raise
    if len(report) > REPORT_LIMIT:
        report = [*report[:REPORT_LIMIT],
                  _("... and %(count)s more.", count=len(report) - REPORT_LIMIT)]
    summary = _("Undone: %(deleted)s record(s) deleted, %(restored)s restored.",
                deleted=counts[0], restored=counts[1])
    with records.engine.begin() as conn:
        jobs.update(conn, import_id, status=UNDONE, undone_at=datetime.now(UTC),
                    undone_by_id=actor.id, undo_report=[summary, *report])
    return jobs.get(records.engine, import_id, actor)


def _undo(records: Records, actor: Actor, job: jobs.ImportJob, report: list[str]
          ) -> tuple[int, int]:
    entity = job.entity
    label = records.entity(entity).label_for(actor.locale)
    deleted = restored = 0
    after = 0
    while True:
        with records.engine.connect() as conn:
            page = jobs.tags(conn, job.id, CREATED, after=after, limit=CHUNK)
        if not page:
            break
        after = page[-1]["id"]
        changed = _changed_since(records, entity, page)
        try:
            outcome = delete_many(records, entity, [t["record_id"] for t in page], actor)
        except RecordError as exc:  # may not delete this entity at all
            report.append(exc.message)
            break
        deleted += len(outcome.deleted)
        rows = {t["record_id"]: t["row_number"] for t in page}
        for record_id in sorted(changed & set(outcome.deleted), key=rows.__getitem__):
            report.append(_("Row %(row)s, %(entity)s #%(id)s: %(reason)s", row=rows[record_id],
                            entity=label, id=record_id, reason=_(
                                "it was changed since the import; it is in the recycle bin "
                                "with those changes.")))
        for record_id, message in outcome.failed.items():
            report.append(_("Row %(row)s, %(entity)s #%(id)s: %(reason)s", row=rows[record_id],
                            entity=label, id=record_id, reason=message))
    after = 0
    while True:
        with records.engine.connect() as conn:
            page = jobs.tags(conn, job.id, UPDATED, after=after, limit=CHUNK)
        if not page:
            break
        after = page[-1]["id"]
        for tag in page:
            problem = _restore(records, actor, entity, tag)
            if problem is None:
                restored += 1
            else:
                report.append(_("Row %(row)s, %(entity)s #%(id)s: %(reason)s",
                                row=tag["row_number"], entity=label, id=tag["record_id"],
                                reason=problem))
    return deleted, restored


def _changed_since(records: Records, entity: str, page: list[dict[str, Any]]) -> set[int]:
    """The live records of `page` (tags of created records) someone changed since the import
    wrote them (their version moved on)."""
    table = records.table(entity)
    wrote = {int(t["record_id"]): t["version"] for t in page}
    with records.engine.connect() as conn:
        now = conn.execute(sa.select(table.c.id, table.c.version).where(
            table.c.id.in_(list(wrote)), table.c.deleted_at.is_(None))).all()
    return {int(r.id) for r in now if wrote[int(r.id)] is not None
            and r.version != wrote[int(r.id)]}


def _restore(records: Records, actor: Actor, entity: str, tag: dict[str, object]
             ) -> str | None:
    """Put back the values an update replaced; a sentence when it cannot."""
    record_id = int(str(tag["record_id"]))
    try:
        current = records._get(entity, record_id)
    except RecordError:
        return _("it was deleted since the import; left as it is.")
    if current["version"] != tag["version"]:
        return _("it was changed since the import; left as it is.")
    try:
        before = jobs.open_before(tag["before"] if isinstance(tag["before"], dict) else {},
                                  crypto.keys_of(records.engine))
        records.update(entity, record_id, before, actor, version=int(str(tag["version"])))
    except RecordError as exc:
        return exc.message
    return None
