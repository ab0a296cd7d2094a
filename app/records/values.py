"""Turning input into a valid record: coercion, defaults, formulas, conditions and rules.

Pure functions over an entity's metadata and plain values (no database): the records service
calls them inside its transaction, the form layer calls `visibility` to render conditional fields.
Every message is in the current locale (`app.i18n`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

from app.expr import ExprError, Expression, parse
from app.fields.base import FieldType, FieldValueError, Registry
from app.i18n import _, get_locale
from app.meta.checks import expr_kinds
from app.meta.types import EntityDef, FieldDef, RuleDef, label_text
from app.records.errors import RECORD

#: keys a writer may send besides fields: the owner (a sys_user id)
OWNER = "owner"


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0)


@dataclass
class EntitySpec:
    """An entity's metadata prepared for writing: parsed expressions and column names.
    Built once per config version and entity (the records service caches it)."""

    entity: EntityDef
    registry: Registry
    kinds: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.kinds = expr_kinds(self.entity, self.registry)

    def ftype(self, f: FieldDef) -> FieldType:
        return self.registry.get(f.type)

    def expr(self, source: str) -> Expression:
        return _parse(source, self.kinds)

    @cached_property
    def columns(self) -> dict[str, str]:
        """Stored field -> its column (a lookup `account` is stored in `account_id`)."""
        return {f.name: self.ftype(f).column_name(f) for f in self.entity
                if self.ftype(f).has_column}

    @cached_property
    def writable(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.entity
                     if self.ftype(f).has_column and not self.ftype(f).computed)

    @cached_property
    def writable_types(self) -> tuple[tuple[FieldDef, FieldType], ...]:
        """`writable` with each field's type (validating 100,000 imported rows asks often)."""
        return tuple((f, self.ftype(f)) for f in self.writable)

    @cached_property
    def formulas(self) -> tuple[tuple[FieldDef, Expression], ...]:
        """Formula fields in dependency order (a formula may use another)."""
        pending = [f for f in self.entity if f.type == "formula"]
        done: list[tuple[FieldDef, Expression]] = []
        names = {f.name for f in pending}
        while pending:
            ready = [f for f in pending
                     if not (self.expr(f.opt("expr")).names & (names - {d.name for d, _ in done}))]
            if not ready:
                break
            for f in ready:
                done.append((f, self.expr(f.opt("expr"))))
                pending.remove(f)
        return tuple(done)

    @cached_property
    def rules(self) -> tuple[tuple[RuleDef, Expression], ...]:
        return tuple((r, self.expr(r.when)) for r in self.entity.rules)

    @cached_property
    def conditional(self) -> bool:
        """Whether validating needs the formulas computed: rules, visible_when, required_when
        (else `validate` skips them: imports validate 100,000 rows)."""
        return bool(self.entity.rules) or any(f.visible_when or f.required_when
                                              for f in self.entity)


_CACHE: dict[tuple[str, tuple[tuple[str, str], ...]], Expression] = {}


def _parse(source: str, kinds: Mapping[str, str]) -> Expression:
    key = (source, tuple(sorted(kinds.items())))
    expr = _CACHE.get(key)
    if expr is None:
        expr = parse(source, dict(kinds))
        if len(_CACHE) < 10_000:
            _CACHE[key] = expr
    return expr


def evaluate(expr: Expression, values: Mapping[str, Any], default: Any = None) -> Any:
    """The value of a config expression for a record; `default` when it cannot be computed
    (a division by zero, a null where a number is needed)."""
    try:
        return expr.evaluate(values)
    except (ExprError, ArithmeticError, TypeError, ValueError):
        return default


def field_label(f: FieldDef) -> str:
    return f.label_for(get_locale())


def coerce(spec: EntitySpec, raw: Mapping[str, Any], *, system: bool = False
           ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Input (JSON, form data, parsed CSV) -> Python values by field, and the problems found.
    Unknown, computed and (for users) read-only fields are refused by name."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in raw.items():
        if key == OWNER:
            values[OWNER] = _owner(value, errors)
            continue
        f = spec.entity.fields.get(key)
        if f is None:
            errors.setdefault(key, []).append(_("There is no field '%(name)s'.", name=key))
            continue
        ftype = spec.ftype(f)
        if ftype.computed or not ftype.has_column:
            errors.setdefault(key, []).append(
                _("%(field)s is calculated and cannot be set.", field=field_label(f)))
            continue
        if f.read_only and not system:
            errors.setdefault(key, []).append(
                _("%(field)s is read-only.", field=field_label(f)))
            continue
        if unstorable(value):
            errors.setdefault(key, []).append(_(
                "%(field)s contains a character that cannot be stored (NUL or an unpaired "
                "surrogate).", field=field_label(f)))
            continue
        try:
            coerced = ftype.to_python(f, value)
        except FieldValueError as exc:
            errors.setdefault(key, []).append(str(exc))
            continue
        if isinstance(coerced, str) and coerced.strip() == "" and f.type != "rich_text":
            coerced = None
        values[key] = coerced
    return values, errors


def unstorable(value: Any) -> bool:
    """True when a text in the value (nested in lists and dicts too) holds a NUL character or
    an unpaired surrogate (`"\\ud800"` in JSON): PostgreSQL cannot store either."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, list | tuple):
        return any(unstorable(v) for v in value)
    if isinstance(value, Mapping):
        return any(unstorable(k) or unstorable(v) for k, v in value.items())
    return False


def _owner(value: Any, errors: dict[str, list[str]]) -> int | None:
    if value is None or value == "":
        errors.setdefault(OWNER, []).append(_("A record needs an owner."))
        return None
    try:
        owner = int(value)
    except (TypeError, ValueError):
        errors.setdefault(OWNER, []).append(_("%(value)s is not a user.", value=repr(value)))
        return None
    return owner


def apply_defaults(spec: EntitySpec, values: dict[str, Any], given: set[str]) -> None:
    """Fill fields the writer did not send: literal defaults, then expression defaults (which
    may use the literal ones and what was given)."""
    for f in spec.writable:
        if f.name in given or f.default is None:
            continue
        try:
            values[f.name] = spec.ftype(f).to_python(f, f.default)
        except FieldValueError:
            values[f.name] = None
    for f in spec.writable:
        if f.name in given or f.default_expr is None:
            continue
        result = evaluate(spec.expr(f.default_expr), values)
        try:
            values[f.name] = spec.ftype(f).to_python(f, result)
        except FieldValueError:
            values[f.name] = None
    for f in spec.writable:
        values.setdefault(f.name, None)


def with_formulas(spec: EntitySpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` plus every formula field computed from them (for rules and previews)."""
    out = dict(values)
    for f, expr in spec.formulas:
        out[f.name] = evaluate(expr, out)
    return out


def visibility(spec: EntitySpec, values: Mapping[str, Any]) -> dict[str, bool]:
    """Field -> whether `visible_when` shows it for these values (True when it has none)."""
    return _shown(spec, with_formulas(spec, values))


def _shown(spec: EntitySpec, full: Mapping[str, Any]) -> dict[str, bool]:
    return {f.name: bool(evaluate(spec.expr(f.visible_when), full, True))
            if f.visible_when else True for f in spec.entity}


def required_now(spec: EntitySpec, f: FieldDef, values: Mapping[str, Any]) -> bool:
    if f.required:
        return True
    return bool(f.required_when) and evaluate(spec.expr(f.required_when or ""), values) is True


def validate(spec: EntitySpec, values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Problems of a complete record: required (and `required_when`) fields of visible fields,
    each type's own checks (length, range, pattern, choices), then the entity's rules."""
    errors: dict[str, list[str]] = {}
    full = with_formulas(spec, values) if spec.conditional else values
    shown = _shown(spec, full) if spec.conditional else {}
    for f, ftype in spec.writable_types:
        value = values.get(f.name)
        if shown and not shown.get(f.name, True):
            continue
        if is_empty(value):
            if required_now(spec, f, full):
                errors.setdefault(f.name, []).append(
                    _("%(field)s is required.", field=field_label(f)))
            continue
        problems = ftype.validate(f, value)
        if problems:
            errors.setdefault(f.name, []).extend(problems)
    locale = get_locale()
    for rule, expr in spec.rules:
        if evaluate(expr, full) is True:
            target = rule.field if rule.field in spec.entity.fields else RECORD
            errors.setdefault(target or RECORD, []).append(
                label_text(rule.message, locale, rule.name))
    return errors


def today() -> date:
    return datetime.now(UTC).date()
