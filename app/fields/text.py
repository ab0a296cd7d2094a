"""Text field types: string, text, rich_text, email, phone, url."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import marshmallow.fields as mf
import nh3
import sqlalchemy as sa
import wtforms
from marshmallow import validate as mv
from wtforms import validators as wv

from app.fields.base import ConfigProblem, FieldType, FieldValueError, register, shown
from app.i18n import _
from app.meta.types import FieldDef

if TYPE_CHECKING:
    from app.meta.types import EntityDef, Meta

#: filter operators of every text-like type
TEXT_OPS: tuple[str, ...] = ("eq", "ne", "contains", "starts_with", "in", "empty", "not_empty")

#: tags rich text keeps; everything else is stripped (script and style with their content)
RICH_TAGS: frozenset[str] = frozenset(
    {
        "a", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5",
        "h6", "hr", "i", "ins", "li", "mark", "ol", "p", "pre", "s", "small", "span", "strike",
        "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
RICH_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
RICH_URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})


def as_text(value: Any) -> str:
    """A str as is, a number as its text; anything else is refused."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    raise FieldValueError(_("%(value)s is not text.", value=shown(value)))


def length_problems(value: str, limit: int | None) -> list[str]:
    if limit is not None and len(value) > limit:
        return [_("Use at most %(limit)s characters (this has %(length)s).",
                  limit=limit, length=len(value))]
    return []


def pattern_problems(f: FieldDef, value: str) -> list[str]:
    """A pattern that does not compile is reported by `check`, not here."""
    if not f.pattern:
        return []
    try:
        matched = re.fullmatch(f.pattern, value)
    except re.error:
        return []
    return [] if matched else [
        _("%(value)s does not have the expected format.", value=shown(value))]


def pattern_check(f: FieldDef) -> list[ConfigProblem]:
    if f.pattern is None:
        return []
    try:
        re.compile(f.pattern)
    except re.error as exc:
        return [
            ConfigProblem(
                "CRM-E025",
                f"field '{f.name}' has a pattern that is not a valid regular expression: {exc}",
                "pattern",
            )
        ]
    return []


@register
class StringType(FieldType):
    """One line of text, at most `max_length` (default 255) characters."""

    name = "string"
    filter_ops = TEXT_OPS
    expr_kind = "text"
    default_max_length: int | None = 255
    #: the width of the column for types with a fixed one (email, phone, url)
    column_length: int | None = None

    def max_len(self, f: FieldDef) -> int | None:
        if self.column_length is not None:
            return min(f.max_length or self.column_length, self.column_length)
        return f.max_length or self.default_max_length

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.String(self.column_length or self.max_len(f) or 255)

    def to_python(self, f: FieldDef, value: Any) -> Any:
        return None if value is None else as_text(value)

    def validate(self, f: FieldDef, value: Any) -> list[str]:
        if not isinstance(value, str):
            return []
        return length_problems(value, self.max_len(f)) + pattern_problems(f, value)

    def parse_cell(self, f: FieldDef, value: Any, *, date_order: str | None = None) -> Any:
        """Also a spreadsheet's number and date cells, as the text they show: 13812345678
        (not 13812345678.0), 2024-03-05."""
        if isinstance(value, float) and value.is_integer():
            value = str(int(value))
        elif isinstance(value, datetime):
            value = value.date().isoformat() if value.time() == time() else value.isoformat(" ")
        elif isinstance(value, date | time):
            value = value.isoformat()
        return super().parse_cell(f, value, date_order=date_order)

    def check(self, f: FieldDef, entity: EntityDef, meta: Meta) -> list[ConfigProblem]:
        return pattern_check(f)

    def form_validators(self, f: FieldDef) -> list[Any]:
        limit = self.max_len(f)
        return [wv.Length(max=limit)] if limit else []

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        kw["validators"] += self.form_validators(f)
        return wtforms.StringField(**kw)

    def api_validators(self, f: FieldDef) -> list[Any]:
        limit = self.max_len(f)
        return [mv.Length(max=limit)] if limit else []

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.String(validate=self.api_validators(f), **self.api_kwargs(f))


@register
class TextType(StringType):
    """Long text (several lines), unlimited unless `max_length` is set."""

    name = "text"
    default_max_length = None

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Text()

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        kw["validators"] += self.form_validators(f)
        return wtforms.TextAreaField(**kw)


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    """No event handlers or styles, whatever the allow-lists say (belt and braces)."""
    if attribute.startswith("on") or attribute == "style":
        return None
    return value


def sanitize_html(value: str) -> str:
    """Common formatting tags and http/https/mailto links; no scripts, styles or handlers."""
    return nh3.clean(
        value,
        tags=set(RICH_TAGS),
        attributes={tag: set(attrs) for tag, attrs in RICH_ATTRIBUTES.items()},
        attribute_filter=_keep_attribute,
        url_schemes=set(RICH_URL_SCHEMES),
        url_relative="deny",
    )


def html_to_text(value: str) -> str:
    """The text of an HTML fragment, for lists and exports."""
    return html.unescape(nh3.clean(value, tags=set()))


@register
class RichTextType(TextType):
    """Formatted text, kept as sanitised HTML."""

    name = "rich_text"
    filter_ops = ("contains", "empty", "not_empty")

    def to_python(self, f: FieldDef, value: Any) -> Any:
        return None if value is None else sanitize_html(as_text(value))

    def validate(self, f: FieldDef, value: Any) -> list[str]:
        return length_problems(value, f.max_length) if isinstance(value, str) else []

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else html_to_text(str(value))

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        kw["validators"] += self.form_validators(f)
        kw["render_kw"] = {**kw["render_kw"], "data-rich-text": True}
        return wtforms.TextAreaField(**kw)


_SPACE = re.compile(r"\s")
_NOT_DIGIT = re.compile(r"\D")


def is_email(value: str) -> bool:
    if len(value) > 254 or value.count("@") != 1 or _SPACE.search(value):
        return False
    local, domain = value.split("@")
    labels = domain.split(".")
    return bool(local) and len(local) <= 64 and len(labels) >= 2 and all(labels)


@register
class EmailType(StringType):
    """An e-mail address: one @, a domain with a dot, no spaces, at most 254 characters."""

    name = "email"
    column_length = 254

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        text = as_text(value).strip()
        if not is_email(text):
            raise FieldValueError(_("%(value)s is not an e-mail address.", value=shown(text)))
        return text

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        kw["validators"] += self.form_validators(f)
        return wtforms.EmailField(**kw)

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.Email(validate=self.api_validators(f), **self.api_kwargs(f))


PHONE_CHARS = re.compile(r"[0-9+\-(). ]+")


@register
class PhoneType(StringType):
    """A phone number: digits, spaces and + - ( ) . only, at least 5 digits."""

    name = "phone"
    column_length = 40

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        text = unicodedata.normalize("NFKC", as_text(value)).strip()
        digits = len(_NOT_DIGIT.sub("", text))
        if not PHONE_CHARS.fullmatch(text) or digits < 5 or len(text) > 40:
            raise FieldValueError(
                _("%(value)s is not a phone number (use digits, spaces and + - ( ) . only).",
                  value=shown(text))
            )
        return text

    def parse_text(self, f: FieldDef, raw: str) -> Any:
        """Also a number written another way than the field's `pattern` wants: when
        `"+86 138-1234-5678"` does not fit `^1[3-9][0-9]{9}$` but its digits do, the digits."""
        text = super().parse_text(f, raw)
        if text is None or not f.pattern or not pattern_problems(f, text):
            return text
        for candidate in (phone_digits(text), re.sub(r"\D", "", text)):
            if not pattern_problems(f, candidate):
                return candidate
        return text

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        kw["validators"] += self.form_validators(f)
        return wtforms.TelField(**kw)


_PLUS_FIRST = re.compile(r"^\D*\+")


def phone_digits(text: str) -> str:
    """The digits of a phone number as dialled in China: `"+86 138-1234-5678"`,
    `"0086 13812345678"` and `"8613812345678"` -> `"13812345678"`; a landline written with the
    country code gets the trunk 0 it drops back, so `"+86 10 1234 5678"` and `"010-12345678"`
    are both `"01012345678"` (for comparing numbers)."""
    plain = unicodedata.normalize("NFKC", text)
    digits = re.sub(r"\D", "", plain)
    if digits.startswith("0086"):
        national = digits[4:]
    elif digits.startswith("86") and (_PLUS_FIRST.match(plain) or len(digits) == 13):
        national = digits[2:]
    else:
        return digits
    mobile = len(national) == 11 and national.startswith("1")
    return national if mobile or national.startswith("0") or not national else "0" + national


def is_web_url(value: str) -> bool:
    if not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


@register
class UrlType(StringType):
    """A web address starting with http:// or https://."""

    name = "url"
    column_length = 2048

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        text = as_text(value).strip()
        if not is_web_url(text):
            raise FieldValueError(
                _("%(value)s is not a web address (http:// or https://).", value=shown(text))
            )
        return text

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        kw["validators"] += self.form_validators(f)
        return wtforms.URLField(**kw)

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.Url(
            schemes={"http", "https"},
            require_tld=False,
            validate=self.api_validators(f),
            **self.api_kwargs(f),
        )
