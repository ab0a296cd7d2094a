"""Computed field types: formula, rollup, autonumber (and the autonumber format functions)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import marshmallow
import pytest
from factories_meta import (
    api_dump,
    api_load,
    bind,
    check,
    create_sql,
    make_entity,
    make_field,
    make_meta,
    table_for,
)
from jsonschema import Draft202012Validator, ValidationError, validate
from sqlalchemy.dialects import sqlite

from app.fields import FieldValueError, registry
from app.fields.computed import autonumber_scope, format_autonumber

ORDERED = ("eq", "ne", "lt", "lte", "gt", "gte", "between", "empty", "not_empty")


def formula(result: str = "currency", **kw: Any) -> Any:
    return make_field("expected", "formula", expr="amount * probability / 100", result=result, **kw)


def rollup(**kw: Any) -> Any:
    kw.setdefault("entity", "line")
    kw.setdefault("via", "deal")
    kw.setdefault("op", "sum")
    return make_field("total", "rollup", **kw)


@pytest.mark.parametrize("name", ["formula", "rollup", "autonumber"])
def test_options_schema_is_valid_json_schema(name: str) -> None:
    ft = registry.get(name)
    Draft202012Validator.check_schema({"type": "object", "properties": dict(ft.options_schema)})
    assert ft.computed


@pytest.mark.parametrize(
    ("name", "options", "valid"),
    [
        ("formula", {"expr": "a + b", "result": "decimal"}, True),
        ("formula", {"expr": "a + b", "result": "lookup"}, False),
        ("rollup", {"entity": "line", "via": "deal", "op": "sum", "field": "amount"}, True),
        ("rollup", {"entity": "line", "via": "deal", "op": "median"}, False),
        ("autonumber", {"format": "QUO-{YYYY}-{0000}"}, True),
        ("autonumber", {"format": 5}, False),
    ],
)
def test_options_schema_accepts_and_refuses(
    name: str, options: dict[str, Any], valid: bool
) -> None:
    schema = {"type": "object", "properties": dict(registry.get(name).options_schema)}
    if valid:
        validate(options, schema)
    else:
        with pytest.raises(ValidationError):
            validate(options, schema)


@pytest.mark.parametrize(
    ("name", "required"),
    [
        ("formula", ("expr", "result")),
        ("rollup", ("entity", "via", "op")),
        ("autonumber", ("format",)),
    ],
)
def test_required_options(name: str, required: tuple[str, ...]) -> None:
    assert registry.get(name).required_options == required


# --- formula -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "kind", "sql"),
    [
        ("currency", "number", "NUMERIC(18, 2)"),
        ("integer", "number", "BIGINT"),
        ("string", "text", "VARCHAR(255)"),
        ("boolean", "bool", "BOOLEAN"),
        ("date", "date", "DATE"),
        ("datetime", "datetime", "DATETIME"),
    ],
)
def test_formula_takes_its_result_type(result: str, kind: str, sql: str) -> None:
    ft = registry.get("formula")
    f = formula(result)
    assert ft.has_column is False
    here = make_entity("deal", f)
    assert ft.column(f, here, make_meta(here)) is None
    assert ft.result_type(f) is registry.get(result)
    assert ft.expr_kind_of(f) == kind
    assert ft.filter_ops_of(f) == registry.get(result).filter_ops
    assert str(ft.sa_type(f).compile(dialect=sqlite.dialect())) == sql


@pytest.mark.parametrize(
    ("result", "kw", "value", "python", "shown", "json"),
    [
        ("currency", {"currency": "CNY"}, 1234.5, Decimal("1234.50"), "¥1,234.50", "1234.50"),
        ("percent", {}, "12.5", Decimal("12.5000"), "12.5%", "12.5000"),
        ("integer", {}, 3.0, 3, "3", 3),
        ("boolean", {}, 1, True, "Yes", True),
        ("date", {}, "2024-03-05", date(2024, 3, 5), "2024-03-05", "2024-03-05"),
        ("string", {}, "A-1", "A-1", "A-1", "A-1"),
    ],
)
def test_formula_values(
    result: str, kw: dict[str, Any], value: Any, python: Any, shown: str, json: Any
) -> None:
    ft = registry.get("formula")
    f = formula(result, **kw)
    assert ft.to_python(f, value) == python
    assert ft.display(f, python) == shown
    assert ft.to_json(f, python) == json
    assert ft.validate(f, python) == []


def test_formula_is_never_required_even_when_marked() -> None:
    f = formula("integer", required=True, min=0)
    assert registry.get("formula").to_python(f, None) is None


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("currency", []),
        ("text", []),
        (
            "curency",
            [
                (
                    "CRM-E022",
                    "formula 'expected' has the result type 'curency', which is not one of "
                    "string, text, integer, decimal, currency, percent, boolean, date, "
                    "datetime, time (did you mean 'currency'?)",
                    "result",
                )
            ],
        ),
        (
            "lookup",
            [
                (
                    "CRM-E022",
                    "formula 'expected' has the result type 'lookup', which is not one of "
                    "string, text, integer, decimal, currency, percent, boolean, date, "
                    "datetime, time",
                    "result",
                )
            ],
        ),
    ],
)
def test_formula_check(result: str, expected: list[Any]) -> None:
    assert check(formula(result)) == expected


def test_formula_form_field_is_read_only() -> None:
    form = bind(formula("currency", required=True), [("x", "")])
    assert type(form.x).__name__ == "DecimalField"
    assert form.x.render_kw == {"readonly": True, "data-currency": ""}
    assert form.validate()  # never required


def test_formula_api_field_is_dump_only() -> None:
    f = formula("currency", required=True)
    fld = registry.get("formula").api_field(f)
    assert (fld.dump_only, fld.required, fld.allow_none) == (True, False, True)
    assert api_dump(f, Decimal("12.5")) == {"x": "12.50"}
    with pytest.raises(marshmallow.ValidationError) as exc:
        api_load(f, {"x": "12.5"})
    assert exc.value.messages == {"x": ["Unknown field."]}


# --- rollup ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "sql", "value", "python", "shown"),
    [
        ("count", "total INTEGER", 4, 4, "4"),
        ("sum", "total NUMERIC(18, 4)", 12.5, Decimal("12.5000"), "12.5000"),
        ("avg", "total NUMERIC(18, 4)", "1234.56789", Decimal("1234.5679"), "1,234.5679"),
    ],
)
def test_rollup_column_and_values(op: str, sql: str, value: Any, python: Any, shown: str) -> None:
    ft = registry.get("rollup")
    f = rollup(op=op, field="amount")
    assert sql in create_sql(table_for(f), "postgresql")
    assert ft.to_python(f, value) == python
    assert ft.display(f, python) == shown
    assert ft.expr_kind == "number"
    assert ft.filter_ops == ORDERED


def test_rollup_refuses_a_non_number() -> None:
    with pytest.raises(FieldValueError):
        registry.get("rollup").to_python(rollup(op="count"), 2.5)


def _line(*fields: Any) -> Any:
    return make_entity("line", make_field("deal", "lookup", to="deal"), *fields)


AMOUNT = make_field("amount", "currency")
NAME = make_field("name", "string")
PRICE = make_field("price", "formula", expr="amount * 2", result="decimal")


@pytest.mark.parametrize(
    ("kw", "child", "message", "option"),
    [
        ({"op": "count"}, _line(), None, None),
        ({"op": "sum", "field": "amount"}, _line(AMOUNT), None, None),
        ({"op": "avg", "field": "price"}, _line(PRICE), None, None),
        ({"op": "max", "field": "amount", "where": "amount > 0"}, _line(AMOUNT), None, None),
        (
            {"entity": "lines"},
            _line(),
            "rollup 'total' counts entity 'lines', which does not exist (did you mean 'line'?)",
            "entity",
        ),
        (
            {"via": "deals"},
            _line(),
            "rollup 'total' goes via 'line.deals', which does not exist (did you mean 'deal'?)",
            "via",
        ),
        (
            {"via": "name"},
            _line(NAME),
            "rollup 'total' goes via 'line.name', which is not a lookup to 'deal'",
            "via",
        ),
        (
            {"via": "other"},
            _line(make_field("other", "lookup", to="account")),
            "rollup 'total' goes via 'line.other', which is not a lookup to 'deal'",
            "via",
        ),
        ({"op": "sum"}, _line(AMOUNT), "rollup 'total' needs the child field to sum", "field"),
        (
            {"op": "sum", "field": "amont"},
            _line(AMOUNT),
            "rollup 'total' uses 'line.amont', which does not exist (did you mean 'amount'?)",
            "field",
        ),
        (
            {"op": "avg", "field": "name"},
            _line(NAME),
            "rollup 'total' takes the avg of 'line.name', which is a string, not a number",
            "field",
        ),
        (
            {"op": "median", "field": "amount"},
            _line(AMOUNT),
            "rollup 'total' has op 'median'; use one of count, sum, min, max, avg",
            "op",
        ),
    ],
)
def test_rollup_check(
    kw: dict[str, Any], child: Any, message: str | None, option: str | None
) -> None:
    problems = check(rollup(**kw), child, make_entity("account"))
    assert problems == ([("CRM-E021", message, option)] if message else [])


def test_rollup_via_master_detail() -> None:
    child = make_entity("line", make_field("deal", "master_detail", to="deal"), AMOUNT)
    assert check(rollup(field="amount"), child) == []


def test_rollup_form_and_api_are_read_only() -> None:
    f = rollup(op="count")
    form = bind(f, [("x", "")])
    assert type(form.x).__name__ == "IntegerField"
    assert form.x.render_kw == {"readonly": True}
    assert api_dump(f, 3) == {"x": 3}
    with pytest.raises(marshmallow.ValidationError):
        api_load(f, {"x": 3})


# --- autonumber --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "counter", "when", "expected"),
    [
        ("QUO-{YYYY}-{0000}", 7, date(2024, 3, 5), "QUO-2024-0007"),
        ("QUO-{YYYY}-{0000}", 12345, date(2024, 3, 5), "QUO-2024-12345"),
        ("{YY}{MM}{DD}-{000}", 42, date(2024, 3, 5), "240305-042"),
        ("合同{YYYY}年第{00000}号", 1, date(2025, 1, 1), "合同2025年第00001号"),
        ("INV{0}", 9, date(2024, 1, 1), "INV9"),
        ("T-{0000}", 0, date(2024, 1, 1), "T-0000"),
    ],
)
def test_format_autonumber(fmt: str, counter: int, when: date, expected: str) -> None:
    assert format_autonumber(fmt, counter, when) == expected


def test_format_autonumber_refuses_a_negative_counter() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_autonumber("{0000}", -1, date(2024, 1, 1))


@pytest.mark.parametrize(
    ("fmt", "first", "second", "same_scope"),
    [
        ("QUO-{YYYY}-{0000}", date(2024, 1, 1), date(2024, 12, 31), True),
        ("QUO-{YYYY}-{0000}", date(2024, 12, 31), date(2025, 1, 1), False),
        ("{YYYY}{MM}-{000}", date(2024, 3, 1), date(2024, 4, 1), False),
        ("{YY}{MM}{DD}-{000}", date(2024, 3, 5), date(2024, 3, 5), True),
        ("CASE-{00000}", date(2024, 3, 5), date(2031, 7, 9), True),
    ],
)
def test_autonumber_scope(fmt: str, first: date, second: date, same_scope: bool) -> None:
    assert (autonumber_scope(fmt, first) == autonumber_scope(fmt, second)) is same_scope


def test_autonumber_scope_text() -> None:
    assert autonumber_scope("QUO-{YYYY}-{0000}", date(2024, 3, 5)) == "QUO-2024-{0000}"


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("QUO-{YYYY}-{0000}", None),
        ("{0}", None),
        (
            "QUO-{YYYY}",
            "autonumber 'number' has the format 'QUO-{YYYY}', which needs exactly one counter, "
            "a run of zeros such as {0000}",
        ),
        (
            "{0000}-{00}",
            "autonumber 'number' has the format '{0000}-{00}', which needs exactly one counter, "
            "a run of zeros such as {0000}",
        ),
        (
            "QUO-{YYYYY}-{0000}",
            "autonumber 'number' has the format 'QUO-{YYYYY}-{0000}' with the unknown part "
            "{YYYYY}; use {YYYY}, {YY}, {MM}, {DD} and a run of zeros such as {0000}",
        ),
        (
            "QUO-0000",
            "autonumber 'number' has the format 'QUO-0000', which needs exactly one "
            "counter, a run of zeros such as {0000}",
        ),
    ],
)
def test_autonumber_check(fmt: str, message: str | None) -> None:
    problems = check(make_field("number", "autonumber", format=fmt))
    assert problems == ([("CRM-E026", message, "format")] if message else [])


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_autonumber_column_is_unique(dialect: str) -> None:
    sql = create_sql(table_for(make_field("number", "autonumber", format="Q-{0000}")), dialect)
    assert "number VARCHAR(64)" in sql
    assert "UNIQUE (number)" in sql


def test_autonumber_values_form_and_api() -> None:
    ft = registry.get("autonumber")
    f = make_field("number", "autonumber", format="Q-{0000}", required=True)
    assert ft.to_python(f, "Q-0001") == "Q-0001"
    assert ft.display(f, "Q-0001") == "Q-0001"
    assert ft.expr_kind == "text"
    assert "starts_with" in ft.filter_ops
    form = bind(f, [("x", "")])
    assert type(form.x).__name__ == "StringField"
    assert form.x.render_kw == {"readonly": True}
    assert form.validate()
    assert api_dump(f, "Q-0001") == {"x": "Q-0001"}
    with pytest.raises(marshmallow.ValidationError):
        api_load(f, {"x": "Q-0002"})
