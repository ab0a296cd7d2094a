"""The import job: upload -> mapping -> dry run -> run -> undo.

`upload` keeps the file in the attachment store (so a task worker on another machine reads
the same bytes), looks at it once (`reader.inspect`) and matches its columns to fields.
`configure` changes the mapping and options, checked against the entity as the user sees it.
`start` runs a dry run or the import itself: inline for small files, on the task queue
(`imports.run`) above `QUEUE_ABOVE` rows. `execute` is the job: batches of `BATCH` rows are
parsed (`parse`), matched against duplicates (`dedupe`) and written through the records service
(`Records` bulk path, app/records/bulk.py), each batch in one transaction with its tags, its
errors and the import's progress. A dry run writes and rolls back each batch, so it reports
exactly what the run would. `undo` soft-deletes what the import created and puts back what it
updated, unless someone changed it since.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from app import crypto
from app.crypto import KeyRing
from app.fields.base import shown
from app.i18n import _, use_locale
from app.imports import jobs, reader
from app.imports.dedupe import DuplicateFinder, Match
from app.imports.mapping import Column, apply_template, auto_match, resolve, targets
from app.imports.options import ImportOptions, SetupProblem
from app.imports.parse import ParsedRow, Problem, RowParser, raw_text
from app.model.imports import (
    CREATED,
    DONE,
    DUPLICATE,
    ERROR,
    FAILED,
    MAX_ERRORS,
    RUNNING,
    UPDATED,
    UPLOADED,
    VALIDATED,
    VALIDATING,
    import_errors,
    import_rows,
)
from app.records.attachments import AttachmentStore, safe_name
from app.records.bulk import BATCH, BulkOutcome, BulkRow, BulkWriter
from app.records.change import Actor
from app.records.errors import RECORD, Forbidden, RecordError
from app.records.values import OWNER

if TYPE_CHECKING:
    import sqlalchemy as sa

    from app.records.service import Records

log = logging.getLogger(__name__)

#: imports of more rows than this run on the task queue
QUEUE_ABOVE = 2000
#: the largest file an import takes (the web's own request limit may be lower)
MAX_FILE = 200 * 1024 * 1024
DRY_RUN, RUN, UNDO = "dry_run", "run", "undo"
#: statuses from which a dry run or a run may start (failed: only when nothing was written)
STARTABLE = (UPLOADED, VALIDATED, FAILED)


def store_of(engine: sa.Engine, folder: Any) -> AttachmentStore:
    """The attachment store, with room for import files."""
    return AttachmentStore(engine, folder, max_size=MAX_FILE)


def may_import(records: Records, entity: str, actor: Actor) -> None:
    """Raise Forbidden unless `actor` may import into `entity` (the `import` grant)."""
    e = records.entity(entity)
    if not records.access(actor).allows(entity, "import"):
        raise Forbidden(_("You may not import %(entities)s.",
                          entities=e.plural_for(actor.locale)))


# --- upload and mapping ----------------------------------------------------------------------
def upload(records: Records, store: AttachmentStore, actor: Actor, entity: str,
           file_name: str | None, stream: IO[bytes] | bytes, *,
           template: Mapping[str, Any] | None = None) -> jobs.ImportJob:
    """Keep the file, look at it, match its columns: a new import (status uploaded)."""
    may_import(records, entity, actor)
    name = safe_name(file_name)
    key, size = store.put(stream)
    options = ImportOptions.from_json((template or {}).get("options"))
    with store.open_key(key) as fh:
        info = reader.inspect(fh, name, sheet=options.sheet, header_row=options.header_row)
    found = targets(records, entity, actor)
    fields = apply_template(info.columns, template, found) if template \
        else auto_match(info.columns, found)
    options = ImportOptions.from_json({**options.to_json(), **info.options()})
    mapping = {"columns": info.columns, "fields": fields,
               "samples": [[raw_text(c) for c in s] for s in info.samples],
               "sheets": info.sheets}
    with records.engine.begin() as conn:
        new_id = jobs.create(conn, entity=entity, file_name=name, file_key=key, size=size,
                             kind=info.kind, mapping=mapping, options=options,
                             total=info.total, user_id=actor.id)
    return jobs.get(records.engine, new_id, actor)


def configure(records: Records, store: AttachmentStore, actor: Actor, import_id: int,
              fields: Mapping[str, Any], options: ImportOptions) -> jobs.ImportJob:
    """Set the mapping (column -> field) and the options, after checking they work. A new
    sheet or header row reads the columns again: the columns both readings have keep their
    field, the others are matched automatically, and nothing is checked yet (the user reviews
    the new columns first; the dry run checks them)."""
    job = jobs.get(records.engine, import_id, actor)
    may_import(records, job.entity, actor)
    if job.status not in STARTABLE or job.written:
        raise SetupProblem(_("This import has already run; start a new one."))
    mapping = dict(job.mapping)
    old = job.options_obj
    found = targets(records, job.entity, actor)
    if (options.sheet, options.header_row) != (old.sheet, old.header_row):
        with store.open_key(job.file_key) as fh:
            info = reader.inspect(fh, job.file_name, sheet=options.sheet,
                                  header_row=options.header_row)
        kept = {c: f for c, f in fields.items() if c in info.columns and f in found}
        rest = auto_match([c for c in info.columns if c not in kept], found,
                          taken=kept.values())
        mapping.update(columns=info.columns, fields={c: kept.get(c) or rest.get(c)
                                                     for c in info.columns},
                       samples=[[raw_text(c) for c in s] for s in info.samples])
        options = ImportOptions.from_json({**options.to_json(), **info.options()})
        with records.engine.begin() as conn:
            jobs.update(conn, import_id, mapping=mapping, options=options.to_json(),
                        total=info.total, status=UPLOADED, mode=None)
        return jobs.get(records.engine, import_id, actor)
    options = ImportOptions.from_json({**options.to_json(), **{  # keep how the file is read
        k: getattr(old, k) for k in ("encoding", "delimiter")}})
    columns = resolve(mapping["columns"], fields, found)
    options.check(found, {c.target.name for c in columns})
    mapping["fields"] = {c: (fields.get(c) or None) for c in mapping["columns"]}
    with records.engine.begin() as conn:
        jobs.update(conn, import_id, mapping=mapping, options=options.to_json(),
                    status=UPLOADED, mode=None)
    return jobs.get(records.engine, import_id, actor)


# --- running -----------------------------------------------------------------------------------
Progress = Callable[[int, int], None]


def start(records: Records, store: AttachmentStore, actor: Actor, import_id: int, *,
          dry_run: bool, queue: Any = None, progress: Progress | None = None
          ) -> jobs.ImportJob:
    """Run a dry run or the import: claimed at once (a second start is refused), then run
    here, or on `queue` (a CrmQueue) when the file has more than QUEUE_ABOVE rows.
    `progress(rows done, rows in all)` is called after each batch of a job run here."""
    job = jobs.get(records.engine, import_id, actor)
    may_import(records, job.entity, actor)
    if job.written:
        raise SetupProblem(_("This import has already run; start a new one."))
    _plan(records, job, actor)  # a mapping that cannot work is refused now, not in the task
    status = VALIDATING if dry_run else RUNNING
    mode = DRY_RUN if dry_run else RUN
    with records.engine.begin() as conn:
        if not jobs.claim(conn, import_id, STARTABLE, status, mode=mode, **Tally().values(),
                          started_at=datetime.now(UTC), finished_at=None, error_summary=None):
            raise SetupProblem(_("This import is running already."))
    if queue is not None and job.total > QUEUE_ABOVE:
        queue.enqueue_task("imports.run", import_id, mode)
    else:
        execute(records, store, import_id, actor, dry_run=dry_run, progress=progress)
    return jobs.get(records.engine, import_id, actor)


@dataclass
class Plan:
    columns: list[Column]
    options: ImportOptions
    by_field: dict[str, str]
    #: the entity's name in the user's language
    label: str
    #: encrypted fields -> how an error names them; their values are kept sealed or masked
    secret: dict[str, str] = field(default_factory=dict)
    keys: KeyRing | None = None

    @property
    def secret_columns(self) -> set[str]:
        return {c.name for c in self.columns if c.target.name in self.secret}


def _plan(records: Records, job: jobs.ImportJob, actor: Actor) -> Plan:
    found = targets(records, job.entity, actor)
    columns = resolve(job.columns, job.fields, found)
    options = job.options_obj
    options.check(found, {c.target.name for c in columns})
    e = records.entity(job.entity)
    return Plan(columns, options, {c.target.name: c.name for c in columns},
                e.label_for(actor.locale),
                {f.name: crypto.where_of(e.name, f) for f in crypto.encrypted_fields(e)},
                crypto.keys_of(records.engine))


@dataclass
class Tally:
    """What a job counted so far (written to sys_import after each batch)."""

    processed: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    duplicates: int = 0
    error_count: int = 0
    kept: dict[str, int] = field(default_factory=lambda: {ERROR: 0, DUPLICATE: 0})

    def values(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("processed", "created", "updated", "skipped",
                                              "failed", "duplicates", "error_count")}


def execute(records: Records, store: AttachmentStore, import_id: int, actor: Actor, *,
            dry_run: bool, progress: Progress | None = None) -> None:
    """The job (after `start` claimed it): every batch parsed, checked and written (or, in a
    dry run, written and rolled back); the import ends validated, done or failed."""
    job = jobs.get(records.engine, import_id, actor)
    with records.engine.begin() as conn:
        jobs.clear_results(conn, import_id)
    try:
        with use_locale(actor.locale):
            tally = _batches(records, store, job, actor, dry_run, progress)
    except RecordError as exc:  # a bad file, a mapping the config no longer fits, a refusal
        _fail(records, import_id, exc.message)
        return
    except Exception:
        log.exception("import %s failed", import_id)
        _fail(records, import_id, _("The import stopped on an unexpected error; the rows "
                                    "written so far are kept and can be undone."))
        raise
    with records.engine.begin() as conn:
        jobs.update(conn, import_id, status=VALIDATED if dry_run else DONE,
                    finished_at=datetime.now(UTC), total=tally.processed, **tally.values())


def _fail(records: Records, import_id: int, message: str) -> None:
    with records.engine.begin() as conn:
        jobs.update(conn, import_id, status=FAILED, error_summary=message,
                    finished_at=datetime.now(UTC))


def _batches(records: Records, store: AttachmentStore, job: jobs.ImportJob, actor: Actor,
             dry_run: bool, progress: Progress | None) -> Tally:
    plan = _plan(records, job, actor)
    options = plan.options
    parser = RowParser(records, job.entity, plan.columns, options, actor)
    finder = DuplicateFinder(records, job.entity, options.dedupe, mode=options.dedupe_mode,
                             match=options.dedupe_match) if options.dedupe else None
    upsert = DuplicateFinder(records, job.entity, [options.upsert_key], mode="exact") \
        if options.upsert_key else None
    writer = BulkWriter(records, job.entity, actor, dry_run=dry_run)
    tally = Tally()
    with store.open_key(job.file_key) as fh:
        rows = reader.read_rows(fh, job.file_name, job.file_kind, options.reading(),
                                len(job.columns))
        for batch in _chunks(rows, BATCH):
            step = Step(plan, tally, dry_run, job.id)
            todo = parser.parse(batch)
            while todo:  # more than once when a row repeats one of this batch that failed
                step.decide(todo, finder, upsert, options.on_duplicate)
                outcome = writer.write(step.rows, on_batch=step.record)
                for failed in outcome.failed:  # a row not written is nobody's duplicate
                    for f in (finder, upsert):
                        if f is not None:
                            f.forget(failed.key)
                todo = step.take_deferred()
            if progress is not None:
                progress(tally.processed, max(job.total, tally.processed))
    return tally


def _chunks(rows: Iterator[tuple[int, list[Any]]], size: int
            ) -> Iterator[list[tuple[int, list[Any]]]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


class Step:
    """One batch: which rows are created, updated or skipped, and what is recorded.

    A row that repeats an earlier row of the same batch is decided only after that row was
    written (`deferred`): when the earlier row fails, the later one is no duplicate and is
    written in a second round."""

    def __init__(self, plan: Plan, tally: Tally, dry_run: bool, import_id: int) -> None:
        self.plan = plan
        self.tally = tally
        self.dry_run = dry_run
        self.import_id = import_id
        self.rows: list[BulkRow] = []
        self.parsed: dict[int, ParsedRow] = {}
        #: rows sent to the writer whose outcome is not known yet
        self.unwritten: set[int] = set()
        self.deferred: list[ParsedRow] = []
        self.problems: list[Problem] = []
        self.duplicates: list[Problem] = []
        self.new = self.skipped = self.failed = 0

    def decide(self, parsed: list[ParsedRow], finder: DuplicateFinder | None,
               upsert: DuplicateFinder | None, on_duplicate: str) -> None:
        self.rows = []
        for row in parsed:
            if row.number not in self.parsed:
                self.parsed[row.number] = row
                self.new += 1
            if row.problems:
                self.problems += row.problems
                self.failed += 1
                continue
            values = row.values
            if upsert is not None:
                match = upsert.find(values, row.number, claim=True)
                if match is not None and len(match.records) > 1:
                    self._ambiguous(row, match)
                    continue
                if match is not None and match.record_id is not None:
                    self._write(self._update(row, match.record_id))
                    continue
                if match is not None:  # the same key as an earlier row of the file
                    if match.row in self.unwritten:
                        self.deferred.append(row)
                    else:
                        self._duplicate(row, match, "skip")
                    continue
            match = finder.find(values, row.number, claim=on_duplicate == "update") \
                if finder is not None else None
            if match is not None and match.row in self.unwritten:
                if upsert is not None:
                    upsert.forget(row.number)
                self.deferred.append(row)
            elif match is None or on_duplicate == "create":
                if match is not None:
                    self._duplicate(row, match, "create")
                self._write(BulkRow(row.number, values))
            elif on_duplicate == "update" and len(match.records) > 1:
                if upsert is not None:
                    upsert.forget(row.number)
                self._ambiguous(row, match)
            elif on_duplicate == "update" and match.record_id is not None:
                self._duplicate(row, match, "update")
                self._write(self._update(row, match.record_id))
            else:
                if upsert is not None:
                    upsert.forget(row.number)
                self._duplicate(row, match, "skip")

    def _write(self, row: BulkRow) -> None:
        self.rows.append(row)
        self.unwritten.add(row.key)

    def take_deferred(self) -> list[ParsedRow]:
        rows, self.deferred = self.deferred, []
        return rows

    def _update(self, row: ParsedRow, record_id: int) -> BulkRow:
        """An update sets the row's non-empty values; the owner stays."""
        return BulkRow(row.number, {k: v for k, v in row.values.items() if k != OWNER},
                       record_id)

    def _ambiguous(self, row: ParsedRow, match: Match) -> None:
        """A row whose key several existing records hold: which one to update is unknown, so
        none is (picking one would change a record the row may not be about)."""
        column = self.plan.by_field.get(match.field)
        ids = ", ".join(f"#{i}" for i in match.records)
        self.problems.append(Problem(row.number, column, _(
            "%(count)s %(entity)s records have this %(column)s (%(ids)s): the row cannot say "
            "which one to update, so none is. Use a key that tells them apart.",
            count=len(match.records), entity=self.plan.label, column=column or match.field,
            ids=ids), raw_text(row.raw.get(match.field))))
        self.failed += 1

    def _duplicate(self, row: ParsedRow, match: Match, action: str) -> None:
        column = self.plan.by_field.get(match.field)
        value = row.raw.get(match.field)
        name = column or match.field
        if match.record_id is not None:
            message = {
                "skip": _("Same %(column)s as %(entity)s #%(id)s: skipped.", column=name,
                          entity=self.plan.label, id=match.record_id),
                "update": _("Same %(column)s as %(entity)s #%(id)s: that record is updated.",
                            column=name, entity=self.plan.label, id=match.record_id),
                "create": _("Same %(column)s as %(entity)s #%(id)s: created anyway.",
                            column=name, entity=self.plan.label, id=match.record_id),
            }[action]
        else:
            message = _("Same %(column)s as row %(row)s: skipped.", column=name, row=match.row) \
                if action == "skip" else _("Same %(column)s as row %(row)s: created anyway.",
                                           column=name, row=match.row)
        self.duplicates.append(Problem(row.number, column, message, raw_text(value)))
        if action == "skip":
            self.skipped += 1

    def record(self, conn: sa.Connection, outcome: BulkOutcome) -> None:
        """In the write's transaction: tags, errors, duplicates and the progress so far."""
        tally = self.tally
        for failed in outcome.failed:
            self.failed += 1
            self.unwritten.discard(failed.key)
            row = self.parsed[failed.key]
            for name, messages in failed.errors.items():
                column = None if name == RECORD else self.plan.by_field.get(name)
                for message in messages:
                    self.problems.append(Problem(failed.key, column, message,
                                                 raw_text(row.raw.get(name))))
        tags = []
        for done in outcome.done:
            self.unwritten.discard(done.key)
            if done.action == CREATED:
                tally.created += 1
            elif done.action == UPDATED:
                tally.updated += 1
            else:
                tally.skipped += 1
            if done.action in (CREATED, UPDATED) and not self.dry_run:
                tags.append({"import_id": self.import_id, "row_number": done.key,
                             "record_id": done.record_id, "action": done.action,
                             "before": self._before(done.before), "version": done.version})
        if tags:
            conn.execute(import_rows.insert(), tags)
        tally.processed += self.new
        tally.skipped += self.skipped
        tally.failed += self.failed
        tally.duplicates += len(self.duplicates)
        tally.error_count += len(self.problems)
        self._keep(conn, ERROR, self.problems)
        self._keep(conn, DUPLICATE, self.duplicates)
        self.problems, self.duplicates = [], []
        self.new = self.skipped = self.failed = 0
        jobs.update(conn, self.import_id, **tally.values())

    def _before(self, before: dict[str, Any]) -> dict[str, Any] | None:
        plan = self.plan
        if not plan.secret or not before or plan.keys is None:
            return before or None
        return jobs.seal_before(before, plan.secret, plan.keys)

    def _keep(self, conn: sa.Connection, kind: str, found: list[Problem]) -> None:
        room = MAX_ERRORS - self.tally.kept[kind]
        if room <= 0 or not found:
            return
        kept = sorted(found, key=lambda p: p.row)[:room]
        self.tally.kept[kind] += len(kept)
        secret = self.plan.secret_columns
        conn.execute(import_errors.insert(), [
            {"import_id": self.import_id, "kind": kind, "row_number": p.row,
             "column_name": p.column, **(masked(p) if p.column in secret else {
                 "message": p.message, "raw_value": p.raw})}
            for p in kept])


def masked(problem: Problem) -> dict[str, Any]:
    """The message and value of a problem of an encrypted field, without the value: the error
    table is not encrypted (the user has the file and the row number)."""
    message = problem.message
    for text in {problem.raw or "", (problem.raw or "").strip()} - {""}:
        message = message.replace(shown(text), shown(crypto.MASK)).replace(text, crypto.MASK)
    return {"message": message, "raw_value": crypto.MASK if problem.raw else None}
