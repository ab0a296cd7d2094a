"""Translations and locale formatting, for every layer (engine, web, CLI).

Babel (the library behind Flask-Babel and Sphinx's catalogues) reads the gettext catalogues in
`app/translations/<locale>/LC_MESSAGES/messages.po|.mo` and formats dates, numbers and money for a
locale. The current locale is a context variable, so engine code (validation messages of the
records service, field types) translates without knowing about Flask requests: the web layer sets
it per request from the user's preference, the CLI from `config.yaml`.

    from app.i18n import _, use_locale
    with use_locale("zh_CN"):
        _("%(field)s is required.", field="名称")      # '名称为必填项。'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.support import NullTranslations, Translations

#: the UI languages; labels in YAML use the short key (`en`, `zh`)
LOCALES: tuple[str, ...] = ("en", "zh_CN")
DEFAULT_LOCALE = "en"
TRANSLATIONS = Path(__file__).parent / "translations"

_current: ContextVar[str] = ContextVar("crm_locale", default=DEFAULT_LOCALE)


def normalize(locale: str | None) -> str:
    """One of LOCALES for any spelling (`zh`, `zh-CN`, `zh_Hans_CN`, `en-US`), else English."""
    if not locale:
        return DEFAULT_LOCALE
    low = locale.replace("-", "_").lower()
    if low.startswith("zh"):
        return "zh_CN"
    return DEFAULT_LOCALE


def get_locale() -> str:
    return _current.get()


def set_locale(locale: str | None) -> None:
    """Set the locale of the current context (a request, a CLI command)."""
    _current.set(normalize(locale))


@contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    token = _current.set(normalize(locale))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


@lru_cache(maxsize=8)
def translations(locale: str) -> NullTranslations:
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [locale], domain="messages")


def gettext(message: str, **variables: object) -> str:
    """`message` in the current locale, with `%(name)s` placeholders filled from `variables`."""
    text = translations(get_locale()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(get_locale()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext


def N_(message: str) -> str:
    """Mark a constant for extraction; translate it where it is shown with `gettext(msg)`."""
    return message


@lru_cache(maxsize=8)
def babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def format_money(value: Decimal | float | int, currency: str, locale: str | None = None) -> str:
    """`¥1,234.50` / `US$1,234.50` in zh_CN, `CN¥1,234.50` / `$1,234.50` in English."""
    where = babel_locale(locale or get_locale())
    return babel_numbers.format_currency(value, currency, locale=where)


def format_number(value: Decimal | float | int, locale: str | None = None) -> str:
    return babel_numbers.format_decimal(value, locale=babel_locale(locale or get_locale()))


def format_date(value: date, locale: str | None = None) -> str:
    """Medium date: `Nov 23, 2026` in English, `2026年11月23日` in Chinese."""
    return babel_dates.format_date(value, "medium", locale=babel_locale(locale or get_locale()))


def format_datetime(value: datetime, locale: str | None = None, tz: str = "UTC") -> str:
    return babel_dates.format_datetime(value, "medium", tzinfo=babel_dates.get_timezone(tz),
                                       locale=babel_locale(locale or get_locale()))


def label_key(locale: str | None = None) -> str:
    """The key of YAML labels for a locale: `zh_CN` -> `zh`."""
    return (locale or get_locale()).split("_")[0]
