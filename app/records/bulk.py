"""Many rows at once through the records service: the path of imports.

`Records.create` does one row per transaction: it inserts, writes the audit row and reads the
record back, a few round trips each. An import of 100,000 rows needs the same checks without
the per-row round trips, so `BulkWriter.write` takes one batch of rows and, in one transaction:

1. checks the permission once for the entity (Forbidden refuses the whole batch);
2. per row, in Python: hidden and read-only fields (`guard`), coercion, defaults, the
   `crm_record_before_validate` hooks, `required` / `required_when` / the type's own checks /
   the YAML rules (`values.validate`);
3. per batch, one query per kind: lookups point at live records the actor may read, users and
   owners exist, `unique` values are free (in the table and among the rows of this import);
   then each clean row's `crm_record_validate` hooks;
4. the rows that passed: autonumbers drawn for all of them at once, `crm_record_before_save`
   and `_before_transition` hooks, one `executemany` INSERT (with RETURNING ids), one for the
   audit rows, roll-ups of the new rows and of their parents once, one SELECT reading the
   saved records back, then each row's `_after_save` and `_after_transition` hooks;
5. rows that update an existing record go through `Records._update` one by one (the same code
   as every edit: row lock, version, audit, hooks).

A row is all or nothing: a row that fails a check is reported (`RowFailed`, field ->
messages) and not written; the good rows of the batch are written. When the batch's write
itself fails (the database refuses a row, an after-save hook refuses one), the batch is rolled
back to its savepoint and written again row by row, each in its own savepoint, so the one bad
row is reported and the others still go in. `on_batch(conn, outcome)` runs in the same
transaction (an import tags its rows and records its progress there); with `dry_run` the rows
are written and then rolled back (so a dry run finds exactly what a run would), and
`on_batch` still commits what it writes. After the commit, `crm_record_after_commit` runs for
each saved record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app import crypto
from app.fields.computed import autonumber_scope, format_autonumber
from app.i18n import _
from app.model.system import audit, sequence_key, sequences, users
from app.records import guard, side
from app.records.change import Actor, Change
from app.records.errors import RECORD, Forbidden, RecordError, ValidationFailed
from app.records.values import OWNER, EntitySpec, apply_defaults, coerce, field_label, validate

if TYPE_CHECKING:
    from app.records.service import Records

#: rows per batch callers are advised to send (one INSERT statement page on both databases)
BATCH = 1000
#: what a row's database write may fail with and still be reported as that row's problem
ROW_FAILURES: tuple[type[Exception], ...] = (RecordError, sa.exc.IntegrityError,
                                             sa.exc.DataError)
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


@dataclass
class BulkRow:
    """One row to write: `values` by field name (as `create` takes them; `owner` too), and
    `record_id` to update that record instead of creating one. `key` is the caller's name for
    the row (an import's row number), given back in the outcome."""

    key: int
    values: Mapping[str, Any]
    record_id: int | None = None


@dataclass
class RowDone:
    key: int
    record_id: int
    action: str  # created, updated or unchanged
    #: the record's version after the write
    version: int
    #: for an update: the changed fields' values before it (JSON-ready)
    before: dict[str, Any] = field(default_factory=dict)


@dataclass
class RowFailed:
    key: int
    #: field name (RECORD: the row as a whole) -> messages in the actor's language
    errors: dict[str, list[str]]


@dataclass
class BulkOutcome:
    done: list[RowDone] = field(default_factory=list)
    failed: list[RowFailed] = field(default_factory=list)
    #: the saved changes (empty after a dry run), for `crm_record_after_commit`
    changes: list[Change] = field(default_factory=list)

    def merge(self, other: BulkOutcome) -> None:
        self.done += other.done
        self.failed += other.failed
        self.changes += other.changes


OnBatch = Callable[[sa.Connection, BulkOutcome], None]


class BulkWriter:
    """Writes batches of rows of one entity as one actor. Keeps, across its batches, the
    `unique` values its rows took (two rows of one import may not share one either)."""

    def __init__(self, records: Records, entity: str, actor: Actor, *,
                 dry_run: bool = False) -> None:
        self.records = records
        self.entity = entity
        self.actor = actor
        self.dry_run = dry_run
        self.spec: EntitySpec = records.spec(entity)
        self.table = records.table(entity)
        #: unique field -> value -> the key of the row that took it
        self.seen: dict[str, dict[Any, int]] = {
            f.name: {} for f in self.spec.writable if f.unique}

    # --- the batch -----------------------------------------------------------------------------
    def write(self, rows: Sequence[BulkRow], on_batch: OnBatch | None = None) -> BulkOutcome:
        """Write one batch in one transaction (see the module's docstring)."""
        if any(r.record_id is None for r in rows) \
                and not self.records.access(self.actor).allows(self.entity, "create"):
            raise Forbidden(_("You may not create %(entities)s.",
                              entities=self.spec.entity.plural_for(self.actor.locale)))
        outcome = BulkOutcome()
        with self.records.transaction() as conn:
            outcome.merge(self._attempt(conn, rows))
            if on_batch is not None:
                on_batch(conn, outcome)
        for change in outcome.changes:
            self.records._after_commit(change)
        return outcome

    def _attempt(self, conn: sa.Connection, rows: Sequence[BulkRow]) -> BulkOutcome:
        """The batch in a savepoint; when its write fails, each row in a savepoint of its own."""
        point = conn.begin_nested()
        seen: dict[str, dict[Any, int]] = {name: {} for name in self.seen}
        try:
            outcome = self._rows(conn, rows, seen)
        except ROW_FAILURES as exc:
            point.rollback()
            if len(rows) == 1:
                return BulkOutcome(failed=[RowFailed(rows[0].key, failure(exc))])
            outcome = BulkOutcome()
            for row in rows:
                outcome.merge(self._attempt(conn, [row]))
            return outcome
        if self.dry_run:
            point.rollback()
            outcome.changes = []
        else:
            point.commit()
        for name, taken in seen.items():
            self.seen[name].update(taken)
        return outcome

    def _rows(self, conn: sa.Connection, rows: Sequence[BulkRow],
              seen: dict[str, dict[Any, int]]) -> BulkOutcome:
        outcome = BulkOutcome()
        creates = [r for r in rows if r.record_id is None]
        if creates:
            outcome.merge(self._creates(conn, creates, seen))
        for row in rows:
            if row.record_id is not None:
                outcome.merge(self._update(conn, row))
        return outcome

    # --- creates ------------------------------------------------------------------------------
    def _creates(self, conn: sa.Connection, rows: Sequence[BulkRow],
                 seen: dict[str, dict[Any, int]]) -> BulkOutcome:
        outcome = BulkOutcome()
        checked: list[tuple[BulkRow, Change, dict[str, list[str]], int | None]] = []
        for row in rows:
            try:
                checked.append(self._prepare(conn, row))
            except RecordError as exc:
                outcome.failed.append(RowFailed(row.key, failure(exc)))
        self._check_links(conn, checked)
        self._check_unique(conn, checked, seen)
        self._check_owners(conn, checked)
        good: list[tuple[BulkRow, Change, int | None]] = []
        for row, change, errors, owner in checked:
            if not errors:
                self._plugin_checks(change, errors)
            if errors:
                outcome.failed.append(RowFailed(row.key, errors))
                for taken in seen.values():  # a refused row takes no unique value
                    for value in [v for v, k in taken.items() if k == row.key]:
                        del taken[value]
            else:
                good.append((row, change, owner))
        if good:
            saved = self._insert(conn, good)
            outcome.changes += saved
            outcome.done += [RowDone(row.key, int(change.id or 0), CREATED, 1)
                             for (row, _c, _o), change in zip(good, saved, strict=True)]
        return outcome

    def _prepare(self, conn: sa.Connection, row: BulkRow
                 ) -> tuple[BulkRow, Change, dict[str, list[str]], int | None]:
        """The per-row checks of `Records._create` that need no other row (see `_check`)."""
        records, spec, actor = self.records, self.spec, self.actor
        raw, refused = guard.visible_input(records, self.entity, row.values, actor)
        values, errors = coerce(spec, raw, system=actor.is_system)
        errors.update(refused)
        guard.read_only(records, spec, values, {}, actor, errors)
        owner = values.pop(OWNER, actor.id)
        apply_defaults(spec, values, set(raw))
        change = Change(spec.entity, "create", actor, conn, values, meta=records.meta,
                        service=records)
        records._hook("crm_record_before_validate", change)
        for key, problems in validate(spec, change.values).items():
            if key not in errors:
                errors[key] = problems
        return row, change, errors, owner

    def _check_links(self, conn: sa.Connection,
                     checked: list[tuple[BulkRow, Change, dict[str, list[str]], int | None]]
                     ) -> None:
        """`checks.check_links` for a whole batch: one query per lookup field."""
        records = self.records
        acc = records.access(self.actor)
        for f in self.spec.writable:
            if f.type not in ("lookup", "master_detail", "user"):
                continue
            wanted = {c.values[f.name] for _r, c, e, _o in checked
                      if c.values.get(f.name) is not None and f.name not in e}
            if not wanted:
                continue
            if f.type == "user":
                found = _existing(conn, users, users.c.id, wanted)
            else:
                to = str(f.opt("to"))
                target = records.models.tables.get(to)
                if target is None:
                    continue
                where = None
                if not acc.unrestricted:  # a link only to a record the user may see
                    where = acc.where(to, "read") if acc.allows(to, "read") else sa.false()
                found = _existing(conn, target, target.c.id, wanted,
                                  target.c.deleted_at.is_(None), where)
            for _r, change, errors, _o in checked:
                value = change.values.get(f.name)
                if value is None or value in found or f.name in errors:
                    continue
                if f.type == "user":
                    errors[f.name] = [_("There is no user with id %(id)s.", id=value)]
                else:
                    errors[f.name] = [_("%(field)s: there is no %(entity)s #%(id)s.",
                                        field=field_label(f), id=value,
                                        entity=records.entity(str(f.opt("to"))).label_for(
                                            self.actor.locale))]

    def _check_unique(self, conn: sa.Connection,
                      checked: list[tuple[BulkRow, Change, dict[str, list[str]], int | None]],
                      seen: dict[str, dict[Any, int]]) -> None:
        """`checks.check_unique` for a whole batch, and among the rows of this writer."""
        for f in self.spec.writable:
            if not f.unique:
                continue
            col = self.table.c[self.spec.columns[f.name]]
            wanted = {c.values[f.name] for _r, c, e, _o in checked
                      if c.values.get(f.name) is not None and f.name not in e}
            taken = _existing(conn, self.table, col, wanted) if wanted else set()
            earlier = {**self.seen[f.name], **seen[f.name]}
            for row, change, errors, _o in checked:
                value = change.values.get(f.name)
                if value is None or f.name in errors:
                    continue
                if value in taken:
                    errors[f.name] = [_("%(field)s must be unique: another record already has "
                                        "%(value)s.", field=field_label(f), value=repr(value))]
                elif value in earlier:
                    errors[f.name] = [_("%(field)s must be unique: row %(row)s of this import "
                                        "already has %(value)s.", field=field_label(f),
                                        row=earlier[value], value=repr(value))]
                else:
                    earlier[value] = seen[f.name][value] = row.key

    def _check_owners(self, conn: sa.Connection,
                      checked: list[tuple[BulkRow, Change, dict[str, list[str]], int | None]]
                      ) -> None:
        wanted = {o for _r, _c, e, o in checked if o is not None and OWNER not in e}
        found = _existing(conn, users, users.c.id, wanted) if wanted else set()
        for _r, _c, errors, owner in checked:
            if owner is not None and OWNER not in errors and owner not in found:
                errors[OWNER] = [_("There is no user with id %(id)s.", id=owner)]

    def _plugin_checks(self, change: Change, errors: dict[str, list[str]]) -> None:
        plugins = self.records.plugins
        if plugins is None:
            return
        for found in plugins.hook.crm_record_validate(change=change):
            for name, message in found or ():
                errors.setdefault(name or RECORD, []).append(message)

    def _insert(self, conn: sa.Connection, good: list[tuple[BulkRow, Change, int | None]]
                ) -> list[Change]:
        """Write the checked rows: autonumbers, before-save hooks, one INSERT, the audit
        rows, roll-ups, one read back, after-save hooks. Raises what a row fails with."""
        records, spec, actor = self.records, self.spec, self.actor
        now = datetime.now(UTC)
        numbers = self._autonumbers(conn, len(good), now.date())
        for index, (_row, change, _owner) in enumerate(good):
            for name, drawn in numbers.items():
                change.values[name] = drawn[index]
            records._before_save(change)
        keys = crypto.keys_of(records.engine)
        columns = sorted({spec.columns[k] for _r, c, _o in good for k in c.values
                          if k in spec.columns})
        rows = []
        for _row, change, owner in good:
            row = dict.fromkeys(columns)
            row.update({spec.columns[k]: v for k, v in change.values.items()
                        if k in spec.columns})
            crypto.seal(spec.entity, spec.columns, row, keys)
            row.update(version=1, created_at=now, updated_at=now, created_by_id=actor.id,
                       updated_by_id=actor.id, owner_id=owner)
            rows.append(row)
        ids = self._insert_rows(conn, rows)
        changes = [change for _r, change, _o in good]
        for change, new_id in zip(changes, ids, strict=True):
            change.id = new_id
        conn.execute(audit.insert(), [
            {"entity": self.entity, "record_id": change.id, "action": "create",
             "user_id": actor.id, "version": 1, "at": now,
             "changes": records._audit_changes(spec, {}, change.values)}
            for change in changes])
        side.own_rollups(conn, records.models, self.entity, ids)
        side.recompute_rollups(conn, records.models, self.entity, side.link_values(
            records.models, self.entity, *(change.values for change in changes)))
        saved = self._read_back(conn, ids)
        for change in changes:
            change.record = saved[int(change.id or 0)]
            records._after_save(change)
        return changes

    def _insert_rows(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> list[int]:
        """One INSERT of many rows (executemany); their new ids in order. The ids are taken
        first (PostgreSQL: from the table's sequence; SQLite: the ones after the largest, free
        while the write transaction holds the database lock) and written with the rows: a
        multi-row INSERT ... RETURNING cannot promise its order on SQLite (SQLAlchemy would
        send a statement per row), and is one huge statement on PostgreSQL."""
        table = self.table
        if conn.dialect.name == "postgresql":
            ids = [int(i) for i in conn.execute(sa.text(
                "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": table.name, "n": len(rows)}).scalars()]
        elif conn.dialect.name == "sqlite":
            start = int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0)
            ids = list(range(start + 1, start + 1 + len(rows)))
        else:  # pragma: no cover - the two databases the CRM runs on are above
            result = conn.execute(table.insert().returning(
                table.c.id, sort_by_parameter_order=True), rows)
            return [int(i) for i in result.scalars()]
        for new_id, row in zip(ids, rows, strict=True):
            row["id"] = new_id
        conn.execute(table.insert(), rows)
        return ids

    def _autonumbers(self, conn: sa.Connection, count: int, when: date) -> dict[str, list[str]]:
        """Field -> `count` numbers drawn at once (one counter update per field)."""
        out: dict[str, list[str]] = {}
        for f in self.spec.entity:
            if f.type != "autonumber" or f.name not in self.spec.columns:
                continue
            fmt = str(f.opt("format"))
            scope = sequence_key(self.table.name, self.spec.columns[f.name],
                                 autonumber_scope(fmt, when))
            last = reserve_numbers(conn, scope, count)
            out[f.name] = [format_autonumber(fmt, n, when)
                           for n in range(last - count + 1, last + 1)]
        return out

    def _read_back(self, conn: sa.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
        records = self.records
        stmt = records.full_select(self.entity).where(self.table.c.id.in_(ids))
        saved = {int(r.id): records.to_record(r) for r in conn.execute(stmt)}
        if records.plugins is not None \
                and records.plugins.hook.crm_record_loaded.get_hookimpls():
            for record in saved.values():
                records.plugins.hook.crm_record_loaded(entity=self.entity, record=record)
        return saved

    # --- updates ------------------------------------------------------------------------------
    def _update(self, conn: sa.Connection, row: BulkRow) -> BulkOutcome:
        """One row updating a record, as `Records.update` does it, in a savepoint."""
        assert row.record_id is not None
        point = conn.begin_nested()
        try:
            change = self.records._update(conn, self.entity, row.record_id, row.values,
                                          self.actor, None)
        except RecordError as exc:
            point.rollback()
            return BulkOutcome(failed=[RowFailed(row.key, failure(exc))])
        point.commit()
        spec = self.spec
        before = {name: (spec.ftype(spec.entity.fields[name]).to_json(
                         spec.entity.fields[name], change.old[name])
                         if change.old.get(name) is not None else None)
                  for name in change.values
                  if name in spec.columns and change.old.get(name) != change.values[name]}
        if not before:
            return BulkOutcome(done=[RowDone(row.key, row.record_id, UNCHANGED,
                                             int(change.record["version"]))])
        return BulkOutcome(done=[RowDone(row.key, row.record_id, UPDATED,
                                         int(change.record["version"]), before)],
                           changes=[change])


def reserve_numbers(conn: sa.Connection, scope: str, count: int) -> int:
    """Move an autonumber counter `count` ahead at once, atomically; returns its new value
    (the numbers drawn are the `count` up to it)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(sequences).values(scope=scope, value=count)
    stmt = stmt.on_conflict_do_update(index_elements=[sequences.c.scope],
                                      set_={"value": sequences.c.value + count})
    return int(conn.execute(stmt.returning(sequences.c.value)).scalar_one())


def _existing(conn: sa.Connection, table: sa.Table, col: sa.ColumnElement[Any],
              wanted: Iterable[Any], *where: sa.ColumnElement[bool] | None) -> set[Any]:
    """The values of `wanted` that `col` holds (in chunks of 1,000)."""
    values = list(wanted)
    found: set[Any] = set()
    for start in range(0, len(values), 1000):
        stmt = sa.select(col).where(col.in_(values[start:start + 1000]))
        for condition in where:
            if condition is not None:
                stmt = stmt.where(condition)
        found.update(conn.execute(stmt.distinct()).scalars())
    return found


def failure(exc: Exception) -> dict[str, list[str]]:
    """A row's problems from what its write failed with."""
    if isinstance(exc, ValidationFailed):
        return exc.errors
    if isinstance(exc, RecordError):
        return {RECORD: [exc.message]}
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
    return {RECORD: [_("The database refused this row: %(reason)s", reason=reason)]}
