"""app.i18n: locale names, the current-locale context, translated messages and CLDR formatting
of money, numbers and dates in English and Simplified Chinese."""

from __future__ import annotations

import threading
from datetime import date, datetime
from decimal import Decimal

import pytest
from factories_meta import make_field

from app import i18n
from app.fields import FieldValueError, registry
from app.i18n import _, format_date, format_money, get_locale, normalize, use_locale


@pytest.mark.parametrize(
    ("spelling", "locale"),
    [
        ("zh-CN", "zh_CN"),
        ("zh_CN", "zh_CN"),
        ("zh", "zh_CN"),
        ("zh_Hans_CN", "zh_CN"),
        ("ZH-cn", "zh_CN"),
        ("en", "en"),
        ("en-US", "en"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_normalize(spelling: str | None, locale: str) -> None:
    assert normalize(spelling) == locale


@pytest.mark.parametrize(
    ("locale", "currency", "amount", "text"),
    [
        ("en", "CNY", Decimal("1234.5"), "CN¥1,234.50"),
        ("en", "USD", Decimal("1234.5"), "$1,234.50"),
        ("zh_CN", "CNY", Decimal("1234.5"), "¥1,234.50"),
        ("zh_CN", "USD", Decimal("1234.5"), "US$1,234.50"),
        ("en", "USD", -3, "-$3.00"),
        ("zh_CN", "CNY", Decimal("1234567.891"), "¥1,234,567.89"),
        ("zh_CN", "CNY", Decimal("-8"), "-¥8.00"),
    ],
)
def test_format_money(locale: str, currency: str, amount: Decimal | int, text: str) -> None:
    assert format_money(amount, currency, locale) == text


def test_format_money_follows_the_current_locale() -> None:
    with use_locale("zh_CN"):
        assert format_money(Decimal("99"), "CNY") == "¥99.00"
    with use_locale("en"):
        assert format_money(Decimal("99"), "CNY") == "CN¥99.00"


def test_format_date_and_number() -> None:
    day = date(2026, 11, 23)
    assert format_date(day, "en") == "Nov 23, 2026"
    assert format_date(day, "zh_CN") == "2026年11月23日"
    with use_locale("zh-CN"):
        assert format_date(day) == "2026年11月23日"
    assert i18n.format_number(Decimal("1234567.891"), "en") == "1,234,567.891"


def test_format_datetime_in_a_time_zone() -> None:
    moment = datetime(2026, 11, 23, 14, 5)  # naive: UTC
    assert i18n.format_datetime(moment, "zh_CN", tz="Asia/Shanghai") == "2026年11月23日 22:05:00"
    assert i18n.format_datetime(moment, "en").startswith("Nov 23, 2026, 2:05:00")


def test_use_locale_sets_and_restores() -> None:
    assert get_locale() == "en"
    with use_locale("zh-CN") as chosen:
        assert chosen == "zh_CN"
        assert get_locale() == "zh_CN"
        with use_locale("en"):
            assert get_locale() == "en"
        assert get_locale() == "zh_CN"
    assert get_locale() == "en"


def test_use_locale_restores_after_an_error() -> None:
    with pytest.raises(RuntimeError), use_locale("zh_CN"):
        raise RuntimeError("boom")
    assert get_locale() == "en"


def test_the_locale_is_per_thread() -> None:
    """A context variable: a request in another thread does not see this one's locale."""
    seen: list[str] = []
    with use_locale("zh_CN"):
        worker = threading.Thread(target=lambda: seen.append(get_locale()))
        worker.start()
        worker.join()
        assert get_locale() == "zh_CN"
    assert seen == ["en"]


def test_gettext_translates_and_fills_placeholders() -> None:
    assert _("%(field)s is required.", field="Name") == "Name is required."
    with use_locale("zh_CN"):
        assert _("%(field)s is required.", field="名称") == "名称为必填项。"
        assert _("Sign in") == "登录"
        assert _("Sign out") == "退出登录"
        assert _("A message nobody translated.") == "A message nobody translated."


def test_label_key() -> None:
    assert i18n.label_key("zh_CN") == "zh"
    assert i18n.label_key("en") == "en"


@pytest.mark.parametrize(
    ("type_name", "options", "value", "english", "chinese"),
    [
        ("integer", {}, "abc", "'abc' is not a whole number.", "'abc' 不是整数。"),
        ("decimal", {}, "x1", "'x1' is not a number.", "'x1' 不是数字。"),
        ("email", {}, "not-mail", "'not-mail' is not an e-mail address.",
         "'not-mail' 不是有效的电子邮件地址。"),
        ("date", {}, "someday", "'someday' is not a date (use YYYY-MM-DD).",
         "'someday' 不是有效的日期（请使用 YYYY-MM-DD 格式）。"),
        ("picklist", {"choices": ["new", "won"]}, "lost",
         "'lost' is not one of the allowed values: new, won.",
         "'lost' 不是允许的值，可选值为：new, won。"),
    ],
)
def test_field_type_errors_follow_the_locale(
    type_name: str, options: dict[str, object], value: str, english: str, chinese: str
) -> None:
    f = make_field("x", type_name, **options)
    field_type = registry.get(type_name)
    with pytest.raises(FieldValueError) as en:
        field_type.to_python(f, value)
    assert str(en.value) == english
    with use_locale("zh_CN"), pytest.raises(FieldValueError) as zh:
        field_type.to_python(f, value)
    assert str(zh.value) == chinese


def test_field_bounds_are_translated() -> None:
    f = make_field("amount", "integer", min=0, max=10)
    integer = registry.get("integer")
    assert integer.validate(f, 11) == ["The value must be at most 10."]
    with use_locale("zh_CN"):
        assert integer.validate(f, -1) == ["值不能小于 0。"]
    day = make_field("close", "date", min="2026-01-01")
    with use_locale("zh_CN"):
        assert registry.get("date").validate(day, date(2025, 5, 1)) == [
            "日期不能早于 2026年1月1日。"
        ]
