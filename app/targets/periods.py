"""Target periods: a calendar month or quarter, from its first day up to (not including) the
first day of the next one, in UTC.

    parse_period("2026-Q4", today)  -> Period("quarter", date(2026, 10, 1))
    parse_period("2026-11", today)  -> Period("month", date(2026, 11, 1))
    parse_period("this_quarter", today), "last_month", "next_quarter" ...

`key` gives the text back (`2026-Q4`, `2026-11`), `label(locale)` the words shown
(`2026 Q4` / `2026年第4季度`, `2026-11` / `2026年11月`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from app.i18n import _

KINDS = ("month", "quarter")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})\s*-?\s*[Qq]([1-4])$")
_RELATIVE = re.compile(r"^(this|last|previous|next)[_ -](month|quarter)$")
MIN_YEAR, MAX_YEAR = 1900, 9998


class PeriodError(ValueError):
    """A period that cannot be read; the message is a sentence for the user."""


def _shift(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


@dataclass(frozen=True, order=True)
class Period:
    """A month or a quarter; `start` is its first day."""

    kind: str
    start: date

    @classmethod
    def month_of(cls, day: date) -> Period:
        return cls("month", day.replace(day=1))

    @classmethod
    def quarter_of(cls, day: date) -> Period:
        return cls("quarter", date(day.year, (day.month - 1) // 3 * 3 + 1, 1))

    @classmethod
    def of(cls, kind: str, day: date) -> Period:
        return cls.quarter_of(day) if kind == "quarter" else cls.month_of(day)

    @property
    def months(self) -> int:
        return 3 if self.kind == "quarter" else 1

    @property
    def end(self) -> date:
        """The first day after the period (excluded from it)."""
        year, month = _shift(self.start.year, self.start.month, self.months)
        return date(year, month, 1)

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.end.toordinal() - 1)

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as UTC moments, for date-and-time fields."""
        return (datetime(self.start.year, self.start.month, 1, tzinfo=UTC),
                datetime(self.end.year, self.end.month, 1, tzinfo=UTC))

    def shifted(self, steps: int) -> Period:
        """The period `steps` periods later (earlier when negative)."""
        year, month = _shift(self.start.year, self.start.month, steps * self.months)
        return Period(self.kind, date(year, month, 1))

    @property
    def key(self) -> str:
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-{self.start.month:02d}"

    def label(self, locale: str = "en") -> str:
        year, month = self.start.year, self.start.month
        zh = locale.startswith("zh")
        if self.kind == "quarter":
            q = (month - 1) // 3 + 1
            return f"{year}年第{q}季度" if zh else f"{year} Q{q}"
        return f"{year}年{month}月" if zh else f"{year}-{month:02d}"

    def __str__(self) -> str:
        return self.key


def is_period_start(kind: str, day: date) -> bool:
    """Whether `day` is the first day of a month (`month`) or of a quarter (`quarter`)."""
    if kind not in KINDS:
        return False
    return day == Period.of(kind, day).start


def parse_period(text: str, today: date) -> Period:
    """`2026-Q4`, `2026Q4`, `2026-11`, or `this_month`, `last_quarter`, `next_month` ... (the
    periods around `today`). Raises PeriodError naming what was given."""
    raw = (text or "").strip()
    shown = raw[:40]
    m = _QUARTER.match(raw)
    if m:
        year, q = int(m[1]), int(m[2])
        return _checked(Period("quarter", date(year, q * 3 - 2, 1)) if _year_ok(year)
                        else None, shown)
    m = _MONTH.match(raw)
    if m:
        year, month = int(m[1]), int(m[2])
        return _checked(Period("month", date(year, month, 1))
                        if _year_ok(year) and 1 <= month <= 12 else None, shown)
    m = _RELATIVE.match(raw.lower())
    if m:
        current = Period.of(m[2], today)
        step = {"this": 0, "last": -1, "previous": -1, "next": 1}[m[1]]
        return current.shifted(step)
    raise PeriodError(_("%(period)s is not a period: write a month as 2026-11, a quarter as "
                        "2026-Q4, or this_month, last_quarter ...", period=repr(shown)))


def _year_ok(year: int) -> bool:
    return MIN_YEAR <= year <= MAX_YEAR


def _checked(period: Period | None, shown: str) -> Period:
    if period is None:
        raise PeriodError(_("%(period)s is not a period: write a month as 2026-11, a quarter "
                            "as 2026-Q4, or this_month, last_quarter ...", period=repr(shown)))
    return period
