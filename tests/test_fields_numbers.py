"""Number field types: integer, decimal, currency, percent, boolean."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow
import pytest
from factories_meta import api_dump, api_load, bind, check, create_sql, make_field, table_for
from jsonschema import Draft202012Validator, ValidationError, validate

from app.fields import FieldValueError, registry

NUMBER_TYPES = ["integer", "decimal", "currency", "percent", "boolean"]
ORDERED = ("eq", "ne", "lt", "lte", "gt", "gte", "between", "empty", "not_empty")


@pytest.mark.parametrize("name", NUMBER_TYPES)
def test_options_schema_is_valid_json_schema(name: str) -> None:
    schema = {"type": "object", "properties": dict(registry.get(name).options_schema)}
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("name", "options", "valid"),
    [
        ("decimal", {"precision": 10, "scale": 2}, True),
        ("decimal", {"precision": "10"}, False),
        ("currency", {"currency": "CNY"}, True),
        ("currency", {"currency": "cny"}, False),
        ("currency", {"currency": "YUAN"}, False),
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
    ("type_", "kw", "value", "expected"),
    [
        ("integer", {}, 42, 42),
        ("integer", {}, "42", 42),
        ("integer", {}, " -7 ", -7),
        ("integer", {}, 3.0, 3),
        ("integer", {}, "12.0", 12),
        ("integer", {}, Decimal("5"), 5),
        ("integer", {}, None, None),
        ("decimal", {}, "1.23456", Decimal("1.2346")),
        ("decimal", {}, 1.1, Decimal("1.1000")),
        ("decimal", {}, 3, Decimal("3.0000")),
        ("decimal", {"scale": 0}, "2.5", Decimal("3")),
        ("decimal", {"precision": 10, "scale": 2}, Decimal("-1.005"), Decimal("-1.01")),
        ("currency", {"currency": "CNY"}, "1234.5", Decimal("1234.50")),
        ("currency", {}, 0.1 + 0.2, Decimal("0.30")),
        ("percent", {}, 12.5, Decimal("12.5000")),
        ("percent", {}, "33.333333", Decimal("33.3333")),
        ("boolean", {}, True, True),
        ("boolean", {}, 0, False),
        ("boolean", {}, "Yes", True),
        ("boolean", {}, "off", False),
        ("boolean", {}, "是", True),
        ("boolean", {}, "否", False),
        ("boolean", {}, None, None),
    ],
)
def test_to_python_accepts(type_: str, kw: dict[str, Any], value: Any, expected: Any) -> None:
    f = make_field("x", type_, **kw)
    got = registry.get(type_).to_python(f, value)
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(expected, Decimal):
        assert got.as_tuple().exponent == expected.as_tuple().exponent


@pytest.mark.parametrize(
    ("type_", "value", "message"),
    [
        ("integer", True, "'True' is not a whole number."),
        ("integer", 2.5, "'2.5' is not a whole number."),
        ("integer", "2.5", "'2.5' is not a whole number."),
        ("integer", "abc", "'abc' is not a whole number."),
        ("integer", float("nan"), "'nan' is not a whole number."),
        ("integer", [1], "'[1]' is not a whole number."),
        ("decimal", False, "'False' is not a number."),
        ("decimal", "12abc", "'12abc' is not a number."),
        ("decimal", "Infinity", "'Infinity' is not a number."),
        ("decimal", "1e40", "'1e40' is too large for this field."),
        ("currency", {}, "'{}' is not a number."),
        ("boolean", "maybe", "'maybe' is not yes or no."),
        ("boolean", 2, "'2' is not yes or no."),
    ],
)
def test_to_python_refuses(type_: str, value: Any, message: str) -> None:
    f = make_field("x", type_)
    with pytest.raises(FieldValueError) as exc:
        registry.get(type_).to_python(f, value)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("type_", "kw", "raw", "expected"),
    [
        ("integer", {}, "1,234", 1234),
        ("integer", {}, "  -1,234,567 ", -1234567),
        ("integer", {}, "１２３", 123),
        ("integer", {}, "", None),
        ("decimal", {}, "1,234.50", Decimal("1234.5000")),
        ("decimal", {}, ".5", Decimal("0.5000")),
        ("currency", {"currency": "CNY"}, "¥1,234.50", Decimal("1234.50")),
        ("currency", {"currency": "CNY"}, "￥1,234.50", Decimal("1234.50")),
        ("currency", {"currency": "CNY"}, "CNY 1,234.50", Decimal("1234.50")),
        ("currency", {"currency": "CNY"}, "RMB 88", Decimal("88.00")),
        ("currency", {"currency": "CNY"}, "1,234.50元", Decimal("1234.50")),
        ("currency", {"currency": "CNY"}, "-¥12", Decimal("-12.00")),
        ("currency", {"currency": "CNY"}, "¥-12", Decimal("-12.00")),
        ("currency", {"currency": "USD"}, "$1,234.50", Decimal("1234.50")),
        ("currency", {"currency": "USD"}, "usd 99.99", Decimal("99.99")),
        ("currency", {"currency": "EUR"}, "€ 5", Decimal("5.00")),
        ("currency", {"currency": "GBP"}, "£5", Decimal("5.00")),
        ("currency", {}, "USD 5", Decimal("5.00")),
        ("percent", {}, "12.5%", Decimal("12.5000")),
        ("percent", {}, "12.5 %", Decimal("12.5000")),
        ("percent", {}, "12.5％", Decimal("12.5000")),
        ("percent", {}, "80", Decimal("80.0000")),
        ("boolean", {}, "Y", True),
        ("boolean", {}, "n", False),
        ("boolean", {}, "TRUE", True),
        ("boolean", {}, " 是 ", True),
        ("boolean", {}, "否", False),
        ("boolean", {}, "", None),
    ],
)
def test_parse_text(type_: str, kw: dict[str, Any], raw: str, expected: Any) -> None:
    f = make_field("x", type_, **kw)
    assert registry.get(type_).parse_text(f, raw) == expected


@pytest.mark.parametrize(
    ("type_", "kw", "raw", "message"),
    [
        ("integer", {}, "12%", "'12%' is not a number (a percent sign is not expected)."),
        ("integer", {}, "1,23", "'1,23' is not a number."),
        ("decimal", {}, "1 234,50", "'1 234,50' is not a number."),
        ("decimal", {}, "--5", "'--5' is not a number."),
        ("decimal", {}, "XYZ 5", "'XYZ 5' is not a number."),
        ("currency", {"currency": "CNY"}, "USD 5", "'USD 5' is in USD, but this field is in CNY."),
        ("currency", {"currency": "CNY"}, "$5 USD", "'$5 USD' is not a number."),
    ],
)
def test_parse_text_refuses(type_: str, kw: dict[str, Any], raw: str, message: str) -> None:
    f = make_field("x", type_, **kw)
    with pytest.raises(FieldValueError) as exc:
        registry.get(type_).parse_text(f, raw)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("type_", "kw", "value", "problems"),
    [
        ("integer", {"min": 0, "max": 10}, 5, []),
        ("integer", {"min": 0}, -1, ["The value must be at least 0."]),
        ("integer", {"max": 10.0}, 11, ["The value must be at most 10."]),
        ("integer", {}, 2**63, [f"{2**63} is too large for this field."]),
        ("decimal", {"min": 0.5}, Decimal("0.4"), ["The value must be at least 0.5."]),
        (
            "decimal",
            {"precision": 5, "scale": 2},
            Decimal("1000.00"),
            ["1000 is too large for this field (at most 3 digits before the decimal point)."],
        ),
        ("decimal", {"precision": 5, "scale": 2}, Decimal("999.99"), []),
        ("currency", {"min": 0}, Decimal("-0.01"), ["The value must be at least 0."]),
        ("percent", {}, Decimal("100"), []),
        ("percent", {}, Decimal("100.5"), ["The value must be at most 100."]),
        ("percent", {}, Decimal("-1"), ["The value must be at least 0."]),
        ("percent", {"min": -50}, Decimal("-20"), []),
        ("percent", {"max": 200}, Decimal("150"), []),
        ("boolean", {}, True, []),
        ("integer", {"min": 0}, None, []),
        ("integer", {"min": "a lot"}, -5, []),  # check() reports the bound
        ("decimal", {"max": "a lot"}, Decimal("5"), []),
    ],
)
def test_validate(type_: str, kw: dict[str, Any], value: Any, problems: list[str]) -> None:
    f = make_field("x", type_, **kw)
    assert registry.get(type_).validate(f, value) == problems


@pytest.mark.parametrize(
    ("type_", "kw", "value", "locale", "shown"),
    [
        ("integer", {}, 2024, "en", "2024"),
        ("decimal", {"scale": 2}, Decimal("1234.5"), "en", "1,234.50"),
        ("currency", {"currency": "CNY"}, Decimal("1234.5"), "en", "¥1,234.50"),
        ("currency", {"currency": "CNY"}, Decimal("1234.5"), "zh", "¥1,234.50"),
        ("currency", {"currency": "USD"}, Decimal("1234.5"), "en", "$1,234.50"),
        ("currency", {"currency": "EUR"}, Decimal("1234.5"), "en", "EUR 1,234.50"),
        ("currency", {"currency": "USD"}, Decimal("-5"), "en", "-$5.00"),
        ("currency", {}, Decimal("7"), "en", "7.00"),
        ("percent", {}, Decimal("12.5000"), "en", "12.5%"),
        ("percent", {}, Decimal("100.0000"), "en", "100%"),
        ("percent", {}, Decimal("0"), "en", "0%"),
        ("boolean", {}, True, "en", "Yes"),
        ("boolean", {}, False, "en", "No"),
        ("boolean", {}, True, "zh", "是"),
        ("boolean", {}, False, "zh_CN", "否"),
        ("boolean", {}, None, "en", ""),
        ("currency", {}, None, "en", ""),
    ],
)
def test_display(type_: str, kw: dict[str, Any], value: Any, locale: str, shown: str) -> None:
    f = make_field("x", type_, **kw)
    assert registry.get(type_).display(f, value, locale) == shown


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("decimal", Decimal("1.5000"), "1.5000"),
        ("currency", Decimal("1E+3"), "1000"),
        ("integer", 5, 5),
        ("boolean", False, False),
        ("percent", None, None),
    ],
)
def test_to_json(type_: str, value: Any, expected: Any) -> None:
    assert registry.get(type_).to_json(make_field("x", type_), value) == expected


@pytest.mark.parametrize(
    ("type_", "kw", "codes"),
    [
        ("integer", {"min": 0, "max": 10}, []),
        ("integer", {"min": 10, "max": 0}, ["CRM-E027"]),
        ("decimal", {"min": 1.5, "max": 1.5}, []),
        ("decimal", {"precision": 4, "scale": 6}, ["CRM-E028"]),
        ("currency", {"min": 5, "max": 1}, ["CRM-E027"]),
        ("percent", {"min": "a lot"}, ["CRM-E027"]),
    ],
)
def test_check(type_: str, kw: dict[str, Any], codes: list[str]) -> None:
    assert [p[0] for p in check(make_field("x", type_, **kw))] == codes


def test_check_messages() -> None:
    [(code, message, option)] = check(make_field("qty", "integer", min=10, max=0))
    assert code == "CRM-E027"
    assert message == "field 'qty' has min '10' greater than max '0'"
    assert option == "min"
    [(code, message, option)] = check(make_field("d", "decimal", precision=4, scale=6))
    assert (code, option) == ("CRM-E028", "scale")
    assert message == "field 'd' has scale 6 greater than its precision 4"


@pytest.mark.parametrize(
    ("type_", "kw", "sql"),
    [
        ("integer", {}, "x BIGINT"),
        ("decimal", {}, "x NUMERIC(18, 4)"),
        ("decimal", {"precision": 10, "scale": 2}, "x NUMERIC(10, 2)"),
        ("currency", {"currency": "CNY"}, "x NUMERIC(18, 2)"),
        ("percent", {}, "x NUMERIC(9, 4)"),
        ("boolean", {}, "x BOOLEAN"),
    ],
)
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_column(type_: str, kw: dict[str, Any], sql: str, dialect: str) -> None:
    assert sql in create_sql(table_for(make_field("x", type_, **kw)), dialect)


@pytest.mark.parametrize(
    ("type_", "kw", "widget", "raw", "ok", "data"),
    [
        ("integer", {}, "IntegerField", "42", True, 42),
        ("integer", {}, "IntegerField", "4.2", False, None),
        ("integer", {"min": 0, "max": 10}, "IntegerField", "11", False, 11),
        ("decimal", {"scale": 2}, "DecimalField", "1.5", True, Decimal("1.5")),
        ("currency", {}, "DecimalField", "99.99", True, Decimal("99.99")),
        ("percent", {}, "DecimalField", "101", False, Decimal("101")),
        ("integer", {}, "IntegerField", "", True, None),
    ],
)
def test_form_field(
    type_: str, kw: dict[str, Any], widget: str, raw: str, ok: bool, data: Any
) -> None:
    form = bind(make_field("x", type_, **kw), [("x", raw)])
    assert type(form.x).__name__ == widget
    assert form.validate() is ok
    assert form.x.data == data


@pytest.mark.parametrize(("data", "checked"), [([("x", "y")], True), ([], False)])
def test_boolean_form_field(data: list[tuple[str, str]], checked: bool) -> None:
    form = bind(make_field("x", "boolean", required=True, label={"zh": "已签约"}), data, "zh")
    assert type(form.x).__name__ == "BooleanField"
    assert form.x.label.text == "已签约"
    assert form.validate()
    assert form.x.data is checked


@pytest.mark.parametrize(
    ("type_", "kw", "payload", "loaded", "dumped"),
    [
        ("integer", {}, {"x": 5}, {"x": 5}, {"x": 5}),
        ("decimal", {}, {"x": "1.23456"}, {"x": Decimal("1.2346")}, {"x": "1.2346"}),
        ("currency", {}, {"x": 12}, {"x": Decimal("12.00")}, {"x": "12.00"}),
        ("percent", {}, {"x": "12.5"}, {"x": Decimal("12.5000")}, {"x": "12.5000"}),
        ("boolean", {}, {"x": True}, {"x": True}, {"x": True}),
        ("boolean", {}, {"x": None}, {"x": None}, {"x": None}),
    ],
)
def test_api_field_round_trip(
    type_: str, kw: dict[str, Any], payload: Any, loaded: Any, dumped: Any
) -> None:
    f = make_field("x", type_, **kw)
    assert api_load(f, payload) == loaded
    assert api_dump(f, loaded["x"]) == dumped


@pytest.mark.parametrize(
    ("type_", "kw", "payload", "error"),
    [
        ("integer", {}, {"x": 2.5}, "Not a valid integer."),
        ("integer", {}, {"x": True}, "Not a valid integer."),
        ("integer", {"min": 0}, {"x": -1}, "Must be greater than or equal to 0."),
        (
            "percent",
            {},
            {"x": "101"},
            "Must be greater than or equal to 0 and less than or equal to 100.",
        ),
        (
            "decimal",
            {},
            {"x": "NaN"},
            "Special numeric values (nan or infinity) are not permitted.",
        ),
        ("integer", {"required": True}, {}, "Missing data for required field."),
    ],
)
def test_api_field_refuses(type_: str, kw: dict[str, Any], payload: Any, error: str) -> None:
    with pytest.raises(marshmallow.ValidationError) as exc:
        api_load(make_field("x", type_, **kw), payload)
    assert exc.value.messages == {"x": [error]}


@pytest.mark.parametrize(
    ("type_", "ops", "kind"),
    [
        ("integer", ORDERED, "number"),
        ("decimal", ORDERED, "number"),
        ("currency", ORDERED, "number"),
        ("percent", ORDERED, "number"),
        ("boolean", ("eq", "empty", "not_empty"), "bool"),
    ],
)
def test_filter_ops_and_kind(type_: str, ops: tuple[str, ...], kind: str) -> None:
    ft = registry.get(type_)
    assert ft.filter_ops == ops
    assert ft.expr_kind == kind
    assert not ft.computed


def test_a_bad_bound_never_breaks_forms_or_the_api() -> None:
    f = make_field("x", "integer", min="a lot", max=10)
    assert not bind(f, [("x", "11")]).validate()
    assert bind(f, [("x", "-5")]).validate()
    assert api_load(f, {"x": -5}) == {"x": -5}


@pytest.mark.parametrize(
    ("kw", "type_", "render_kw", "shown"),
    [
        ({"currency": "USD"}, "currency", {"data-currency": "USD"}, "12.50"),
        ({}, "currency", {"data-currency": ""}, "12.50"),
        ({}, "percent", {"data-suffix": "%"}, "12.5"),
        ({"scale": 3}, "decimal", {}, "12.5"),
    ],
)
def test_form_field_widget_hints(
    kw: dict[str, Any], type_: str, render_kw: dict[str, str], shown: str
) -> None:
    """Money shows its currency before the input, percent a % after; only money keeps two
    decimals when a stored value is shown (12.5000 shows as 12.5)."""
    form = bind(make_field("x", type_, **kw))
    assert {k: v for k, v in form.x.render_kw.items() if k != "readonly"} == render_kw
    form.x.data = Decimal("12.5")
    assert form.x._value() == shown
