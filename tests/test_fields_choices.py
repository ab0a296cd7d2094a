"""Choice field types: picklist, multi_picklist, tags."""

from __future__ import annotations

from typing import Any

import marshmallow
import pytest
from factories_meta import api_dump, api_load, bind, check, create_sql, make_field, table_for
from jsonschema import Draft202012Validator, ValidationError, validate

from app.fields import FieldValueError, registry
from app.meta.types import Choice

STAGES = [
    {"value": "prospecting", "label": {"en": "Prospecting", "zh": "初步接洽"}, "color": "#94a3b8",
     "probability": 10},
    {"value": "won", "label": {"en": "Won", "zh": "赢单"}, "color": "#16a34a", "probability": 100},
    "lost",
]  # fmt: skip
ALLOWED = "prospecting, won, lost"


def stage(type_: str = "picklist", **kw: Any) -> Any:
    return make_field("stage", type_, choices=STAGES, **kw)


@pytest.mark.parametrize("name", ["picklist", "multi_picklist", "tags"])
def test_options_schema_is_valid_json_schema(name: str) -> None:
    schema = {"type": "object", "properties": dict(registry.get(name).options_schema)}
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("name", "options", "valid"),
    [
        ("picklist", {"choices": STAGES}, True),
        ("picklist", {"choices": ["a", {"value": "b", "label": {"en": "B", "zh": "乙"}}]}, True),
        ("picklist", {"choices": [{"label": {"en": "no value"}}]}, False),
        ("picklist", {"choices": [{"value": "a", "color": "red"}]}, False),
        ("picklist", {"choices": [{"value": "a", "label": {"en": 1}}]}, False),
        ("picklist", {"choices": "a,b"}, False),
        ("multi_picklist", {"choices": ["a", "b"]}, True),
        ("tags", {"choices": ["vip", "重点客户"]}, True),
        ("tags", {"choices": [{"value": "vip"}]}, False),
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


def test_normalize_options_makes_choices() -> None:
    options = registry.get("picklist").normalize_options({"choices": STAGES, "other": 1})
    first, won, lost = options["choices"]
    assert isinstance(first, Choice)
    assert first.value == "prospecting"
    assert dict(first.label) == {"en": "Prospecting", "zh": "初步接洽"}
    assert first.color == "#94a3b8"
    assert dict(first.extra) == {"probability": 10}
    assert dict(won.extra) == {"probability": 100}
    assert lost == Choice(value="lost")
    assert options["other"] == 1
    # normalising twice changes nothing
    again = registry.get("picklist").normalize_options(dict(options))
    assert again["choices"] == options["choices"]


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ([{"label": {"en": "x"}}], "has no value"),
        ([["a"]], "is not text"),
        ("a,b", "choices must be a list"),
    ],
)
def test_normalize_options_refuses(choices: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        registry.get("multi_picklist").normalize_options({"choices": choices})


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("picklist", "won", "won"),
        ("picklist", "lost", "lost"),
        ("picklist", None, None),
        ("multi_picklist", ["won", "lost"], ["won", "lost"]),
        ("multi_picklist", ["lost", "won", "lost"], ["lost", "won"]),
        ("multi_picklist", "won, lost", ["won", "lost"]),
        ("multi_picklist", [], []),
        ("multi_picklist", ("won",), ["won"]),
    ],
)
def test_to_python_accepts(type_: str, value: Any, expected: Any) -> None:
    assert registry.get(type_).to_python(stage(type_), value) == expected


@pytest.mark.parametrize(
    ("type_", "value", "message"),
    [
        ("picklist", "Won", f"'Won' is not one of the allowed values: {ALLOWED}."),
        ("picklist", "赢单", f"'赢单' is not one of the allowed values: {ALLOWED}."),
        ("picklist", 3, f"'3' is not one of the allowed values: {ALLOWED}."),
        ("picklist", ["won"], f"'['won']' is not one of the allowed values: {ALLOWED}."),
        (
            "multi_picklist",
            ["won", "maybe"],
            f"'maybe' is not one of the allowed values: {ALLOWED}.",
        ),
        ("multi_picklist", ["x", "y"], f"'x', 'y' are not of the allowed values: {ALLOWED}."),
        ("multi_picklist", {"won": True}, "'{'won': True}' is not a list of values."),
    ],
)
def test_to_python_refuses(type_: str, value: Any, message: str) -> None:
    with pytest.raises(FieldValueError) as exc:
        registry.get(type_).to_python(stage(type_), value)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("picklist", "won", "won"),
        ("picklist", " WON ", "won"),
        ("picklist", "Prospecting", "prospecting"),
        ("picklist", "初步接洽", "prospecting"),
        ("picklist", "赢单", "won"),
        ("picklist", "LOST", "lost"),
        ("picklist", "", None),
        ("multi_picklist", "won, lost", ["won", "lost"]),
        ("multi_picklist", "赢单；初步接洽", ["won", "prospecting"]),
        ("multi_picklist", "赢单，Lost", ["won", "lost"]),
        ("multi_picklist", "won;lost|prospecting", ["won", "lost", "prospecting"]),
        ("multi_picklist", "won, Won, 赢单", ["won"]),
        ("multi_picklist", " ", None),
    ],
)
def test_parse_text(type_: str, raw: str, expected: Any) -> None:
    assert registry.get(type_).parse_text(stage(type_), raw) == expected


def test_parse_text_refuses_with_the_allowed_values() -> None:
    with pytest.raises(FieldValueError) as exc:
        registry.get("multi_picklist").parse_text(stage("multi_picklist"), "won, 输单")
    assert str(exc.value) == f"'输单' is not one of the allowed values: {ALLOWED}."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["vip", "重点客户"], ["vip", "重点客户"]),
        ([" vip ", "vip", "VIP"], ["vip", "VIP"]),
        ("vip, 重点客户，vip", ["vip", "重点客户"]),
        ("a,,b", ["a", "b"]),
        ([2024], ["2024"]),
        (None, None),
    ],
)
def test_tags_to_python(value: Any, expected: Any) -> None:
    assert registry.get("tags").to_python(make_field("t", "tags"), value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["vip", "  "], "'  ' is not a tag (tags are non-empty text)."),
        ([None], "'None' is not a tag (tags are non-empty text)."),
        ({"a": 1}, "'{'a': 1}' is not a list of tags."),
    ],
)
def test_tags_to_python_refuses(value: Any, message: str) -> None:
    with pytest.raises(FieldValueError) as exc:
        registry.get("tags").to_python(make_field("t", "tags"), value)
    assert str(exc.value) == message


def test_tags_parse_text() -> None:
    f = make_field("t", "tags")
    assert registry.get("tags").parse_text(f, "vip；重点客户 | 2024") == ["vip", "重点客户", "2024"]


@pytest.mark.parametrize(
    ("type_", "value", "problems"),
    [
        ("picklist", "won", []),
        ("picklist", "gone", [f"'gone' is not one of the allowed values: {ALLOWED}."]),
        ("picklist", None, []),
        ("multi_picklist", ["won"], []),
        ("multi_picklist", ["gone"], [f"'gone' is not one of the allowed values: {ALLOWED}."]),
    ],
)
def test_validate(type_: str, value: Any, problems: list[str]) -> None:
    assert registry.get(type_).validate(stage(type_), value) == problems


@pytest.mark.parametrize(
    ("type_", "value", "locale", "shown"),
    [
        ("picklist", "won", "en", "Won"),
        ("picklist", "won", "zh", "赢单"),
        ("picklist", "won", "zh_CN", "赢单"),
        ("picklist", "won", "fr", "Won"),
        ("picklist", "lost", "zh", "lost"),
        ("picklist", "gone", "en", "gone"),
        ("picklist", None, "en", ""),
        ("multi_picklist", ["prospecting", "won"], "zh", "初步接洽, 赢单"),
        ("multi_picklist", ["won", "lost"], "en", "Won, lost"),
        ("tags", ["vip", "重点客户"], "en", "vip, 重点客户"),
        ("tags", None, "en", ""),
    ],
)
def test_display(type_: str, value: Any, locale: str, shown: str) -> None:
    f = make_field("t", "tags") if type_ == "tags" else stage(type_)
    assert registry.get(type_).display(f, value, locale) == shown


@pytest.mark.parametrize(
    ("type_", "kw", "expected"),
    [
        ("picklist", {"choices": ["a", "b"]}, []),
        ("picklist", {"choices": []}, [("CRM-E023", "field 'x' has no choices", "choices")]),
        (
            "picklist",
            {"choices": ["a", {"value": "b"}, "a", "b", "c"]},
            [("CRM-E023", "field 'x' lists the choice 'a', 'b' twice", "choices")],
        ),
        (
            "picklist",
            {"choices": ["a", "b"], "default": "c"},
            [
                (
                    "CRM-E024",
                    "field 'x' has the default 'c', which is not one of its choices (a, b)",
                    "default",
                )
            ],
        ),
        ("picklist", {"choices": ["a", "b"], "default": "a"}, []),
        ("multi_picklist", {"choices": ["a", "b"], "default": ["a", "b"]}, []),
        (
            "multi_picklist",
            {"choices": ["a", "b"], "default": ["a", "z"]},
            [
                (
                    "CRM-E024",
                    "field 'x' has the default 'z', which is not one of its choices (a, b)",
                    "default",
                )
            ],
        ),
    ],
)
def test_check(type_: str, kw: dict[str, Any], expected: list[Any]) -> None:
    assert check(make_field("x", type_, **kw)) == expected


def test_check_choices_written_badly() -> None:
    f = make_field("x", "picklist", choices=["a"])
    broken = type(f)(name="x", type="picklist", options={"choices": [{"label": "no value"}]})
    assert check(f) == []
    [(code, message, option)] = check(broken)
    assert (code, option) == ("CRM-E023", "choices")
    assert "has no value" in message


@pytest.mark.parametrize(
    ("type_", "sqlite_sql", "pg_sql"),
    [
        ("picklist", "stage VARCHAR(80)", "stage VARCHAR(80)"),
        ("multi_picklist", "stage JSON", "stage JSONB"),
        ("tags", "stage JSON", "stage JSONB"),
    ],
)
def test_column(type_: str, sqlite_sql: str, pg_sql: str) -> None:
    f = make_field("stage", "tags") if type_ == "tags" else stage(type_)
    table = table_for(f)
    assert sqlite_sql in create_sql(table, "sqlite")
    assert pg_sql in create_sql(table, "postgresql")


def test_picklist_form_field() -> None:
    form = bind(stage(label={"en": "Stage", "zh": "阶段"}), [("x", "won")], locale="zh")
    assert type(form.x).__name__ == "SelectField"
    assert form.x.label.text == "阶段"
    assert [(c[0], c[1], c[3]) for c in form.x.iter_choices()] == [
        ("", "", {}),
        ("prospecting", "初步接洽", {"data-color": "#94a3b8"}),
        ("won", "赢单", {"data-color": "#16a34a"}),
        ("lost", "lost", {}),
    ]
    assert form.validate()
    assert form.x.data == "won"


@pytest.mark.parametrize(
    ("required", "raw", "ok"),
    [(False, "", True), (True, "", False), (False, "gone", False), (True, "lost", True)],
)
def test_picklist_form_field_validates(required: bool, raw: str, ok: bool) -> None:
    form = bind(stage(required=required), [("x", raw)])
    assert form.validate() is ok


def test_multi_picklist_form_field() -> None:
    form = bind(stage("multi_picklist"), [("x", "won"), ("x", "lost")])
    assert type(form.x).__name__ == "SelectMultipleField"
    assert form.validate()
    assert form.x.data == ["won", "lost"]
    bad = bind(stage("multi_picklist"), [("x", "won"), ("x", "gone")])
    assert not bad.validate()


def test_tags_form_field() -> None:
    form = bind(make_field("t", "tags", choices=["vip", "key"]), [("x", "vip, new")])
    assert type(form.x).__name__ == "StringField"
    assert form.x.render_kw == {"data-tags": "vip,key"}
    assert form.validate()
    assert registry.get("tags").to_python(make_field("t", "tags"), form.x.data) == ["vip", "new"]


@pytest.mark.parametrize(
    ("type_", "payload"),
    [
        ("picklist", "won"),
        ("picklist", None),
        ("multi_picklist", ["won", "lost"]),
        ("tags", ["vip", "重点客户"]),
    ],
)
def test_api_field_round_trip(type_: str, payload: Any) -> None:
    f = make_field("t", "tags") if type_ == "tags" else stage(type_)
    assert api_load(f, {"x": payload}) == {"x": payload}
    assert api_dump(f, payload) == {"x": payload}


@pytest.mark.parametrize(
    ("type_", "payload", "error"),
    [
        ("picklist", "gone", ["Must be one of: prospecting, won, lost."]),
        ("multi_picklist", ["won", "gone"], {1: ["Must be one of: prospecting, won, lost."]}),
        ("multi_picklist", "won", ["Not a valid list."]),
        ("tags", [1], {0: ["Not a valid string."]}),
    ],
)
def test_api_field_refuses(type_: str, payload: Any, error: Any) -> None:
    f = make_field("t", "tags") if type_ == "tags" else stage(type_)
    with pytest.raises(marshmallow.ValidationError) as exc:
        api_load(f, {"x": payload})
    assert exc.value.messages == {"x": error}


@pytest.mark.parametrize(
    ("type_", "ops", "kind"),
    [
        ("picklist", ("eq", "ne", "in", "not_in", "empty", "not_empty"), "text"),
        ("multi_picklist", ("contains", "empty", "not_empty"), "list"),
        ("tags", ("contains", "empty", "not_empty"), "list"),
    ],
)
def test_filter_ops_and_kind(type_: str, ops: tuple[str, ...], kind: str) -> None:
    ft = registry.get(type_)
    assert ft.filter_ops == ops
    assert ft.expr_kind == kind


def test_to_json_lists() -> None:
    assert registry.get("multi_picklist").to_json(stage("multi_picklist"), ("won",)) == ["won"]
    assert registry.get("tags").to_json(make_field("t", "tags"), None) is None


def test_tags_form_field_suggests_its_choices() -> None:
    form = bind(make_field("t", "tags", choices=["vip", "key"]))
    html = form.x() + form.x.datalist()
    assert 'list="x-datalist"' in html
    assert '<datalist id="x-datalist">' in html and 'value="vip"' in html
    plain = bind(make_field("t", "tags"))
    assert "list=" not in plain.x() and plain.x.datalist() == ""
