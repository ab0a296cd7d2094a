"""Text field types: string, text, rich_text, email, phone, url."""

from __future__ import annotations

from typing import Any

import marshmallow
import pytest
from factories_meta import api_dump, api_load, bind, check, create_sql, make_field, table_for
from jsonschema import Draft202012Validator

from app.fields import FieldValueError, registry

TEXT_TYPES = ["string", "text", "rich_text", "email", "phone", "url"]


@pytest.mark.parametrize("name", TEXT_TYPES)
def test_options_schema_is_valid_json_schema(name: str) -> None:
    schema = {"type": "object", "properties": dict(registry.get(name).options_schema)}
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("type_", "options", "value", "expected"),
    [
        ("string", {}, "  Acme  ", "  Acme  "),  # strip nothing
        ("string", {}, 42, "42"),
        ("string", {}, 12.5, "12.5"),
        ("string", {}, "华为技术有限公司", "华为技术有限公司"),
        ("string", {}, None, None),
        ("text", {}, "line 1\nline 2", "line 1\nline 2"),
        ("email", {}, " li.lei@example.com.cn ", "li.lei@example.com.cn"),
        ("email", {}, "a+tag@sub.example.org", "a+tag@sub.example.org"),
        ("phone", {}, "+86 138-0013-8000", "+86 138-0013-8000"),
        ("phone", {}, "(010) 6552.9988", "(010) 6552.9988"),
        ("phone", {}, "１３８００１３８０００", "13800138000"),
        ("phone", {}, 13800138000, "13800138000"),
        ("url", {}, "https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("url", {}, "HTTP://localhost:8080", "HTTP://localhost:8080"),
    ],
)
def test_to_python_accepts(type_: str, options: dict[str, Any], value: Any, expected: Any) -> None:
    f = make_field("x", type_, **options)
    assert registry.get(type_).to_python(f, value) == expected


@pytest.mark.parametrize(
    ("type_", "value", "message"),
    [
        ("string", True, "'True' is not text."),
        ("string", ["a"], "'['a']' is not text."),
        ("text", {"a": 1}, "'{'a': 1}' is not text."),
        ("email", "li lei@example.com", "'li lei@example.com' is not an e-mail address."),
        ("email", "a@b@c.com", "'a@b@c.com' is not an e-mail address."),
        ("email", "lilei@example", "'lilei@example' is not an e-mail address."),
        ("email", "lilei@example..com", "'lilei@example..com' is not an e-mail address."),
        ("email", "@example.com", "'@example.com' is not an e-mail address."),
        ("email", "a@" + "b" * 250 + ".com", None),
        ("phone", "1234", "'1234' is not a phone number (use digits, spaces and + - ( ) . only)."),
        ("phone", "138 0013 800x", None),
        (
            "url",
            "ftp://example.com",
            "'ftp://example.com' is not a web address (http:// or https://).",
        ),
        ("url", "https://", None),
        ("url", "https://exa mple.com", None),
        ("url", "example.com", None),
    ],
)
def test_to_python_refuses(type_: str, value: Any, message: str | None) -> None:
    f = make_field("x", type_)
    with pytest.raises(FieldValueError) as exc:
        registry.get(type_).to_python(f, value)
    if message is not None:
        assert str(exc.value) == message


@pytest.mark.parametrize(
    ("type_", "html", "expected"),
    [
        ("rich_text", '<p onclick="x()" style="color:red">hi</p>', "<p>hi</p>"),
        ("rich_text", "<b>bold</b><script>alert(1)</script>", "<b>bold</b>"),
        ("rich_text", "<style>p{}</style><em>x</em>", "<em>x</em>"),
        ("rich_text", '<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ("rich_text", '<a href="/relative">x</a>', '<a rel="noopener noreferrer">x</a>'),
        (
            "rich_text",
            '<a href="https://example.com" target="_blank">x</a>',
            '<a href="https://example.com" rel="noopener noreferrer">x</a>',
        ),
        (
            "rich_text",
            '<a href="mailto:li@example.cn">邮件</a>',
            '<a href="mailto:li@example.cn" rel="noopener noreferrer">邮件</a>',
        ),
        ("rich_text", '<img src="x" onerror="alert(1)">图片', "图片"),
        ("rich_text", "<iframe src='https://evil'></iframe>ok", "ok"),
        ("rich_text", "<ul><li>一</li><li>二</li></ul>", "<ul><li>一</li><li>二</li></ul>"),
        ("rich_text", "1 < 2", "1 &lt; 2"),
    ],
)
def test_rich_text_is_sanitised(type_: str, html: str, expected: str) -> None:
    f = make_field("notes", type_)
    assert registry.get(type_).to_python(f, html) == expected


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("string", "  Acme ", "Acme"),
        ("string", "   ", None),
        ("email", "LI@EXAMPLE.COM", "LI@EXAMPLE.COM"),
        ("phone", "021-6555 1234", "021-6555 1234"),
        ("url", " https://example.cn ", "https://example.cn"),
    ],
)
def test_parse_text(type_: str, raw: str, expected: Any) -> None:
    f = make_field("x", type_)
    assert registry.get(type_).parse_text(f, raw) == expected


@pytest.mark.parametrize(
    ("type_", "kw", "value", "problems"),
    [
        ("string", {}, "a" * 255, []),
        ("string", {}, "a" * 256, ["Use at most 255 characters (this has 256)."]),
        ("string", {"max_length": 5}, "上海浦东新区", ["Use at most 5 characters (this has 6)."]),
        ("string", {"pattern": r"[A-Z]{3}-\d+"}, "ABC-12", []),
        (
            "string",
            {"pattern": r"[A-Z]{3}-\d+"},
            "ABC-12x",
            ["'ABC-12x' does not have the expected format."],
        ),
        ("string", {"pattern": "("}, "x", []),  # a bad pattern is check()'s business
        ("text", {}, "a" * 100_000, []),
        ("text", {"max_length": 3}, "abcd", ["Use at most 3 characters (this has 4)."]),
        (
            "rich_text",
            {"max_length": 10},
            "<p>12345678</p>",
            ["Use at most 10 characters (this has 15)."],
        ),
        ("phone", {"pattern": "1[3-9][0-9]{9}"}, "13800138000", []),
        (
            "phone",
            {"pattern": "1[3-9][0-9]{9}"},
            "12800138000",
            ["'12800138000' does not have the expected format."],
        ),
        ("email", {"max_length": 500}, "a@b.cn", []),
        (
            "url",
            {},
            "https://example.com/" + "a" * 2100,
            ["Use at most 2048 characters (this has 2120)."],
        ),
        ("string", {}, None, []),
    ],
)
def test_validate(type_: str, kw: dict[str, Any], value: Any, problems: list[str]) -> None:
    f = make_field("x", type_, **kw)
    assert registry.get(type_).validate(f, value) == problems


@pytest.mark.parametrize(
    ("type_", "value", "locale", "shown"),
    [
        ("string", "Acme", "en", "Acme"),
        ("string", None, "en", ""),
        ("rich_text", "<p>Tom &amp; <b>Jerry</b></p>", "en", "Tom & Jerry"),
        ("rich_text", "<p>你好</p>", "zh", "你好"),
        ("email", "li@example.cn", "zh", "li@example.cn"),
    ],
)
def test_display(type_: str, value: Any, locale: str, shown: str) -> None:
    f = make_field("x", type_)
    assert registry.get(type_).display(f, value, locale) == shown


@pytest.mark.parametrize(
    ("kw", "code"),
    [({"pattern": "([a-z]"}, "CRM-E025"), ({"pattern": "[a-z]+"}, None), ({}, None)],
)
@pytest.mark.parametrize("type_", ["string", "text", "phone"])
def test_check_pattern(type_: str, kw: dict[str, Any], code: str | None) -> None:
    problems = check(make_field("code", type_, **kw))
    assert [p[0] for p in problems] == ([code] if code else [])
    if code:
        assert problems[0][1].startswith("field 'code' has a pattern that is not a valid regular")
        assert problems[0][2] == "pattern"


@pytest.mark.parametrize(
    ("type_", "kw", "sqlite_sql", "pg_sql"),
    [
        ("string", {}, "x VARCHAR(255)", "x VARCHAR(255)"),
        ("string", {"max_length": 120}, "x VARCHAR(120)", "x VARCHAR(120)"),
        ("text", {}, "x TEXT", "x TEXT"),
        ("rich_text", {}, "x TEXT", "x TEXT"),
        ("email", {}, "x VARCHAR(254)", "x VARCHAR(254)"),
        ("phone", {}, "x VARCHAR(40)", "x VARCHAR(40)"),
        ("url", {}, "x VARCHAR(2048)", "x VARCHAR(2048)"),
    ],
)
def test_column(type_: str, kw: dict[str, Any], sqlite_sql: str, pg_sql: str) -> None:
    table = table_for(make_field("x", type_, **kw))
    assert sqlite_sql in create_sql(table, "sqlite")
    assert pg_sql in create_sql(table, "postgresql")


def test_unique_and_indexed_columns() -> None:
    unique = create_sql(table_for(make_field("code", "string", unique=True)), "postgresql")
    assert "UNIQUE (code)" in unique
    indexed = create_sql(table_for(make_field("code", "string", indexed=True)), "sqlite")
    assert "CREATE INDEX ix_ent_deal_code ON ent_deal (code)" in indexed


@pytest.mark.parametrize(
    ("type_", "widget_type", "data", "ok", "value"),
    [
        ("string", "StringField", [("x", "Acme")], True, "Acme"),
        ("text", "TextAreaField", [("x", "a\nb")], True, "a\nb"),
        ("rich_text", "TextAreaField", [("x", "<b>x</b>")], True, "<b>x</b>"),
        ("email", "EmailField", [("x", "li@example.cn")], True, "li@example.cn"),
        ("phone", "TelField", [("x", "13800138000")], True, "13800138000"),
        ("url", "URLField", [("x", "https://example.cn")], True, "https://example.cn"),
        ("string", "StringField", [("x", "a" * 256)], False, "a" * 256),
    ],
)
def test_form_field(
    type_: str, widget_type: str, data: list[tuple[str, str]], ok: bool, value: str
) -> None:
    f = make_field("x", type_, label={"en": "Name", "zh": "名称"}, help={"en": "Legal name"})
    form = bind(f, data)
    assert type(form.x).__name__ == widget_type
    assert form.x.label.text == "Name"
    assert form.x.description == "Legal name"
    assert form.validate() is ok
    assert form.x.data == value


def test_form_field_required_and_locale() -> None:
    f = make_field("x", "string", required=True, label={"en": "Name", "zh": "名称"}, max_length=5)
    form = bind(f, [("x", "")], locale="zh")
    assert form.x.label.text == "名称"
    assert not form.validate()
    assert form.x.errors == ["This field is required."]
    form = bind(f, [("x", "123456")])
    assert not form.validate()
    assert "5" in form.x.errors[0]


def test_form_field_read_only() -> None:
    form = bind(make_field("x", "string", read_only=True))
    assert form.x.render_kw == {"readonly": True}


@pytest.mark.parametrize(
    ("type_", "kw", "payload", "loaded"),
    [
        ("string", {}, {"x": "Acme"}, {"x": "Acme"}),
        ("string", {}, {"x": None}, {"x": None}),
        ("text", {}, {"x": "多行\n文本"}, {"x": "多行\n文本"}),
        ("email", {}, {"x": "li@example.cn"}, {"x": "li@example.cn"}),
        ("url", {}, {"x": "http://localhost:5000/x"}, {"x": "http://localhost:5000/x"}),
        ("phone", {}, {"x": "+86 10 1234 5678"}, {"x": "+86 10 1234 5678"}),
    ],
)
def test_api_field_round_trip(
    type_: str, kw: dict[str, Any], payload: dict[str, Any], loaded: dict[str, Any]
) -> None:
    f = make_field("x", type_, **kw)
    assert api_load(f, payload) == loaded
    assert api_dump(f, loaded["x"]) == payload


@pytest.mark.parametrize(
    ("type_", "kw", "payload", "error"),
    [
        ("string", {"max_length": 3}, {"x": "abcd"}, "Longer than maximum length 3."),
        ("email", {}, {"x": "nope"}, "Not a valid email address."),
        ("url", {}, {"x": "ftp://example.com"}, "Not a valid URL."),
        ("string", {"required": True}, {}, "Missing data for required field."),
        ("string", {"required": True}, {"x": None}, "Field may not be null."),
    ],
)
def test_api_field_refuses(
    type_: str, kw: dict[str, Any], payload: dict[str, Any], error: str
) -> None:
    with pytest.raises(marshmallow.ValidationError) as exc:
        api_load(make_field("x", type_, **kw), payload)
    assert exc.value.messages == {"x": [error]}


def test_required_with_default_is_not_required_in_api() -> None:
    f = make_field("x", "string", required=True, default="Acme")
    assert api_load(f, {}) == {}


@pytest.mark.parametrize(
    ("type_", "ops"),
    [
        ("string", ("eq", "ne", "contains", "starts_with", "in", "empty", "not_empty")),
        ("email", ("eq", "ne", "contains", "starts_with", "in", "empty", "not_empty")),
        ("rich_text", ("contains", "empty", "not_empty")),
    ],
)
def test_filter_ops_and_kind(type_: str, ops: tuple[str, ...]) -> None:
    ft = registry.get(type_)
    assert ft.filter_ops == ops
    assert ft.expr_kind == "text"
    assert ft.column_name(make_field("x", type_)) == "x"
