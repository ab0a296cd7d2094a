"""The registry of field types: every built-in type, once, each honouring the contract."""

from __future__ import annotations

from typing import Any

import marshmallow
import pytest
import sqlalchemy as sa
import wtforms
from factories_meta import make_entity, make_field, make_meta
from jsonschema import Draft202012Validator

import app.fields
from app.fields import ConfigProblem, FieldType, FieldValueError, registry
from app.fields.base import Registry, register

BUILT_IN = {
    "string", "text", "rich_text", "email", "phone", "url",
    "integer", "decimal", "currency", "percent", "boolean",
    "date", "datetime", "time",
    "picklist", "multi_picklist", "tags",
    "lookup", "master_detail", "user",
    "formula", "rollup", "autonumber",
    "file", "json",
}  # fmt: skip
KINDS = {"number", "text", "bool", "date", "datetime", "time", "list", "any"}
OPS = {
    "eq", "ne", "lt", "lte", "gt", "gte", "between", "contains", "starts_with", "in", "not_in",
    "empty", "not_empty",
}  # fmt: skip

#: the options each type needs to be built in these tests
OPTIONS: dict[str, dict[str, Any]] = {
    "picklist": {"choices": ["a", "b"]},
    "multi_picklist": {"choices": ["a", "b"]},
    "lookup": {"to": "account"},
    "master_detail": {"to": "account"},
    "formula": {"expr": "1 + 1", "result": "integer"},
    "rollup": {"entity": "line", "via": "deal", "op": "count"},
    "autonumber": {"format": "N-{0000}"},
}


def test_package_reexports() -> None:
    assert set(app.fields.__all__) == {"registry", "FieldType", "FieldValueError", "ConfigProblem"}
    assert issubclass(FieldValueError, ValueError)
    assert ConfigProblem("CRM-E020", "x").option is None


def test_every_built_in_type_is_registered() -> None:
    # plugins' types (a plugin test's module fixture may still be active in this worker) are
    # not built in: only the app's own count
    own = {n for n in registry.names() if type(registry.get(n)).__module__.startswith("app.")}
    assert own == BUILT_IN
    for name in BUILT_IN:
        assert name in registry
        assert registry.get(name).name == name
        assert isinstance(registry.get(name), FieldType)


def test_registering_a_second_class_under_a_taken_name_raises() -> None:
    class AnotherString(FieldType):
        name = "string"

    with pytest.raises(ValueError, match="field type 'string' is registered twice"):
        register(AnotherString)
    assert type(registry.get("string")).__name__ == "StringType"


def test_registering_the_same_class_again_is_harmless() -> None:
    cls = type(registry.get("email"))
    assert register(cls) is cls
    assert type(registry.get("email")) is cls


def test_a_type_needs_a_name() -> None:
    class Nameless(FieldType):
        pass

    with pytest.raises(ValueError, match="Nameless has no name"):
        Registry().register(Nameless)


def test_a_plugin_type_registers_in_its_own_registry() -> None:
    reg = Registry()

    @reg.register
    class Rating(FieldType):
        name = "rating"
        expr_kind = "number"

        def sa_type(self, f: Any) -> sa.types.TypeEngine[Any]:
            return sa.SmallInteger()

    assert reg.names() == ["rating"]
    assert isinstance(reg.get("rating"), Rating)
    assert "rating" not in registry


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_contract(name: str) -> None:
    ft = registry.get(name)
    f = make_field("x", name, **OPTIONS.get(name, {}))
    entity = make_entity("deal", f)
    meta = make_meta(entity, make_entity("account"))

    Draft202012Validator.check_schema({"type": "object", "properties": dict(ft.options_schema)})
    assert set(ft.required_options) <= set(ft.options_schema)
    assert ft.expr_kind in KINDS
    assert ft.expr_kind_of(f) in KINDS
    assert set(ft.filter_ops) <= OPS
    assert set(ft.filter_ops_of(f)) <= OPS
    assert ft.computed == (name in {"formula", "rollup", "autonumber"})

    col = ft.column(f, entity, meta)
    assert (col is None) == (not ft.has_column)
    if col is not None:
        assert col.name == ft.column_name(f)
        assert col.nullable
    assert isinstance(ft.sa_type(f), sa.types.TypeEngine)

    assert ft.to_python(f, None) is None
    assert ft.parse_text(f, "   ") is None
    assert ft.display(f, None) == ""
    assert ft.validate(f, None) == []
    assert ft.to_json(f, None) is None

    unbound = ft.form_field(f, "zh")
    assert isinstance(unbound, wtforms.fields.core.UnboundField)
    form = type("F", (wtforms.Form,), {"x": unbound})()
    assert form.x.label.text == "X"
    api = ft.api_field(f)
    assert isinstance(api, marshmallow.fields.Field)
    assert api.dump_only == ft.computed

    problems = ft.check(f, entity, meta)
    assert all(isinstance(p, ConfigProblem) for p in problems)


def test_check_problems_of_the_whole_registry_are_coded() -> None:
    """Every check() problem carries a CRM-E02x code and names its option."""
    bad = [
        make_field("a", "lookup", to="nowhere"),
        make_field("b", "picklist", choices=[]),
        make_field("c", "formula", expr="1", result="money"),
        make_field("d", "string", pattern="("),
        make_field("e", "autonumber", format="X"),
        make_field("f", "integer", min=5, max=1),
        make_field("g", "rollup", entity="nowhere", via="x", op="count"),
    ]
    entity = make_entity("deal", *bad)
    meta = make_meta(entity)
    codes = []
    for f in bad:
        for p in registry.get(f.type).check(f, entity, meta):
            assert p.code.startswith("CRM-E02")
            assert p.option
            assert f"'{f.name}'" in p.message
            codes.append(p.code)
    assert codes == [
        "CRM-E020",
        "CRM-E023",
        "CRM-E022",
        "CRM-E025",
        "CRM-E026",
        "CRM-E027",
        "CRM-E021",
    ]
