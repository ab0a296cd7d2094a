"""How duplicate rules compare values (app/dedupe/normalize.py): each normaliser's key, and the
LIKE pre-filter every value with that key matches."""

from __future__ import annotations

import re

import pytest

from app.dedupe.normalize import key, like_pattern
from app.meta.types import FieldDef

TEXT = FieldDef("name", "string")
PHONE = FieldDef("mobile", "phone")
EMAIL = FieldDef("email", "email")


@pytest.mark.parametrize(("how", "f", "a", "b"), [
    ("text", TEXT, "张三", "张　三"),            # an ideographic space between
    ("text", TEXT, "张三", "\u3000张三\u3000"),   # full-width spaces around
    ("text", TEXT, "John  Smith", "JOHN SMITH"),
    ("text", TEXT, "ＡＢＣ", "abc"),              # full-width letters
    ("email", EMAIL, " Li.Lei@Example.COM", "li.lei@example.com"),
    ("phone", PHONE, "+86 138-0013-8000", "13800138000"),
    ("phone", PHONE, "0086 13800138000", "138 0013 8000"),
    ("phone", PHONE, "+86 10 1234 5678", "010-12345678"),
    ("company", TEXT, "Acme Ltd", "ACME"),
    ("company", TEXT, "ACME Co., Ltd.", "acme"),
    ("company", TEXT, "ＡＣＭＥ有限公司", "Acme"),
    ("company", TEXT, "华为技术有限公司", "华为 技术"),
    ("company", TEXT, "阿里巴巴股份有限公司", "阿里巴巴"),
    ("exact", TEXT, "Acme", "Acme"),
])
def test_equal_keys(how: str, f: FieldDef, a: str, b: str) -> None:
    assert key(how, f, a) is not None
    assert key(how, f, a) == key(how, f, b)


@pytest.mark.parametrize(("how", "f", "a", "b"), [
    ("exact", TEXT, "Acme", "acme"),
    ("text", TEXT, "John Smith", "Jon Smith"),
    ("phone", PHONE, "13800138000", "13800138001"),
    ("company", TEXT, "Acme Ltd", "Acme Holdings"),
    ("text", TEXT, "Li Lei", "LiLei"),            # spaces between Latin words count
])
def test_different_keys(how: str, f: FieldDef, a: str, b: str) -> None:
    assert key(how, f, a) != key(how, f, b)


@pytest.mark.parametrize("how", ["exact", "text", "email", "phone", "company"])
@pytest.mark.parametrize("empty", [None, "", "   "])
def test_empty_values_never_match(how: str, empty: str | None) -> None:
    assert key(how, TEXT, empty) is None


def test_a_company_that_is_only_a_legal_form_keeps_its_name() -> None:
    assert key("company", TEXT, "有限公司") == "有限公司"
    assert key("company", TEXT, "Co") == "co"


def like(pattern: str, text: str) -> bool:
    """SQL LIKE with `\\` as escape, in Python."""
    out, escaped = "", False
    for c in pattern:
        if escaped:
            out += re.escape(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == "%":
            out += ".*"
        elif c == "_":
            out += "."
        else:
            out += re.escape(c)
    return re.fullmatch(out, text, re.S) is not None


@pytest.mark.parametrize(("how", "f", "stored", "other"), [
    ("text", TEXT, "张　三", "张三"),
    ("company", TEXT, "ACME Co., Ltd.", "Acme"),
    ("phone", PHONE, "+86 10 1234 5678", "010-12345678"),
    ("phone", PHONE, "+86 138-0013-8000", "13800138000"),
    ("email", EMAIL, "a_b%c@x.cn", "A_B%C@X.CN"),
])
def test_every_value_with_the_key_matches_its_pattern(how: str, f: FieldDef, stored: str,
                                                      other: str) -> None:
    pattern = like_pattern(how, key(how, f, other))
    assert pattern is not None and like(pattern, stored.lower())


def test_escaped_wildcards_do_not_match_anything() -> None:
    pattern = like_pattern("email", key("email", EMAIL, "a_b@x.cn"))
    assert pattern is not None and not like(pattern, "axb@x.cn")
    assert like_pattern("exact", "Acme") is None
