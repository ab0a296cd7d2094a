"""Computed field types: formula (computed in SQL), rollup (kept by the system from child
records) and autonumber (a formatted counter). Users never write their values."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from typing import TYPE_CHECKING, Any

import marshmallow.fields as mf
import sqlalchemy as sa
import wtforms

from app.fields.base import ConfigProblem, FieldType, register, registry
from app.fields.numbers import ORDERED_OPS, DecimalType
from app.fields.relations import did_you_mean
from app.fields.text import TEXT_OPS, as_text

if TYPE_CHECKING:
    from app.fields.base import ExprKind
    from app.meta.types import EntityDef, FieldDef, Meta

#: the types a formula may produce
RESULT_TYPES: tuple[str, ...] = (
    "string", "text", "integer", "decimal", "currency", "percent", "boolean", "date",
    "datetime", "time",
)  # fmt: skip
ROLLUP_OPS: tuple[str, ...] = ("count", "sum", "min", "max", "avg")
#: field types a sum, avg, min or max can roll up
NUMERIC_TYPES: frozenset[str] = frozenset({"integer", "decimal", "currency", "percent", "rollup"})


def _as_display_only(fld: mf.Field) -> mf.Field:
    """A marshmallow field of a computed value: dump only, never required, may be null."""
    fld.dump_only = True
    fld.required = False
    fld.allow_none = True
    return fld


@register
class FormulaType(FieldType):
    """A value computed from the record's other fields by an expression (`expr`), with the
    type `result`. It has no column: the model builder computes it in SQL."""

    name = "formula"
    options_schema = {
        "expr": {"type": "string", "description": "the expression computing the value"},
        "result": {"type": "string", "enum": list(RESULT_TYPES)},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        **DecimalType.options_schema,
    }
    required_options = ("expr", "result")
    has_column = False
    computed = True

    def result_field(self, f: FieldDef) -> FieldDef:
        """The field as its result type sees it (same name and options), never required."""
        return dataclasses.replace(
            f, type=str(f.opt("result")), required=False, read_only=True,
            default=None, default_expr=None,
        )  # fmt: skip

    def result_type(self, f: FieldDef) -> FieldType:
        """The registered type of `result` (KeyError when it is unknown: `check` says so)."""
        return registry.get(str(f.opt("result")))

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        """The SQL type the expression is cast to."""
        return self.result_type(f).sa_type(self.result_field(f))

    def expr_kind_of(self, f: FieldDef) -> ExprKind:
        return self.result_type(f).expr_kind if f.opt("result") in registry else "any"

    def filter_ops_of(self, f: FieldDef) -> tuple[str, ...]:
        if f.opt("result") in registry:
            return self.result_type(f).filter_ops
        return self.filter_ops

    def to_python(self, f: FieldDef, value: Any) -> Any:
        return self.result_type(f).to_python(self.result_field(f), value)

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        return self.result_type(f).display(self.result_field(f), value, locale)

    def to_json(self, f: FieldDef, value: Any) -> Any:
        return self.result_type(f).to_json(self.result_field(f), value)

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        return self.result_type(f).form_field(self.result_field(f), locale)

    def api_field(self, f: FieldDef) -> mf.Field:
        return _as_display_only(self.result_type(f).api_field(self.result_field(f)))

    def check(self, f: FieldDef, entity: EntityDef, meta: Meta) -> list[ConfigProblem]:
        result = str(f.opt("result"))
        if result in RESULT_TYPES and result in registry:
            return []
        return [
            ConfigProblem(
                "CRM-E022",
                f"formula '{f.name}' has the result type '{result}', which is not one of "
                f"{', '.join(RESULT_TYPES)}{did_you_mean(result, list(RESULT_TYPES))}",
                "result",
            )
        ]


@register
class RollupType(FieldType):
    """A count, sum, min, max or average over child records (`entity`) that point to this one
    through their lookup `via`, optionally only those matching `where`."""

    name = "rollup"
    options_schema = {
        "entity": {"type": "string", "description": "the child entity"},
        "via": {"type": "string", "description": "the child's lookup to this entity"},
        "op": {"type": "string", "enum": list(ROLLUP_OPS)},
        "field": {"type": "string", "description": "the child field summed or compared"},
        "where": {"type": "string", "description": "an expression on the child"},
    }
    required_options = ("entity", "via", "op")
    filter_ops = ORDERED_OPS
    expr_kind = "number"
    computed = True

    def value_field(self, f: FieldDef) -> FieldDef:
        """The field as a plain number sees it: integer for count, else decimal(18,4)."""
        kind = "integer" if f.opt("op") == "count" else "decimal"
        return dataclasses.replace(
            f, type=kind, options={}, required=False, read_only=True,
            default=None, default_expr=None, min=None, max=None,
        )  # fmt: skip

    def value_type(self, f: FieldDef) -> FieldType:
        return registry.get(self.value_field(f).type)

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Integer() if f.opt("op") == "count" else sa.Numeric(18, 4)

    def to_python(self, f: FieldDef, value: Any) -> Any:
        return self.value_type(f).to_python(self.value_field(f), value)

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        return self.value_type(f).display(self.value_field(f), value, locale)

    def to_json(self, f: FieldDef, value: Any) -> Any:
        return self.value_type(f).to_json(self.value_field(f), value)

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        return self.value_type(f).form_field(self.value_field(f), locale)

    def api_field(self, f: FieldDef) -> mf.Field:
        return _as_display_only(self.value_type(f).api_field(self.value_field(f)))

    def check(self, f: FieldDef, entity: EntityDef, meta: Meta) -> list[ConfigProblem]:
        child_name, via, op = str(f.opt("entity")), str(f.opt("via")), f.opt("op")
        here = f"rollup '{f.name}'"

        def problem(message: str, option: str) -> list[ConfigProblem]:
            return [ConfigProblem("CRM-E021", f"{here} {message}", option)]

        if child_name not in meta.entities:
            hint = did_you_mean(child_name, list(meta.entities))
            return problem(f"counts entity '{child_name}', which does not exist{hint}", "entity")
        child = meta.entities[child_name]
        link = child.fields.get(via)
        if link is None:
            hint = did_you_mean(via, list(child.fields))
            return problem(f"goes via '{child_name}.{via}', which does not exist{hint}", "via")
        if link.type not in ("lookup", "master_detail") or link.opt("to") != entity.name:
            return problem(
                f"goes via '{child_name}.{via}', which is not a lookup to '{entity.name}'", "via"
            )
        if op not in ROLLUP_OPS:
            return problem(f"has op {op!r}; use one of {', '.join(ROLLUP_OPS)}", "op")
        if op == "count":
            return []
        target = f.opt("field")
        if target is None:
            return problem(f"needs the child field to {op}", "field")
        summed = child.fields.get(str(target))
        if summed is None:
            hint = did_you_mean(str(target), list(child.fields))
            return problem(f"uses '{child_name}.{target}', which does not exist{hint}", "field")
        numeric = summed.type in NUMERIC_TYPES or (
            summed.type == "formula" and summed.opt("result") in NUMERIC_TYPES
        )
        if not numeric:
            return problem(
                f"takes the {op} of '{child_name}.{target}', which is a {summed.type}, "
                "not a number",
                "field",
            )
        return []


TOKEN = re.compile(r"\{(YYYY|YY|MM|DD|0+)\}")
ANY_TOKEN = re.compile(r"\{([^{}]*)\}")


def _render(fmt: str, when: date, counter: int | None) -> str:
    def one(m: re.Match[str]) -> str:
        token = m[1]
        if token == "YYYY":
            return f"{when.year:04d}"
        if token == "YY":
            return f"{when.year % 100:02d}"
        if token == "MM":
            return f"{when.month:02d}"
        if token == "DD":
            return f"{when.day:02d}"
        return m[0] if counter is None else str(counter).zfill(len(token))

    return TOKEN.sub(one, fmt)


def format_autonumber(fmt: str, counter: int, when: date) -> str:
    """`QUO-{YYYY}-{0000}`, 7, 2024-03-05 -> `QUO-2024-0007`. A counter wider than its run of
    zeros is written in full."""
    if counter < 0:
        raise ValueError("an autonumber counter cannot be negative")
    return _render(fmt, when, counter)


def autonumber_scope(fmt: str, when: date) -> str:
    """The counter's scope: the format with its date tokens rendered and the counter left
    (`QUO-2024-{0000}`), so the counter starts again for each year of `QUO-{YYYY}-{0000}`
    and never for a format without date tokens."""
    return _render(fmt, when, None)


@register
class AutonumberType(FieldType):
    """A unique number the system gives each new record, formatted by `format`."""

    name = "autonumber"
    options_schema = {
        "format": {
            "type": "string",
            "description": "e.g. QUO-{YYYY}-{0000}: {YYYY} {YY} {MM} {DD}, zeros = the counter",
        }
    }
    required_options = ("format",)
    filter_ops = TEXT_OPS
    expr_kind = "text"
    computed = True

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.String(64)

    def column(self, f: FieldDef, entity: EntityDef, meta: Meta) -> sa.Column[Any] | None:
        return self.make_column(f, entity, self.sa_type(f), unique=True)

    def to_python(self, f: FieldDef, value: Any) -> Any:
        return None if value is None else as_text(value)

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        return wtforms.StringField(**self.form_kwargs(f, locale))

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.String(**self.api_kwargs(f))

    def check(self, f: FieldDef, entity: EntityDef, meta: Meta) -> list[ConfigProblem]:
        fmt = str(f.opt("format"))
        tokens = ANY_TOKEN.findall(fmt)
        unknown = [t for t in tokens if not TOKEN.fullmatch("{" + t + "}")]
        counters = [t for t in tokens if t and set(t) == {"0"}]
        here = f"autonumber '{f.name}' has the format '{fmt}'"
        if unknown:
            return [
                ConfigProblem(
                    "CRM-E026",
                    f"{here} with the unknown part {{{unknown[0]}}}; use {{YYYY}}, {{YY}}, "
                    "{MM}, {DD} and a run of zeros such as {0000}",
                    "format",
                )
            ]
        if len(counters) != 1:
            return [
                ConfigProblem(
                    "CRM-E026",
                    f"{here}, which needs exactly one counter, a run of zeros such as {{0000}}",
                    "format",
                )
            ]
        return []
