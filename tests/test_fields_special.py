"""Special field types: file, json."""

from __future__ import annotations

from typing import Any

import marshmallow
import pytest
from factories_meta import api_dump, api_load, bind, check, create_sql, make_field, table_for
from jsonschema import Draft202012Validator, ValidationError, validate

from app.fields import FieldValueError, registry

PDF = {"name": "合同.pdf", "size": 1536, "content_type": "application/pdf", "key": "k/1"}


@pytest.mark.parametrize("name", ["file", "json"])
def test_options_schema_is_valid_json_schema(name: str) -> None:
    schema = {"type": "object", "properties": dict(registry.get(name).options_schema)}
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("options", "valid"),
    [
        ({"max_size": 10_485_760, "accept": ["image/*", ".pdf"]}, True),
        ({"max_size": "10MB"}, False),
        ({"accept": "pdf"}, False),
    ],
)
def test_file_options_schema(options: dict[str, Any], valid: bool) -> None:
    schema = {"type": "object", "properties": dict(registry.get("file").options_schema)}
    if valid:
        validate(options, schema)
    else:
        with pytest.raises(ValidationError):
            validate(options, schema)


# --- file --------------------------------------------------------------------------------


def test_file_to_python_keeps_the_four_keys() -> None:
    f = make_field("doc", "file")
    assert registry.get("file").to_python(f, {**PDF, "extra": 1}) == PDF
    assert registry.get("file").to_python(f, None) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("contract.pdf", "'contract.pdf' is not a stored file."),
        ({"name": "a.pdf"}, "The file description lacks size, content_type, key."),
        ({**PDF, "name": " "}, "The file has no name."),
        ({**PDF, "size": -1}, "'-1' is not a file size in bytes."),
        ({**PDF, "size": True}, "'True' is not a file size in bytes."),
        ({**PDF, "key": 5}, "The file's content type and storage key must be text."),
    ],
)
def test_file_to_python_refuses(value: Any, message: str) -> None:
    with pytest.raises(FieldValueError) as exc:
        registry.get("file").to_python(make_field("doc", "file"), value)
    assert str(exc.value) == message


def test_file_parse_text() -> None:
    ft, f = registry.get("file"), make_field("doc", "file")
    assert ft.parse_text(f, "") is None
    assert ft.parse_text(f, '{"name": "a.pdf", "size": 1, "content_type": "x", "key": "k"}') == {
        "name": "a.pdf", "size": 1, "content_type": "x", "key": "k",
    }  # fmt: skip
    with pytest.raises(FieldValueError, match=r"A file cannot be read from text\."):
        ft.parse_text(f, "contract.pdf")


@pytest.mark.parametrize(
    ("kw", "value", "problems"),
    [
        ({}, PDF, []),
        ({"max_size": 2048}, PDF, []),
        ({"max_size": 1024}, PDF, ["The file is 1.5 KB; the limit is 1 KB."]),
        (
            {"max_size": 10_485_760},
            {**PDF, "size": 20_971_520},
            ["The file is 20 MB; the limit is 10 MB."],
        ),
        (
            {"max_size": 100},
            {**PDF, "size": 101},
            ["The file is 101 bytes; the limit is 100 bytes."],
        ),
        ({"accept": [".pdf"]}, PDF, []),
        ({"accept": ["PDF"]}, PDF, []),
        ({"accept": ["application/pdf"]}, PDF, []),
        ({"accept": ["application/*"]}, PDF, []),
        (
            {"accept": ["image/*", ".png"]},
            PDF,
            ["This kind of file is not accepted (use image/*, .png)."],
        ),
        (
            {"accept": ["image/*"], "max_size": 1},
            PDF,
            [
                "The file is 1.5 KB; the limit is 1 bytes.",
                "This kind of file is not accepted (use image/*).",
            ],
        ),
        ({"max_size": 1}, None, []),
    ],
)
def test_file_validate(kw: dict[str, Any], value: Any, problems: list[str]) -> None:
    assert registry.get("file").validate(make_field("doc", "file", **kw), value) == problems


def test_file_display_and_json() -> None:
    ft, f = registry.get("file"), make_field("doc", "file")
    assert ft.display(f, PDF, "zh") == "合同.pdf"
    assert ft.display(f, None) == ""
    assert ft.to_json(f, PDF) == PDF
    assert ft.filter_ops == ("empty", "not_empty")


def test_file_form_field() -> None:
    form = bind(make_field("doc", "file", accept=["image/*", ".pdf"]))
    assert type(form.x).__name__ == "FileField"
    assert form.x.render_kw == {"accept": "image/*,.pdf"}


def test_file_api_field() -> None:
    f = make_field("doc", "file")
    assert api_load(f, {"x": PDF}) == {"x": PDF}
    assert api_dump(f, PDF) == {"x": PDF}
    with pytest.raises(marshmallow.ValidationError) as exc:
        api_load(f, {"x": "a.pdf"})
    assert exc.value.messages == {"x": ["Not a valid mapping type."]}


# --- json --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [{"a": [1, 2.5, None, True]}, [1, "二"], "text", 5, None, {"嵌套": {"x": {}}}]
)
def test_json_to_python_accepts(value: Any) -> None:
    assert registry.get("json").to_python(make_field("data", "json"), value) == value


@pytest.mark.parametrize("value", [{1, 2}, object(), float("nan"), {"a": b"bytes"}])
def test_json_to_python_refuses(value: Any) -> None:
    with pytest.raises(FieldValueError) as exc:
        registry.get("json").to_python(make_field("data", "json"), value)
    assert str(exc.value).endswith("cannot be stored as JSON.")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [('{"a": 1}', {"a": 1}), ("[1, 2]", [1, 2]), ('"x"', "x"), ("", None)],
)
def test_json_parse_text(raw: str, expected: Any) -> None:
    assert registry.get("json").parse_text(make_field("data", "json"), raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            "{a: 1}",
            "'{a: 1}' is not valid JSON (Expecting property name enclosed in double quotes).",
        ),
        ("NaN", "'nan' cannot be stored as JSON."),
    ],
)
def test_json_parse_text_refuses(raw: str, message: str) -> None:
    with pytest.raises(FieldValueError) as exc:
        registry.get("json").parse_text(make_field("data", "json"), raw)
    assert str(exc.value) == message


def test_json_display_form_api() -> None:
    ft, f = registry.get("json"), make_field("data", "json")
    assert ft.display(f, {"城市": "上海"}) == '{"城市": "上海"}'
    assert ft.display(f, None) == ""
    assert ft.filter_ops == ("empty", "not_empty")
    assert ft.expr_kind == "any"
    form = bind(f, [("x", '{"a": 1}')])
    assert type(form.x).__name__ == "TextAreaField"
    assert form.validate()
    assert api_load(f, {"x": {"a": [1]}}) == {"x": {"a": [1]}}
    assert api_dump(f, [1, "x"]) == {"x": [1, "x"]}


@pytest.mark.parametrize("type_", ["file", "json"])
@pytest.mark.parametrize(("dialect", "sql"), [("sqlite", "x JSON"), ("postgresql", "x JSONB")])
def test_column(type_: str, dialect: str, sql: str) -> None:
    assert sql in create_sql(table_for(make_field("x", type_)), dialect)


@pytest.mark.parametrize("type_", ["file", "json"])
def test_no_config_checks(type_: str) -> None:
    assert check(make_field("x", type_)) == []
