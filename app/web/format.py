"""Showing values: each field type's display, with numbers, money and dates in the user's
locale (Babel). Used by every page and by exports."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from app.fields import registry
from app.i18n import format_date, format_datetime, format_money, format_number, get_locale
from app.meta.types import FieldDef, Meta, label_text

MONEY = ("currency",)


def currency_of(f: FieldDef, default: str) -> str:
    return str(f.opt("currency") or default)


def value_kind(f: FieldDef, meta: Meta | None = None) -> str:
    """The type a value is shown as: a formula's result type, a roll-up's summed field's type."""
    if f.type == "formula":
        return str(f.opt("result"))
    if f.type == "rollup":
        if f.opt("op") == "count":
            return "integer"
        child = meta.entities.get(str(f.opt("entity"))) if meta is not None else None
        inner = child.fields.get(str(f.opt("field"))) if child is not None else None
        return value_kind(inner, meta) if inner is not None else "decimal"
    return f.type


def display(f: FieldDef, value: Any, *, currency: str = "CNY", titles: dict[int, str] | None = None,
            meta: Meta | None = None) -> str:
    """Plain text of a value for the current locale (lists, exports, detail pages)."""
    if value is None or value == "" or value == []:
        return ""
    locale = get_locale()
    kind = value_kind(f, meta)
    if kind in MONEY and isinstance(value, int | float | Decimal):
        return format_money(value, currency_of(f, currency), locale)
    if kind in ("decimal", "integer", "percent") and isinstance(value, int | float | Decimal) \
            and not isinstance(value, bool):
        text = format_number(value, locale)
        return f"{text}%" if kind == "percent" else text
    if kind == "date" and isinstance(value, date) and not isinstance(value, datetime):
        return format_date(value, locale)
    if kind == "datetime" and isinstance(value, datetime):
        return format_datetime(value, locale)
    if f.type in ("lookup", "master_detail", "user") and titles is not None:
        return titles.get(int(value), f"#{value}")
    return registry.get(f.type).display(f, value, locale)


def choice_label(f: FieldDef, value: Any) -> str:
    for c in f.choices:
        if c.value == value:
            return label_text(c.label, get_locale(), c.value)
    return "" if value is None else str(value)


def choice_color(f: FieldDef, value: Any) -> str | None:
    for c in f.choices:
        if c.value == value:
            return c.color
    return None


def badge(f: FieldDef, value: Any) -> Markup:
    """A picklist value as a coloured badge (HTML)."""
    color = choice_color(f, value) or "#64748b"
    return Markup('<span class="badge" style="background:{}">{}</span>').format(
        color, escape(choice_label(f, value)))
