"""Relation field types: lookup, master_detail, user."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow
import pytest
import sqlalchemy as sa
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

from app.fields import FieldValueError, registry

RELATION_TYPES = ["lookup", "master_detail", "user"]


def rel(type_: str, **kw: Any) -> Any:
    if type_ != "user":
        kw.setdefault("to", "account")
    return make_field("account" if type_ != "user" else "manager", type_, **kw)


@pytest.mark.parametrize("name", RELATION_TYPES)
def test_options_schema_is_valid_json_schema(name: str) -> None:
    schema = {"type": "object", "properties": dict(registry.get(name).options_schema)}
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("options", "valid"),
    [
        ({"to": "account"}, True),
        ({"to": "account", "on_delete": "restrict"}, True),
        ({"to": "account", "on_delete": "cascade"}, False),
        ({"to": 5}, False),
    ],
)
def test_lookup_options_schema(options: dict[str, Any], valid: bool) -> None:
    schema = {"type": "object", "properties": dict(registry.get("lookup").options_schema)}
    if valid:
        validate(options, schema)
    else:
        with pytest.raises(ValidationError):
            validate(options, schema)


@pytest.mark.parametrize(
    ("name", "required"),
    [("lookup", ("to",)), ("master_detail", ("to",)), ("user", ())],
)
def test_required_options(name: str, required: tuple[str, ...]) -> None:
    assert registry.get(name).required_options == required


@pytest.mark.parametrize("type_", RELATION_TYPES)
def test_column_name_kind_and_ops(type_: str) -> None:
    ft = registry.get(type_)
    f = rel(type_)
    assert ft.column_name(f) == f"{f.name}_id"
    assert ft.expr_kind == "number"
    assert ft.filter_ops == ("eq", "in", "empty", "not_empty")


@pytest.mark.parametrize("type_", RELATION_TYPES)
@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), ("12", 12), (" 7 ", 7), (3.0, 3), (Decimal("4"), 4), (None, None)],
)
def test_to_python_accepts(type_: str, value: Any, expected: Any) -> None:
    assert registry.get(type_).to_python(rel(type_), value) == expected


@pytest.mark.parametrize("type_", RELATION_TYPES)
@pytest.mark.parametrize(
    "value", [0, -3, True, 2.5, "abc", "-1", "", [1], float("nan"), Decimal("Infinity")]
)
def test_to_python_refuses(type_: str, value: Any) -> None:
    with pytest.raises(FieldValueError) as exc:
        registry.get(type_).to_python(rel(type_), value)
    assert str(exc.value).endswith("is not a record id (a positive whole number).")


@pytest.mark.parametrize("type_", RELATION_TYPES)
def test_parse_text(type_: str) -> None:
    ft = registry.get(type_)
    assert ft.parse_text(rel(type_), " 42 ") == 42
    assert ft.parse_text(rel(type_), "") is None


@pytest.mark.parametrize(
    ("type_", "kw", "fk"),
    [
        (
            "lookup",
            {},
            "CONSTRAINT fk_ent_deal_account_id FOREIGN KEY(account_id) "
            "REFERENCES ent_account (id) ON DELETE SET NULL",
        ),
        (
            "lookup",
            {"on_delete": "restrict"},
            "CONSTRAINT fk_ent_deal_account_id FOREIGN KEY(account_id) "
            "REFERENCES ent_account (id) ON DELETE RESTRICT",
        ),
        (
            "master_detail",
            {},
            "CONSTRAINT fk_ent_deal_account_id FOREIGN KEY(account_id) "
            "REFERENCES ent_account (id) ON DELETE CASCADE",
        ),
        (
            "user",
            {},
            "CONSTRAINT fk_ent_deal_manager_id FOREIGN KEY(manager_id) "
            "REFERENCES sys_user (id) ON DELETE SET NULL",
        ),
    ],
)
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_column_has_named_foreign_key_and_index(
    type_: str, kw: dict[str, Any], fk: str, dialect: str
) -> None:
    f = rel(type_, **kw)
    table = table_for(f, "deal", "account")
    sql = create_sql(table, dialect)
    col = registry.get(type_).column_name(f)
    assert f"{col} INTEGER" in sql
    assert fk in sql
    assert f"CREATE INDEX ix_ent_deal_{col} ON ent_deal ({col})" in sql


def test_unique_lookup_gets_a_unique_index() -> None:
    table = table_for(rel("lookup", unique=True), "deal", "account")
    sql = create_sql(table, "postgresql")
    assert "CREATE UNIQUE INDEX ix_ent_deal_account_id ON ent_deal (account_id)" in sql


def test_the_model_builder_can_name_the_index_itself() -> None:
    """The column carries flags only: clearing them (as `app.model.build.field_index` does)
    leaves no index or constraint behind to collide with the builder's own."""
    f = rel("lookup")
    here = make_entity("deal", f)
    col = registry.get("lookup").column(f, here, make_meta(here))
    assert col is not None and col.index is True
    col.index = None
    md = sa.MetaData()
    sa.Table("ent_account", md, sa.Column("id", sa.Integer, primary_key=True))
    table = sa.Table(
        "ent_deal", md, sa.Column("id", sa.Integer, primary_key=True), col,
        sa.Index("ix_ent_deal_account_id", "account_id"),
    )  # fmt: skip
    assert [i.name for i in table.indexes] == ["ix_ent_deal_account_id"]
    assert {c.name for c in table.constraints} == {None, "fk_ent_deal_account_id"}


def test_long_foreign_key_names_fit_postgresql() -> None:
    f = make_field("a" * 60, "lookup", to="account")
    here = make_entity("b" * 60, f)
    col = registry.get("lookup").column(f, here, make_meta(here))
    assert col is not None
    [fk] = col.foreign_keys
    assert isinstance(fk.name, str)
    assert len(fk.name) == 63
    assert fk.name.startswith("fk_ent_bbbb")


def test_self_lookup_and_two_lookups_to_one_entity() -> None:
    parent = make_field("parent", "lookup", to="account")
    partner = make_field("partner", "lookup", to="account")
    here = make_entity("account", parent, partner)
    md = sa.MetaData()
    meta = make_meta(here)
    cols = [registry.get("lookup").column(f, here, meta) for f in (parent, partner)]
    table = sa.Table("ent_account", md, sa.Column("id", sa.Integer, primary_key=True), *cols)
    sql = create_sql(table, "sqlite")
    assert "fk_ent_account_parent_id FOREIGN KEY(parent_id) REFERENCES ent_account (id)" in sql
    assert "fk_ent_account_partner_id FOREIGN KEY(partner_id) REFERENCES ent_account (id)" in sql


@pytest.mark.parametrize(
    ("type_", "to", "others", "expected"),
    [
        ("lookup", "account", ["account"], []),
        (
            "lookup",
            "acount",
            ["account", "contact"],
            [
                (
                    "CRM-E020",
                    "field 'account' looks up entity 'acount', which does not exist "
                    "(did you mean 'account'?)",
                    "to",
                )
            ],
        ),
        (
            "master_detail",
            "zzz",
            ["account"],
            [("CRM-E020", "field 'account' looks up entity 'zzz', which does not exist", "to")],
        ),
        ("master_detail", "deal", [], []),  # a self reference: the entity itself
    ],
)
def test_check_target(type_: str, to: str, others: list[str], expected: list[Any]) -> None:
    assert check(rel(type_, to=to), *(make_entity(o) for o in others)) == expected


def test_check_on_delete() -> None:
    problems = check(rel("lookup", on_delete="cascade"), make_entity("account"))
    assert problems == [
        ("CRM-E020", "field 'account' has on_delete 'cascade'; use set_null or restrict",
         "on_delete"),
    ]  # fmt: skip


def test_user_has_no_config_checks() -> None:
    assert check(rel("user")) == []


@pytest.mark.parametrize(
    ("type_", "target"), [("lookup", "account"), ("master_detail", "account"), ("user", "user")]
)
def test_form_field(type_: str, target: str) -> None:
    form = bind(rel(type_), [("x", "42")])
    assert type(form.x).__name__ == "IntegerField"
    assert form.x.render_kw["data-lookup"] == target
    assert form.validate()
    assert form.x.data == 42


@pytest.mark.parametrize(("type_", "ok"), [("lookup", True), ("master_detail", False)])
def test_master_detail_is_always_required_in_forms(type_: str, ok: bool) -> None:
    form = bind(rel(type_), [("x", "")])
    assert form.validate() is ok


@pytest.mark.parametrize("type_", RELATION_TYPES)
def test_api_field_round_trip(type_: str) -> None:
    f = rel(type_)
    assert api_load(f, {"x": 7}) == {"x": 7}
    assert api_dump(f, 7) == {"x": 7}


@pytest.mark.parametrize(
    ("type_", "payload", "error"),
    [
        ("lookup", {"x": 0}, ["Must be greater than or equal to 1."]),
        ("lookup", {"x": "7"}, ["Not a valid integer."]),
        ("master_detail", {}, ["Missing data for required field."]),
        ("master_detail", {"x": None}, ["Field may not be null."]),
    ],
)
def test_api_field_refuses(type_: str, payload: dict[str, Any], error: list[str]) -> None:
    with pytest.raises(marshmallow.ValidationError) as exc:
        api_load(rel(type_), payload)
    assert exc.value.messages == {"x": error}


def test_optional_lookup_accepts_null_in_api() -> None:
    assert api_load(rel("lookup"), {"x": None}) == {"x": None}
