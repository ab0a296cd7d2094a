"""List views in the config: an entity's default list (`list:`) and its shared views (`views:`).

Builds `ListDef` / `ViewDef` from YAML, checks them (unknown fields CRM-E038, operators or values
that do not fit a field CRM-E039, two views with one name CRM-E047), and holds the one parser of
filter values that both these checks and the list query (`app.records.query`) use, so a value
accepted in YAML is accepted in a URL and the other way round.

Filter values are text a person typed (parsed by the field type's `parse_text`, so `¥1,000`
and `2026年1月31日` work) or YAML scalars. Dates also take a few words relative to today:
`today`, `yesterday`, `tomorrow`, `week_start`, `month_start`, `month_end`, `year_start`,
`year_end`, each with an optional day offset (`today-30`). User fields take `me`.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from app.fields.base import FieldType, FieldValueError, Registry
from app.i18n import _
from app.meta.errors import ConfigError
from app.meta.types import (
    IDENTIFIER,
    EntityDef,
    FieldDef,
    ListDef,
    Source,
    ViewDef,
    freeze,
)

#: every filter operator a field type may offer
ALL_OPS: tuple[str, ...] = (
    "eq", "ne", "lt", "lte", "gt", "gte", "between", "contains", "starts_with", "in", "not_in",
    "empty", "not_empty",
)  # fmt: skip
NO_VALUE_OPS = frozenset({"empty", "not_empty"})
#: operators taking one or more values (any of them matches)
MULTI_OPS = frozenset({"in", "not_in", "contains", "starts_with"})
TEXT_MATCH_OPS = frozenset({"contains", "starts_with"})
#: value types stored as JSON: neither sorted nor compared
JSON_KINDS = frozenset({"multi_picklist", "tags", "file", "json"})
#: columns every entity has that lists may show, sort and filter on
SYSTEM_FIELDS: Mapping[str, FieldDef] = {
    "owner": FieldDef("owner", "user", label=freeze({"en": "Owner", "zh": "负责人"})),
    "created_at": FieldDef("created_at", "datetime",
                           label=freeze({"en": "Created", "zh": "创建时间"})),
    "updated_at": FieldDef("updated_at", "datetime",
                           label=freeze({"en": "Last modified", "zh": "最后修改时间"})),
}

RELATIVE_DATE = re.compile(
    r"(today|yesterday|tomorrow|week_start|month_start|month_end|year_start|year_end)"
    r"\s*(?:([+-])\s*(\d{1,5}))?"
)


class FilterValueError(ValueError):
    """A filter that cannot be used; the message is a sentence for the user."""


def relative_date(text: str, today: date) -> date | None:
    """`today-30`, `year_start`, ... as a date; None when `text` is not such a word."""
    m = RELATIVE_DATE.fullmatch(text.strip().lower())
    if not m:
        return None
    word = m[1]
    if word in ("today", "yesterday", "tomorrow"):
        day = today + timedelta(days={"today": 0, "yesterday": -1, "tomorrow": 1}[word])
    elif word == "week_start":
        day = today - timedelta(days=today.weekday())
    elif word == "month_start":
        day = today.replace(day=1)
    elif word == "month_end":
        nxt = today.replace(day=28) + timedelta(days=4)
        day = nxt - timedelta(days=nxt.day)
    elif word == "year_start":
        day = date(today.year, 1, 1)
    else:
        day = date(today.year, 12, 31)
    if m[2]:
        day += timedelta(days=int(m[3]) * (1 if m[2] == "+" else -1))
    return day


def fields_of(entity: EntityDef) -> dict[str, FieldDef]:
    """The entity's fields, then the system fields lists can use (owner, created_at, ...)."""
    return {**dict(entity.fields), **SYSTEM_FIELDS}


def value_field(f: FieldDef, registry: Registry) -> tuple[FieldType, FieldDef]:
    """The type and field a value of `f` is: a formula's result, a roll-up's number."""
    ftype = registry.get(f.type)
    if f.type == "formula" and f.opt("result") in registry:
        inner = dataclasses.replace(f, type=str(f.opt("result")), required=False,
                                    default=None, default_expr=None)
        return registry.get(inner.type), inner
    if f.type == "rollup":
        kind = "integer" if f.opt("op") == "count" else "decimal"
        inner = dataclasses.replace(f, type=kind, options=freeze({}), required=False,
                                    default=None, default_expr=None, min=None, max=None)
        return registry.get(kind), inner
    return ftype, f


def sortable(f: FieldDef, registry: Registry) -> bool:
    if f.encrypted:  # ciphertext has no useful order
        return False
    ftype = registry.get(f.type)
    if not (ftype.has_column or f.type == "formula"):
        return False
    return value_field(f, registry)[1].type not in JSON_KINDS


def _one(f: FieldDef, op: str, raw: Any, registry: Registry, today: date,
         me: int | None) -> Any:
    vtype, vf = value_field(f, registry)
    if isinstance(raw, str):
        text = raw.strip()
        if text == "":
            raise FilterValueError(_("a value is missing"))
        if op in TEXT_MATCH_OPS:
            if vf.type == "multi_picklist":
                return vtype.match_text(vf, text)  # type: ignore[attr-defined]
            return text
        if vf.type in ("date", "datetime"):
            day = relative_date(text, today)
            if day is not None:
                return day
        if vf.type == "user" and text.lower() == "me":
            if me is None:
                raise FilterValueError(_("'me' needs a signed-in user"))
            return me
        if vf.type == "datetime" and not any(c in text for c in ":时点T"):
            return registry.get("date").parse_text(vf, text)  # a whole day
        return vtype.parse_text(vf, text)
    if isinstance(raw, date | datetime | int | float | bool) or raw is None:
        if op in TEXT_MATCH_OPS:
            return _one(f, op, str(raw), registry, today, me)
        if vf.type == "datetime" and isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        return vtype.to_python(vf, raw)
    raise FilterValueError(_("%(value)s is not a value", value=repr(raw)))


def parse_filter(f: FieldDef, op: str, raw: Any, registry: Registry, *,
                 today: date | None = None, me: int | None = None) -> tuple[Any, ...]:
    """The values of one filter, parsed for the field: () for empty/not_empty, two for
    between, one or more for in/not_in/contains/starts_with, else exactly one. A date given to
    a datetime field stands for that whole day. Raises FilterValueError (a sentence)."""
    ops = registry.get(f.type).filter_ops_of(f)
    if f.encrypted and op not in NO_VALUE_OPS:
        raise FilterValueError(_("the field is encrypted, so only the operators empty and "
                                 "not_empty apply"))
    if op not in ops:
        raise FilterValueError(_("the operator '%(op)s' does not apply (use %(ops)s)",
                                 op=op, ops=", ".join(ops)))
    if op in NO_VALUE_OPS:
        return ()
    items = list(raw) if isinstance(raw, list | tuple) else [raw]
    if op == "between" and len(items) == 1 and isinstance(items[0], str) and ".." in items[0]:
        items = items[0].split("..", 1)
    if op != "between":
        items = [i for i in items if not (isinstance(i, str) and i.strip() == "")] or items
    if op == "between" and len(items) != 2:
        raise FilterValueError(_("'between' needs two values, a lowest and a highest"))
    if op not in MULTI_OPS and op != "between" and len(items) != 1:
        raise FilterValueError(_("'%(op)s' takes one value", op=op))
    out = []
    for item in items:
        try:
            value = _one(f, op, item, registry, today or date.today(), me)
        except FieldValueError as exc:
            raise FilterValueError(str(exc)) from None
        if value is None:
            raise FilterValueError(_("a value is missing"))
        out.append(value)
    return tuple(out)


# --- building from YAML -----------------------------------------------------------------------
def build_list_def(raw: Any, src: Source) -> ListDef:
    raw = raw if isinstance(raw, Mapping) else {}
    size = raw.get("page_size")
    return ListDef(columns=tuple(str(c) for c in raw.get("columns") or ()),
                   sort=raw.get("sort"), page_size=int(size) if size else None, source=src)


def build_views(raw: Any, src: Source) -> tuple[ViewDef, ...]:
    views = []
    for item in raw if isinstance(raw, list | tuple) else ():
        if not isinstance(item, Mapping):
            continue
        views.append(ViewDef(
            name=str(item.get("name")),
            label=freeze(dict(item.get("label") or {})),
            columns=tuple(str(c) for c in item.get("columns") or ()),
            filters=freeze({str(k): dict(v or {}) for k, v in (item.get("filters") or {})
                            .items()}),
            sort=item.get("sort"),
            search=item.get("search"),
            mine=bool(item.get("mine", False)),
            source=src,
        ))
    return tuple(views)


# --- checks -----------------------------------------------------------------------------------
def _hint(name: str, options: Sequence[str]) -> str:
    match = difflib.get_close_matches(name, list(options), 1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _columns_errors(entity: EntityDef, where: str, columns: Sequence[str], src: Source
                    ) -> Iterator[ConfigError]:
    known = fields_of(entity)
    for name in columns:
        if name not in known:
            yield ConfigError("CRM-E038", f"{where} of '{entity.name}' shows column '{name}'"
                              f"{_hint(name, list(known))}, which is not a field", src)


def _sort_errors(entity: EntityDef, where: str, sort: str | None, src: Source,
                 registry: Registry) -> Iterator[ConfigError]:
    if not sort:
        return
    name = sort.removeprefix("-")
    known = fields_of(entity)
    if name not in known:
        yield ConfigError("CRM-E038", f"{where} of '{entity.name}' sorts by '{name}'"
                          f"{_hint(name, list(known))}, which is not a field", src)
    elif known[name].encrypted:
        yield ConfigError("CRM-E049", f"{where} of '{entity.name}' sorts by '{name}', which "
                          "is encrypted and cannot be sorted", src)
    elif not sortable(known[name], registry):
        yield ConfigError("CRM-E038", f"{where} of '{entity.name}' sorts by '{name}', a "
                          f"{known[name].type} field, which cannot be sorted", src)


def check_lists(entity: EntityDef, registry: Registry) -> Iterator[ConfigError]:
    """CRM-E038 (unknown or unsortable fields), CRM-E039 (operators and values), CRM-E047
    (two views with one name) for `list:` and `views:`."""
    lst = entity.list_view
    yield from _columns_errors(entity, "list", lst.columns, lst.source)
    yield from _sort_errors(entity, "list", lst.sort, lst.source, registry)
    known = fields_of(entity)
    seen: set[str] = set()
    for view in entity.views:
        where = f"view '{view.name}'"
        if not IDENTIFIER.match(view.name):
            yield ConfigError("CRM-E014", f"view name '{view.name}' of '{entity.name}' must "
                              "start with a lower-case letter and hold only a-z, 0-9 and _",
                              view.source)
        if view.name in seen:
            yield ConfigError("CRM-E047", f"two views of '{entity.name}' are named "
                              f"'{view.name}'", view.source)
        seen.add(view.name)
        yield from _columns_errors(entity, where, view.columns, view.source)
        yield from _sort_errors(entity, where, view.sort, view.source, registry)
        for fname, ops in view.filters.items():
            f = known.get(fname)
            if f is None:
                yield ConfigError("CRM-E038", f"{where} of '{entity.name}' filters on "
                                  f"'{fname}'{_hint(fname, list(known))}, which is not a field",
                                  view.source)
                continue
            for op, value in ops.items():
                if f.encrypted and op not in NO_VALUE_OPS:
                    yield ConfigError("CRM-E049", f"{where} of '{entity.name}' filters "
                                      f"'{fname}' {op}: it is encrypted, so only empty and "
                                      "not_empty apply", view.source)
                    continue
                try:
                    parse_filter(f, str(op), value, registry, me=0)
                except FilterValueError as exc:
                    yield ConfigError("CRM-E039", f"{where} of '{entity.name}' filters "
                                      f"'{fname}' {op} {value!r}: {exc}", view.source)
