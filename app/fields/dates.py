"""Date and time field types: date, datetime (always stored in UTC), time."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import marshmallow.fields as mf
import sqlalchemy as sa
import wtforms

from app.fields.base import ConfigProblem, FieldType, FieldValueError, register, shown
from app.fields.numbers import ORDERED_OPS, bound_problems, bounds_check
from app.i18n import N_, _, get_locale
from app.meta.types import FieldDef

if TYPE_CHECKING:
    from app.meta.types import EntityDef, Meta

_YMD = re.compile(
    r"(\d{4})\s*(?:[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})|年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?)"
)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SLASHED = re.compile(r"(\d{1,2})\s*([/.\-])\s*(\d{1,2})\s*\2\s*(\d{4})")
#: Excel's day 0 (its serial dates count days from here, with its 1900 leap-year bug built in:
#: serial 60 is 1900-02-29, a day that never was, so serials below it count from a day later)
EXCEL_EPOCH = datetime(1899, 12, 30)
#: serial numbers Excel shows as dates (1900-01-01 to 9999-12-31)
EXCEL_SERIALS = (1, 2958466)
#: Excel's 1900-02-29
EXCEL_LEAP_BUG = 60
_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")
#: how a date like 05/03/2024 is read: day first, month first, or only when unambiguous
DATE_ORDERS: tuple[str, ...] = ("dmy", "mdy", "ymd")
_ENGLISH_FORMATS = ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%b %d, %Y", "%B %d, %Y")
_TIME = re.compile(
    r"(\d{1,2})\s*(?::|时|點|点)\s*(\d{2})(?:\s*(?::|分)\s*(\d{2})\s*秒?|\s*分)?\s*(am|pm)?",
    re.IGNORECASE,
)
_DATE_AND_TIME = re.compile(
    r"(.+?)(?:\s*[T ]\s*|(?<=[日号])\s*)((?:上午|下午|早上|晚上|中午)?\s*\d{1,2}\s*[:时点].*)"
)


#: what a datetime form field renders (the first) and accepts
DATETIME_LOCAL_FORMATS: tuple[str, ...] = (
    "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S",
)  # fmt: skip


class AmbiguousDate(FieldValueError):
    """A day like 5/3/2024 that reads as two different dates."""


def _make_date(raw: str, year: str, month: str, day: str) -> date:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise FieldValueError(
            _("%(value)s is not a date on the calendar.", value=shown(raw))
        ) from None


def parse_date_text(raw: str, order: str | None = None) -> date:
    """A date from text in a common English or Chinese format: 2024-03-05, 2024/3/5, 2024.3.5,
    2024年3月5日, 20240305, 5 Mar 2024, March 5, 2024, and d/m/Y or m/d/Y (also with . or -)
    when only one reading is a real date (15/3/2024, 3/15/2024). `order` (dmy or mdy) reads
    the ambiguous ones (05/03/2024) day first or month first; without it (or with ymd) they are
    refused with both readings named."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if m := _YMD.fullmatch(text):
        return _make_date(raw, m[1], m[2] or m[4], m[3] or m[5])
    if m := _COMPACT.fullmatch(text):
        return _make_date(raw, m[1], m[2], m[3])
    if m := _SLASHED.fullmatch(text):
        first, second, year = int(m[1]), int(m[3]), m[4]
        if first > 12 >= second:
            return _make_date(raw, year, str(second), str(first))
        if second > 12 >= first or first == second:
            return _make_date(raw, year, str(first), str(second))
        if first <= 12 and second <= 12:
            if order == "dmy":
                return _make_date(raw, year, str(second), str(first))
            if order == "mdy":
                return _make_date(raw, year, str(first), str(second))
            raise AmbiguousDate(
                _("%(value)s could be %(first)s or %(second)s: write it as YYYY-MM-DD.",
                  value=shown(raw), first=f"{year}-{first:02d}-{second:02d}",
                  second=f"{year}-{second:02d}-{first:02d}")
            )
        raise FieldValueError(_("%(value)s is not a date on the calendar.", value=shown(raw)))
    for fmt in _ENGLISH_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FieldValueError(_("%(value)s is not a date (use YYYY-MM-DD).", value=shown(raw)))


def excel_serial(value: Any) -> datetime | None:
    """The moment an Excel serial number stands for (45356 -> 2024-03-05, 45356.5 -> noon),
    or None for a value that is not one (bools, numbers outside Excel's calendar, text other
    than five digits)."""
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if not _SERIAL.fullmatch(text):
            return None
        value = float(text)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    number = float(value)
    if not EXCEL_SERIALS[0] <= number < EXCEL_SERIALS[1]:
        return None
    if number < EXCEL_LEAP_BUG:
        return EXCEL_EPOCH + timedelta(days=number + 1)
    if number < EXCEL_LEAP_BUG + 1:
        return None  # 1900-02-29: refused like any date that is not on the calendar
    return EXCEL_EPOCH + timedelta(days=number)


def parse_time_text(raw: str) -> time:
    """A time from text: 14:30, 14:30:05, 2:30 PM, 14时30分, 下午2:30."""
    text = unicodedata.normalize("NFKC", raw).strip()
    afternoon = text.startswith(("下午", "晚上"))
    if text.startswith(("上午", "下午", "早上", "晚上", "中午")):
        text = text[2:].strip()
    m = _TIME.fullmatch(text)
    if not m:
        raise FieldValueError(_("%(value)s is not a time (use HH:MM).", value=shown(raw)))
    hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
    meridiem = (m[4] or "").lower()
    if meridiem or afternoon:
        if not 1 <= hour <= 12:
            raise FieldValueError(_("%(value)s is not a time (use HH:MM).", value=shown(raw)))
        hour = hour % 12 + (12 if meridiem == "pm" or afternoon else 0)
    try:
        return time(hour, minute, second)
    except ValueError:
        raise FieldValueError(_("%(value)s is not a time (use HH:MM).", value=shown(raw))) from None


def aware_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class _TemporalType(FieldType):
    filter_ops = ORDERED_OPS
    bound_words = (N_("The date must be on or after %(limit)s."),
                   N_("The date must be on or before %(limit)s."))

    def bounds(self, f: FieldDef) -> tuple[Any, Any]:
        low = None if f.min is None else self.to_python(f, f.min)
        high = None if f.max is None else self.to_python(f, f.max)
        return low, high

    def validate(self, f: FieldDef, value: Any) -> list[str]:
        try:
            low, high = self.bounds(f)
        except FieldValueError:
            return []  # a bad bound is reported by check()
        if value is None:
            return []
        show = lambda v: self.display(f, v, get_locale())  # noqa: E731
        return bound_problems(value, low, high, show, self.bound_words)

    def check(self, f: FieldDef, entity: EntityDef, meta: Meta) -> list[ConfigProblem]:
        return bounds_check(f, lambda v: self.to_python(f, v))

    def to_json(self, f: FieldDef, value: Any) -> Any:
        return value.isoformat() if isinstance(value, date | time) else value


@register
class DateType(_TemporalType):
    """A calendar date."""

    name = "date"
    expr_kind = "date"

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Date()

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, datetime):
            raise FieldValueError(
                _("%(value)s has a time of day; a date is expected.", value=shown(value))
            )
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise FieldValueError(_("%(value)s is not a date (use YYYY-MM-DD).", value=shown(value)))

    def parse_text(self, f: FieldDef, raw: str) -> Any:
        return None if raw.strip() == "" else parse_date_text(raw)

    def parse_cell(self, f: FieldDef, value: Any, *, date_order: str | None = None) -> Any:
        """Also Excel's cells: a date cell (a datetime at midnight) and a serial number."""
        if value is None:
            return None
        if isinstance(value, datetime) and value.time() == time() and value.tzinfo is None:
            return value.date()
        serial = excel_serial(value)
        if serial is not None and serial.time() == time():
            return serial.date()
        if isinstance(value, str):
            return None if value.strip() == "" else parse_date_text(value, date_order)
        return self.to_python(f, value)

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        if value is None:
            return ""
        day = self.to_python(f, value)
        if locale.split("_")[0] == "zh":
            return f"{day.year}年{day.month}月{day.day}日"
        return str(day.isoformat())

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        return wtforms.DateField(**self.form_kwargs(f, locale))

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.Date(**self.api_kwargs(f))


@register
class DateTimeType(_TemporalType):
    """A moment in time, kept as an aware datetime in UTC."""

    name = "datetime"
    expr_kind = "datetime"
    bound_words = (N_("The date and time must be on or after %(limit)s."),
                   N_("The date and time must be on or before %(limit)s."))

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.DateTime(timezone=True)

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, datetime):
            return aware_utc(value)
        if isinstance(value, date):
            return datetime.combine(value, time(), tzinfo=UTC)
        if isinstance(value, str):
            try:
                return aware_utc(datetime.fromisoformat(value.strip()))
            except ValueError:
                pass
        raise FieldValueError(
            _("%(value)s is not a date and time (use YYYY-MM-DD HH:MM).", value=shown(value))
        )

    def parse_text(self, f: FieldDef, raw: str) -> Any:
        return self.parse_moment(raw)

    def parse_cell(self, f: FieldDef, value: Any, *, date_order: str | None = None) -> Any:
        """Also Excel's cells: a datetime (naive: UTC) and a serial number (a fraction is
        the time of day)."""
        if value is None:
            return None
        serial = excel_serial(value)
        if serial is not None:
            return serial.replace(tzinfo=UTC)
        if isinstance(value, str):
            return self.parse_moment(value, date_order)
        return self.to_python(f, value)

    def parse_moment(self, raw: str, order: str | None = None) -> Any:
        text = unicodedata.normalize("NFKC", raw).strip()
        if text == "":
            return None
        try:
            return aware_utc(datetime.fromisoformat(text))
        except ValueError:
            pass
        m = _DATE_AND_TIME.fullmatch(text)
        day_text, clock_text = (m[1], m[2]) if m else (text, None)
        try:
            day = parse_date_text(day_text, order)
            clock = time() if clock_text is None else parse_time_text(clock_text)
        except FieldValueError as exc:
            if isinstance(exc, AmbiguousDate):
                raise
            raise FieldValueError(
                _("%(value)s is not a date and time (use YYYY-MM-DD HH:MM).", value=shown(raw))
            ) from None
        return datetime.combine(day, clock, UTC)

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        if value is None:
            return ""
        moment = self.to_python(f, value)
        clock = moment.strftime("%H:%M:%S" if moment.second else "%H:%M")
        if locale.split("_")[0] == "zh":
            return f"{moment.year}年{moment.month}月{moment.day}日 {clock}"
        return f"{moment.date().isoformat()} {clock}"

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        # the browser's datetime-local input wants "2024-03-05T14:30" (values are UTC)
        return wtforms.DateTimeLocalField(format=list(DATETIME_LOCAL_FORMATS),
                                          **self.form_kwargs(f, locale))

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.AwareDateTime(default_timezone=UTC, **self.api_kwargs(f))


@register
class TimeType(_TemporalType):
    """A time of day."""

    name = "time"
    expr_kind = "time"
    bound_words = (N_("The time must be on or after %(limit)s."),
                   N_("The time must be on or before %(limit)s."))

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Time()

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None or isinstance(value, time):
            return value
        if isinstance(value, str):
            try:
                return time.fromisoformat(value.strip())
            except ValueError:
                pass
        raise FieldValueError(_("%(value)s is not a time (use HH:MM).", value=shown(value)))

    def parse_text(self, f: FieldDef, raw: str) -> Any:
        return None if raw.strip() == "" else parse_time_text(raw)

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        if value is None:
            return ""
        clock = self.to_python(f, value)
        return str(clock.strftime("%H:%M:%S" if clock.second else "%H:%M"))

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        return wtforms.TimeField(**self.form_kwargs(f, locale))

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.Time(**self.api_kwargs(f))
