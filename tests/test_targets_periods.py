"""Target periods: months and quarters read from text (`2026-11`, `2026-Q4`, `this_quarter`),
their bounds (first day in, next period's first day out, in UTC), labels and checks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.targets.periods import Period, PeriodError, is_period_start, parse_period

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(("text", "kind", "start"), [
    ("2026-Q4", "quarter", date(2026, 10, 1)),
    ("2026q1", "quarter", date(2026, 1, 1)),
    ("2026 Q2", "quarter", date(2026, 4, 1)),
    ("2026-11", "month", date(2026, 11, 1)),
    ("2027-1", "month", date(2027, 1, 1)),
    ("this_month", "month", date(2026, 11, 1)),
    ("last_month", "month", date(2026, 10, 1)),
    ("next_month", "month", date(2026, 12, 1)),
    ("this_quarter", "quarter", date(2026, 10, 1)),
    ("previous_quarter", "quarter", date(2026, 7, 1)),
    ("next quarter", "quarter", date(2027, 1, 1)),
])
def test_periods_are_read_from_text(text: str, kind: str, start: date) -> None:
    assert parse_period(text, TODAY) == Period(kind, start)


@pytest.mark.parametrize("text", ["", "2026-13", "2026-Q5", "Q4", "yesterday", "0001-01",
                                  "2026-11-01", "x" * 500])
def test_other_text_is_refused_naming_it(text: str) -> None:
    with pytest.raises(PeriodError) as err:
        parse_period(text, TODAY)
    assert "2026-Q4" in str(err.value) and repr(text[:40]) in str(err.value)


def test_bounds_keys_and_labels() -> None:
    q4 = Period("quarter", date(2026, 10, 1))
    assert (q4.end, q4.last_day, q4.key) == (date(2027, 1, 1), date(2026, 12, 31), "2026-Q4")
    assert q4.bounds() == (datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert (q4.label("en"), q4.label("zh_CN")) == ("2026 Q4", "2026年第4季度")
    feb = Period("month", date(2028, 2, 1))
    assert (feb.last_day, feb.key, feb.label("zh_CN")) == (date(2028, 2, 29), "2028-02",
                                                            "2028年2月")
    assert q4.shifted(1) == Period("quarter", date(2027, 1, 1))
    assert feb.shifted(-2) == Period("month", date(2027, 12, 1))
    assert Period.quarter_of(date(2026, 6, 30)) == Period("quarter", date(2026, 4, 1))


def test_period_starts() -> None:
    assert is_period_start("month", date(2026, 11, 1))
    assert not is_period_start("month", date(2026, 11, 2))
    assert is_period_start("quarter", date(2026, 7, 1))
    assert not is_period_start("quarter", date(2026, 8, 1))
    assert not is_period_start("week", date(2026, 7, 1))
