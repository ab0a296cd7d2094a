"""Conversions on the records side: `plan_conversion` shows what converting a record (a lead)
would create or reuse, `convert` does it through the records service in one transaction.

Each target is created with the acting user's `_create` (so their permissions, validation, stage
machines, audit and hooks apply, and they own it), or matched: an existing record the user may
read whose `match` fields equal the source's. A created target's `lines` (the quote's lines of
a new contract) are copied in one go per lines entry: the source's child rows read with one query,
written as the acting user with every check of `create` by the records service's batch writer
(app/records/bulk.py: one INSERT, one audit INSERT, the target's roll-ups once). The source
record's `then` values are set as the system (they are read-only to users) after checking the
user may edit the source. Anything refused rolls the whole conversion back; the refusal names
the target and field (`contract.contract_line[3].quantity` for a line).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.i18n import _, get_locale
from app.meta.conversions import NOW, REF, SOURCE
from app.meta.types import (
    ConversionDef,
    ConversionLinesDef,
    ConversionTargetDef,
    EntityDef,
    label_text,
)
from app.records import (
    SYSTEM,
    Actor,
    Change,
    Forbidden,
    NotFound,
    RecordError,
    Records,
    ValidationFailed,
    guard,
)
from app.records.bulk import ROW_FAILURES, BulkRow, BulkWriter, failure
from app.records.errors import RECORD
from app.records.values import evaluate, field_label, is_empty, with_formulas


class NotConvertible(RecordError):
    """The record cannot be converted (already converted): nothing was changed."""

    status = 409


class ConditionFails(RecordError):
    """The conversion's `when` does not hold for the record."""

    status = 422


@dataclass
class LinesPlan:
    """One `lines` entry of a target: how many child records it would copy, to which entity."""

    entity: str
    #: the copies' entity, plural ("Contract lines")
    label: str
    count: int


@dataclass
class TargetPlan:
    """One target of a conversion: what it would create, or the record it would reuse."""

    name: str
    entity: str
    label: str
    optional: bool
    values: dict[str, Any] = field(default_factory=dict)
    matched: int | None = None
    matched_title: str | None = None
    lines: list[LinesPlan] = field(default_factory=list)


@dataclass
class Converted:
    """What a conversion did: target name -> the id created or matched (None: left out), and
    target name -> lines entity -> how many lines were copied under it."""

    ids: dict[str, int | None]
    lines: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class ConversionPlan:
    conversion: ConversionDef
    record: dict[str, Any]
    targets: list[TargetPlan] = field(default_factory=list)
    #: why the conversion cannot be done now (empty: it can)
    problems: list[str] = field(default_factory=list)


def conversion_label(conv: ConversionDef) -> str:
    return label_text(conv.label, get_locale(), _("Convert"))


def conversion(records: Records, name: str, entity: str | None = None) -> ConversionDef:
    """The conversion `name` (of `entity` when given); NotFound otherwise."""
    conv = records.meta.conversions.get(name)
    if conv is None or (entity is not None and conv.entity != entity):
        raise NotFound(_("There is no conversion '%(name)s'.", name=name))
    return conv


def conversions_of(records: Records, entity: str) -> list[ConversionDef]:
    return [c for c in records.meta.conversions.values() if c.entity == entity]


def _converted(conv: ConversionDef, record: Mapping[str, Any]) -> bool:
    """Whether `record` was converted already: a `then` link to a target is filled in (never,
    for a `repeatable` conversion)."""
    return not conv.repeatable and any(
        isinstance(v, str) and v.startswith(REF) and v != REF + SOURCE
        and not is_empty(record.get(k)) for k, v in conv.then.items())


def _holds(records: Records, conv: ConversionDef, record: Mapping[str, Any]) -> bool:
    if not conv.when:
        return True
    spec = records.spec(conv.entity)
    return evaluate(spec.expr(conv.when), with_formulas(spec, record)) is True


def refusal(records: Records, conv: ConversionDef, record: Mapping[str, Any]
            ) -> RecordError | None:
    """Why `record` cannot be converted (already converted, `when` fails), or None."""
    title = _title(records, conv.entity, record)
    if _converted(conv, record):
        return NotConvertible(_("%(title)s was converted already.", title=title))
    if not _holds(records, conv, record):
        return ConditionFails(_("%(title)s cannot be converted: it must meet %(when)s.",
                                title=title, when=conv.when))
    return None


def _title(records: Records, entity: str, record: Mapping[str, Any]) -> str:
    e = records.entity(entity)
    value = record.get(e.title) if e.title else None
    return str(value) if not is_empty(value) else f"{e.label_for(get_locale())} #{record['id']}"


def _values(target: ConversionTargetDef | ConversionLinesDef, record: Mapping[str, Any],
            refs: Mapping[str, int | None]) -> dict[str, Any]:
    """The mapped values of a target (or line) from the source record (or line): the
    "@refs" from `refs` (which holds "source" too), empty values left out."""
    out: dict[str, Any] = {}
    for tname, src in target.fields.items():
        value = refs.get(src[len(REF):]) if src.startswith(REF) else record.get(src)
        if not is_empty(value):
            out[tname] = value
    return out


def _line_rows(records: Records, conn: sa.Connection, lines: ConversionLinesDef,
               record_id: int) -> list[dict[str, Any]]:
    """The live child records of the source that `lines` copies, in its order (one query)."""
    table = records.table(lines.from_entity)
    spec = records.spec(lines.from_entity)
    stmt = records.full_select(lines.from_entity).where(
        table.c[spec.columns[lines.via]] == record_id, table.c.deleted_at.is_(None))
    if lines.order:
        stmt = stmt.order_by(table.c[spec.columns[lines.order]].asc().nulls_last())
    return [records.to_record(r) for r in conn.execute(stmt.order_by(table.c.id))]


def _line_count(records: Records, conn: sa.Connection, lines: ConversionLinesDef,
                record_id: int) -> int:
    table = records.table(lines.from_entity)
    column = table.c[records.spec(lines.from_entity).columns[lines.via]]
    return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(
        column == record_id, table.c.deleted_at.is_(None))).scalar_one())


def _copy_lines(records: Records, conn: sa.Connection, target: ConversionTargetDef,
                target_id: int, record_id: int, actor: Actor,
                refs: Mapping[str, int | None]) -> tuple[list[Change], dict[str, int]]:
    """Copy each `lines` entry of a created target under it, as `actor`: every check of
    `create`, in one batch per entry. Any refused line refuses them all (ValidationFailed
    with keys such as `contract_line[3].quantity`, 3 the line's place in its order)."""
    changes: list[Change] = []
    counts: dict[str, int] = {}
    for lines in target.lines:
        copy = records.entity(lines.to_entity)
        if not records.access(actor).allows(lines.to_entity, "create"):
            raise Forbidden(_("You may not create %(entities)s.",
                              entities=copy.plural_for(get_locale())))
        rows = [BulkRow(n, {**_values(lines, line, refs), lines.link: target_id})
                for n, line in enumerate(_line_rows(records, conn, lines, record_id), 1)]
        counts[lines.to_entity] = counts.get(lines.to_entity, 0) + len(rows)
        if not rows:
            continue
        writer = BulkWriter(records, lines.to_entity, actor)
        try:
            outcome = writer._creates(conn, rows, {name: {} for name in writer.seen})
        except ROW_FAILURES as exc:
            raise _line_refused(copy, None, failure(exc)) from None
        if outcome.failed:
            bad = min(outcome.failed, key=lambda f: f.key)
            raise _line_refused(copy, bad.key, bad.errors)
        changes += outcome.changes
    return changes, counts


def _line_refused(copy: EntityDef, number: int | None, errors: Mapping[str, list[str]]
                  ) -> ValidationFailed:
    """The refusal of the line `number` (None: the batch as a whole), keyed and worded so
    the user can find it: `contract_line[3].quantity`, "Contract line 3: Quantity: ..."."""
    where = copy.name if number is None else f"{copy.name}[{number}]"
    keyed = {(where if k == RECORD else f"{where}.{k}"): v for k, v in errors.items()}
    out = ValidationFailed(keyed)
    name, problems = next(iter(errors.items()))
    f = copy.fields.get(name)
    what = field_label(f) if f is not None else name
    problem = problems[0] if name == RECORD or problems[0].startswith(what) \
        else f"{what}: {problems[0]}"
    label = copy.label_for(get_locale())
    out.message = (f"{label}: {problem}" if number is None else
                   _("%(entity)s %(number)s: %(problem)s", entity=label, number=number,
                     problem=problem))
    out.args = (out.message,)
    return out


def _match(records: Records, conn: sa.Connection, target: ConversionTargetDef,
           record: Mapping[str, Any], actor: Actor) -> int | None:
    """The first live record of the target the actor may read whose match fields equal the
    source's (None: no match, or a match field of the source is empty)."""
    if not target.match:
        return None
    spec = records.spec(target.entity)
    table = records.table(target.entity)
    stmt = sa.select(table.c.id).where(table.c.deleted_at.is_(None)).order_by(table.c.id)
    for tname, sname in target.match.items():
        value = record.get(sname)
        column = spec.columns.get(tname)
        if is_empty(value) or column is None or records.entity(target.entity).fields[
                tname].encrypted:
            return None
        stmt = stmt.where(table.c[column] == value)
    acc = records.access(actor)
    if not acc.allows(target.entity, "read"):
        return None
    where = acc.where(target.entity, "read")
    if where is not None:
        stmt = stmt.where(where)
    found = conn.execute(stmt.limit(1)).scalar()
    return int(found) if found is not None else None


def _includes(conv: ConversionDef, include: Mapping[str, bool] | None) -> dict[str, bool]:
    include = dict(include or {})
    names = {t.name for t in conv.targets}
    unknown = sorted(set(include) - names)
    if unknown:
        raise ValidationFailed({"include": [_("'%(name)s' is not a target of this conversion "
                                              "(the targets are: %(names)s).",
                                              name=unknown[0], names=", ".join(sorted(names)))]})
    out = {}
    for t in conv.targets:
        wanted = include.get(t.name, True)
        if not wanted and not t.optional:
            raise ValidationFailed({"include": [_("%(name)s cannot be left out.",
                                                  name=t.name)]})
        out[t.name] = bool(wanted)
    return out


def _check_overrides(records: Records, conv: ConversionDef,
                     overrides: Mapping[str, Mapping[str, Any]] | None) -> None:
    names = {t.name: t for t in conv.targets}
    for key, values in (overrides or {}).items():
        if key not in names:
            raise ValidationFailed({"overrides": [_(
                "'%(name)s' is not a target of this conversion (the targets are: %(names)s).",
                name=str(key)[:60], names=", ".join(sorted(names)))]})
        if not isinstance(values, Mapping):
            raise ValidationFailed({f"overrides.{key}": [_("Give the values as an object.")]})


def plan_conversion(records: Records, name: str, record_id: int, actor: Actor,
                    include: Mapping[str, bool] | None = None) -> ConversionPlan:
    """What converting `record_id` would do, as `actor`, changing nothing."""
    conv = conversion(records, name)
    record = records.get(conv.entity, record_id)
    plan = ConversionPlan(conv, record)
    refused = refusal(records, conv, record)
    if refused is not None:
        plan.problems.append(refused.message)
    if not records.access(actor).unrestricted and not _may_edit(records, conv, record_id, actor):
        plan.problems.append(_("You may not edit %(title)s.",
                               title=_title(records, conv.entity, record)))
    refs: dict[str, int | None] = {SOURCE: record_id}
    with records.engine.connect() as conn:
        for target in conv.targets:
            e = records.entity(target.entity)
            tp = TargetPlan(target.name, target.entity, e.label_for(get_locale()),
                            target.optional)
            tp.matched = _match(records, conn, target, record, actor)
            if tp.matched is not None:
                tp.matched_title = records.titles(target.entity, [tp.matched], conn).get(
                    tp.matched)
            elif not records.access(actor).allows(target.entity, "create"):
                plan.problems.append(_("You may not create %(entities)s.",
                                       entities=e.plural_for(get_locale())))
            refs[target.name] = tp.matched
            tp.values = {k: v for k, v in _values(target, record, refs).items()
                         if not target.fields[k].startswith(REF)}
            for lines in target.lines if tp.matched is None else ():
                copy = records.entity(lines.to_entity)
                tp.lines.append(LinesPlan(lines.to_entity, copy.plural_for(get_locale()),
                                          _line_count(records, conn, lines, record_id)))
                if tp.lines[-1].count and not records.access(actor).allows(
                        lines.to_entity, "create"):
                    plan.problems.append(_("You may not create %(entities)s.",
                                           entities=tp.lines[-1].label))
            plan.targets.append(tp)
    return plan


def _may_edit(records: Records, conv: ConversionDef, record_id: int, actor: Actor) -> bool:
    try:
        with records.engine.connect() as conn:
            guard.may(records, conn, conv.entity, record_id, actor, "edit")
    except RecordError:
        return False
    return True


def _named(target: TargetPlan | ConversionTargetDef, label: str, exc: RecordError
           ) -> RecordError:
    """`exc` with the target named: `contact.last_name` for fields, the label in the text."""
    if isinstance(exc, ValidationFailed):
        named = ValidationFailed({f"{target.name}.{k}": v for k, v in exc.errors.items()})
        named.message = f"{label}: {exc.message}"
        return named
    out = type(exc).__new__(type(exc))
    out.__dict__.update(exc.__dict__)
    out.message = f"{label}: {exc.message}"
    out.args = (out.message,)
    return out


def convert(records: Records, name: str, record_id: int, actor: Actor, *,
            include: Mapping[str, bool] | None = None,
            overrides: Mapping[str, Mapping[str, Any]] | None = None,
            entity: str | None = None) -> dict[str, int | None]:
    """Convert `record_id` as `actor`: target name -> the id created or matched (None: left
    out). All or nothing."""
    return run_conversion(records, name, record_id, actor, include=include,
                          overrides=overrides, entity=entity).ids


def run_conversion(records: Records, name: str, record_id: int, actor: Actor, *,
                   include: Mapping[str, bool] | None = None,
                   overrides: Mapping[str, Mapping[str, Any]] | None = None,
                   entity: str | None = None) -> Converted:
    """`convert`, saying also how many lines were copied under each target."""
    conv = conversion(records, name, entity)
    wanted = _includes(conv, include)
    _check_overrides(records, conv, overrides)
    changes: list[Change] = []
    refs: dict[str, int | None] = {SOURCE: record_id}
    copied: dict[str, dict[str, int]] = {}
    with records.transaction() as conn:
        record = records._locked(conn, conv.entity, record_id)
        guard.may(records, conn, conv.entity, record_id, actor, "edit")
        refused = refusal(records, conv, record)
        if refused is not None:
            raise refused
        for target in conv.targets:
            label = records.entity(target.entity).label_for(get_locale())
            if not wanted[target.name]:
                refs[target.name] = None
                continue
            matched = _match(records, conn, target, record, actor)
            if matched is not None:
                refs[target.name] = matched
                continue
            values = {**_values(target, record, refs),
                      **dict((overrides or {}).get(target.name) or {})}
            try:
                change = records._create(conn, target.entity, values, actor)
                refs[target.name] = change.id
                if target.lines:
                    done, copied[target.name] = _copy_lines(
                        records, conn, target, int(change.id or 0), record_id, actor, refs)
                    changes += done
                    # the target as saved with its lines (roll-ups: totals, line counts)
                    change.record = records._get(target.entity, int(change.id or 0),
                                                 conn=conn)
            except RecordError as exc:
                raise _named(target, label, exc) from None
            changes.append(change)
        then = {k: _then_value(v, refs, records, conv.entity, k) for k, v in conv.then.items()}
        try:
            changes.append(records._update(conn, conv.entity, record_id, then, SYSTEM, None))
        except RecordError as exc:
            raise _named(ConversionTargetDef(conv.entity, conv.entity), records.entity(
                conv.entity).label_for(get_locale()), exc) from None
    for change in changes:
        records._after_commit(change)
    return Converted({t.name: refs.get(t.name) for t in conv.targets}, copied)


def _then_value(value: Any, refs: Mapping[str, int | None], records: Records, entity: str,
                name: str) -> Any:
    if isinstance(value, str) and value.startswith(REF):
        return refs.get(value[len(REF):])
    if value == NOW:
        now = datetime.now(UTC)
        return now.date() if records.entity(entity).fields[name].type == "date" else now
    return value

