"""Number field types: integer, decimal, currency, percent, and boolean."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import marshmallow.fields as mf
import sqlalchemy as sa
import wtforms
from marshmallow import validate as mv
from wtforms import validators as wv

from app.fields.base import ConfigProblem, FieldType, FieldValueError, register, shown
from app.i18n import N_, _
from app.meta.types import FieldDef

if TYPE_CHECKING:
    from app.meta.types import EntityDef, Meta

#: filter operators of numbers and dates
ORDERED_OPS: tuple[str, ...] = (
    "eq", "ne", "lt", "lte", "gt", "gte", "between", "empty", "not_empty",
)  # fmt: skip

#: currencies shown with a symbol; others are shown with their ISO code
CURRENCY_SYMBOLS: dict[str, str] = {"CNY": "¥", "USD": "$"}
#: currency codes accepted around numbers in text (besides the field's own currency)
KNOWN_CODES: frozenset[str] = frozenset({"CNY", "RMB", "USD", "EUR", "GBP", "JPY", "HKD"})

_NUMBER_TEXT = re.compile(
    r"""
    (?P<sign>[+-])?\s*
    (?P<prefix>[A-Z]{3}|[¥$€£])?\s*
    (?P<sign2>[+-])?\s*
    (?P<number>\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d{1,3}(?:[ ]\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)\s*
    (?P<suffix>%|元|[A-Z]{3})?
    """,
    re.VERBOSE,
)


def number_text(raw: str, *, percent: bool = False, currency: str | None = None) -> str:
    """Plain digits from text a person typed: `"¥1,234.50"` -> `"1234.50"`, `"12.5%"` ->
    `"12.5"`. Thousands separators (commas, or spaces: `"1 234"`), currency symbols and codes
    before or after the number (¥ ￥ $ € £, CNY, USD, ...) and, when `percent`, a trailing %
    are accepted."""
    text = unicodedata.normalize("NFKC", raw).strip()
    match = _NUMBER_TEXT.fullmatch(text.upper())
    if not match or (match["sign"] and match["sign2"]):
        raise FieldValueError(_("%(value)s is not a number.", value=shown(raw)))
    suffix = match["suffix"]
    if suffix == "%" and not percent:
        raise FieldValueError(
            _("%(value)s is not a number (a percent sign is not expected).", value=shown(raw))
        )
    if match["prefix"] and suffix and suffix != "%":
        raise FieldValueError(_("%(value)s is not a number.", value=shown(raw)))
    for code in (match["prefix"], suffix):
        if not code or len(code) != 3:
            continue
        if code not in KNOWN_CODES and code != currency:
            raise FieldValueError(_("%(value)s is not a number.", value=shown(raw)))
        if currency and code != currency and {code, currency} != {"CNY", "RMB"}:
            raise FieldValueError(_("%(value)s is in %(code)s, but this field is in %(currency)s.",
                                    value=shown(raw), code=code, currency=currency))
    sign = match["sign"] or match["sign2"] or ""
    return sign + match["number"].replace(",", "").replace(" ", "")


def to_decimal(value: Any) -> Decimal:
    """A finite Decimal from an int, float, Decimal or numeric string; bools are refused."""
    if isinstance(value, bool):
        raise FieldValueError(_("%(value)s is not a number.", value=shown(value)))
    try:
        if isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            raise FieldValueError(_("%(value)s is not a number.", value=shown(value)))
    except InvalidOperation:
        raise FieldValueError(_("%(value)s is not a number.", value=shown(value))) from None
    if not number.is_finite():
        raise FieldValueError(_("%(value)s is not a number.", value=shown(value)))
    return number


def plain(number: Decimal | float | int) -> str:
    """A number without exponent or trailing zeros: 100, 12.5, 0."""
    text = format(Decimal(str(number)).normalize(), "f")
    return "0" if text in ("-0", "") else text


def bound_problems(
    value: Any,
    low: Any,
    high: Any,
    show: Callable[[Any], str],
    words: tuple[str, str] = (N_("The value must be at least %(limit)s."),
                              N_("The value must be at most %(limit)s.")),
) -> list[str]:
    """`The value must be at least 0.` (dates: `The date must be on or after 2024-01-01.`);
    `words` are the two messages (marked with N_), each with a `%(limit)s` placeholder."""
    above, below = words
    if low is not None and value < low:
        return [_(above, limit=show(low))]
    if high is not None and value > high:
        return [_(below, limit=show(high))]
    return []


def number_bounds(f: FieldDef) -> tuple[Decimal | None, Decimal | None]:
    """min and max as Decimals; a bound that is not a number is left out (`check` reports
    it), so a bad config never breaks a form or a save."""

    def one(raw: Any) -> Decimal | None:
        try:
            return None if raw is None else to_decimal(raw)
        except FieldValueError:
            return None

    return one(f.min), one(f.max)


def bounds_check(f: FieldDef, parse: Callable[[Any], Any]) -> list[ConfigProblem]:
    """min and max parse with `parse`, and min <= max (CRM-E027)."""
    parsed: dict[str, Any] = {}
    for option in ("min", "max"):
        raw = getattr(f, option)
        if raw is None:
            continue
        try:
            parsed[option] = parse(raw)
        except FieldValueError:
            return [
                ConfigProblem(
                    "CRM-E027",
                    f"field '{f.name}' has {option} {shown(raw)}, which is not a valid {f.type}",
                    option,
                )
            ]
    if len(parsed) == 2 and parsed["min"] > parsed["max"]:
        return [
            ConfigProblem(
                "CRM-E027",
                f"field '{f.name}' has min {shown(f.min)} greater than max {shown(f.max)}",
                "min",
            )
        ]
    return []


@register
class IntegerType(FieldType):
    """A whole number (64-bit)."""

    name = "integer"
    filter_ops = ORDERED_OPS
    expr_kind = "number"
    LIMIT = 2**63 - 1

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.BigInteger()

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and not value.is_integer():
            raise FieldValueError(_("%(value)s is not a whole number.", value=shown(value)))
        try:
            number = to_decimal(value)
        except FieldValueError:
            raise FieldValueError(
                _("%(value)s is not a whole number.", value=shown(value))
            ) from None
        if number != number.to_integral_value():
            raise FieldValueError(_("%(value)s is not a whole number.", value=shown(value)))
        return int(number)

    def parse_text(self, f: FieldDef, raw: str) -> Any:
        raw = raw.strip()
        return None if raw == "" else self.to_python(f, number_text(raw))

    def validate(self, f: FieldDef, value: Any) -> list[str]:
        if not isinstance(value, int):
            return []
        if abs(value) > self.LIMIT:
            return [_("%(value)s is too large for this field.", value=value)]
        low, high = number_bounds(f)
        return bound_problems(value, low, high, plain)

    def check(self, f: FieldDef, entity: EntityDef, meta: Meta) -> list[ConfigProblem]:
        return bounds_check(f, to_decimal)

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        low, high = number_bounds(f)
        if low is not None or high is not None:
            kw["validators"].append(wv.NumberRange(min=low, max=high))
        return wtforms.IntegerField(**kw)

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.Integer(strict=True, validate=mv.Range(*number_bounds(f)), **self.api_kwargs(f))


@register
class DecimalType(FieldType):
    """An exact decimal number with `precision` digits, `scale` of them after the point."""

    name = "decimal"
    options_schema = {
        "precision": {"type": "integer", "minimum": 1, "maximum": 38},
        "scale": {"type": "integer", "minimum": 0, "maximum": 30},
    }
    filter_ops = ORDERED_OPS
    expr_kind = "number"
    #: default bounds when the field sets neither min nor max (percent: 0..100)
    default_bounds: tuple[Decimal | None, Decimal | None] = (None, None)
    #: text may end with a % sign (percent)
    percent_sign = False

    def precision(self, f: FieldDef) -> int:
        return int(f.opt("precision", 18))

    def scale(self, f: FieldDef) -> int:
        return int(f.opt("scale", 4))

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Numeric(self.precision(f), self.scale(f))

    def quantum(self, f: FieldDef) -> Decimal:
        return Decimal(1).scaleb(-self.scale(f))

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        number = to_decimal(value)
        try:
            return number.quantize(self.quantum(f), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise FieldValueError(
                _("%(value)s is too large for this field.", value=shown(value))
            ) from None

    def parse_text(self, f: FieldDef, raw: str) -> Any:
        raw = raw.strip()
        if raw == "":
            return None
        text = number_text(raw, percent=self.percent_sign, currency=f.opt("currency"))
        return self.to_python(f, text)

    def bounds(self, f: FieldDef) -> tuple[Decimal | None, Decimal | None]:
        if f.min is None and f.max is None:
            return self.default_bounds
        return number_bounds(f)

    def validate(self, f: FieldDef, value: Any) -> list[str]:
        if not isinstance(value, Decimal):
            return []
        whole = self.precision(f) - self.scale(f)
        if value.is_finite() and abs(value) >= Decimal(10) ** whole:
            return [
                _("%(value)s is too large for this field "
                  "(at most %(digits)s digits before the decimal point).",
                  value=plain(value), digits=whole)
            ]
        low, high = self.bounds(f)
        return bound_problems(value, low, high, plain)

    def check(self, f: FieldDef, entity: EntityDef, meta: Meta) -> list[ConfigProblem]:
        problems = bounds_check(f, to_decimal)
        if self.scale(f) > self.precision(f):
            problems.append(
                ConfigProblem(
                    "CRM-E028",
                    f"field '{f.name}' has scale {self.scale(f)} greater than its precision "
                    f"{self.precision(f)}",
                    "scale",
                )
            )
        return problems

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        if value is None:
            return ""
        return format(self.to_python(f, value), ",f")

    def to_json(self, f: FieldDef, value: Any) -> Any:
        return format(value, "f") if isinstance(value, Decimal) else value

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        low, high = self.bounds(f)
        if low is not None or high is not None:
            kw["validators"].append(wv.NumberRange(min=low, max=high))
        kw["render_kw"] = {**kw["render_kw"], **self.form_render_kw(f)}
        # places=None: the value is shown as given (12.5, not 12.5000)
        return wtforms.DecimalField(places=self.form_places(f), **kw)

    def form_places(self, f: FieldDef) -> int | None:
        return None

    def form_render_kw(self, f: FieldDef) -> dict[str, Any]:
        """Extra HTML attributes of the input: the form shows a currency symbol before
        (`data-currency`, empty for the deployment's currency) or a sign after
        (`data-suffix`)."""
        return {}

    def api_field(self, f: FieldDef) -> mf.Field:
        low, high = self.bounds(f)
        return mf.Decimal(
            places=self.scale(f),
            as_string=True,
            validate=mv.Range(min=low, max=high),
            **self.api_kwargs(f),
        )


@register
class CurrencyType(DecimalType):
    """An amount of money, numeric(18,2), in the currency the field names."""

    name = "currency"
    options_schema = {"currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}

    def precision(self, f: FieldDef) -> int:
        return 18

    def scale(self, f: FieldDef) -> int:
        return 2

    def form_places(self, f: FieldDef) -> int | None:
        return 2

    def form_render_kw(self, f: FieldDef) -> dict[str, Any]:
        return {"data-currency": str(f.opt("currency") or "")}

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        if value is None:
            return ""
        amount = self.to_python(f, value)
        sign = "-" if amount < 0 else ""
        number = format(abs(amount), ",.2f")
        code = f.opt("currency")
        if code in CURRENCY_SYMBOLS:
            return f"{sign}{CURRENCY_SYMBOLS[code]}{number}"
        return f"{sign}{code} {number}" if code else f"{sign}{number}"


@register
class PercentType(DecimalType):
    """A percentage, 12.5 meaning 12.5 %, numeric(9,4), 0 to 100 unless min/max say otherwise."""

    name = "percent"
    options_schema = {}
    default_bounds = (Decimal(0), Decimal(100))
    percent_sign = True

    def precision(self, f: FieldDef) -> int:
        return 9

    def scale(self, f: FieldDef) -> int:
        return 4

    def form_render_kw(self, f: FieldDef) -> dict[str, Any]:
        return {"data-suffix": "%"}

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else f"{plain(self.to_python(f, value))}%"


TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on", "是", "对", "真"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off", "否", "不", "错", "假"})


@register
class BooleanType(FieldType):
    """Yes or no."""

    name = "boolean"
    filter_ops = ("eq", "empty", "not_empty")
    expr_kind = "bool"

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Boolean()

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            word = unicodedata.normalize("NFKC", value).strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        raise FieldValueError(_("%(value)s is not yes or no.", value=shown(value)))

    def parse_cell(self, f: FieldDef, value: Any, *, date_order: str | None = None) -> Any:
        """Also a spreadsheet's 1.0 and 0.0."""
        if isinstance(value, float) and value in (0.0, 1.0):
            return value == 1.0
        return super().parse_cell(f, value, date_order=date_order)

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        if value is None:
            return ""
        if locale.split("_")[0] == "zh":
            return "是" if value else "否"
        return "Yes" if value else "No"

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        kw["validators"] = []  # an unticked box is a value (False), not a missing one
        return wtforms.BooleanField(**kw)

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.Boolean(**self.api_kwargs(f))
