"""Conversions on the records side: `plan_conversion` shows what converting a record (a lead)
would create or reuse, `convert` does it through the records service in one transaction.

Each target is created with the acting user's `_create` (so their permissions, validation, stage
machines, audit and hooks apply, and they own it), or matched: an existing record the user may
read whose `match` fields equal the source's. The source record's `then` values are set as the
system (they are read-only to users) after checking the user may edit the source. Anything
refused rolls the whole conversion back; the refusal names the target and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.i18n import _, get_locale
from app.meta.conversions import NOW, REF
from app.meta.types import ConversionDef, ConversionTargetDef, label_text
from app.records import (
    SYSTEM,
    Actor,
    Change,
    NotFound,
    RecordError,
    Records,
    ValidationFailed,
    guard,
)
from app.records.values import evaluate, is_empty, with_formulas


class NotConvertible(RecordError):
    """The record cannot be converted (already converted): nothing was changed."""

    status = 409


class ConditionFails(RecordError):
    """The conversion's `when` does not hold for the record."""

    status = 422


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
    """Whether `record` was converted already: a `then` link to a target is filled in."""
    return any(isinstance(v, str) and v.startswith(REF) and not is_empty(record.get(k))
               for k, v in conv.then.items())


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


def _values(target: ConversionTargetDef, record: Mapping[str, Any],
            refs: Mapping[str, int | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tname, src in target.fields.items():
        value = refs.get(src[len(REF):]) if src.startswith(REF) else record.get(src)
        if not is_empty(value):
            out[tname] = value
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
    refs: dict[str, int | None] = {}
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
    conv = conversion(records, name, entity)
    wanted = _includes(conv, include)
    _check_overrides(records, conv, overrides)
    changes: list[Change] = []
    refs: dict[str, int | None] = {}
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
            except RecordError as exc:
                raise _named(target, label, exc) from None
            changes.append(change)
            refs[target.name] = change.id
        then = {k: _then_value(v, refs, records, conv.entity, k) for k, v in conv.then.items()}
        try:
            changes.append(records._update(conn, conv.entity, record_id, then, SYSTEM, None))
        except RecordError as exc:
            raise _named(ConversionTargetDef(conv.entity, conv.entity), records.entity(
                conv.entity).label_for(get_locale()), exc) from None
    for change in changes:
        records._after_commit(change)
    return refs


def _then_value(value: Any, refs: Mapping[str, int | None], records: Records, entity: str,
                name: str) -> Any:
    if isinstance(value, str) and value.startswith(REF):
        return refs.get(value[len(REF):])
    if value == NOW:
        now = datetime.now(UTC)
        return now.date() if records.entity(entity).fields[name].type == "date" else now
    return value

