"""Values a filter may compare a column with: beyond these the databases fail (SQLite's
OverflowError for a whole number past 64 bits, PostgreSQL's out-of-range errors, a whole day
that would end in year 10000), so filters and drill-downs refuse them with a message instead.
No Flask, no database."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

#: value types whose values are record ids (an SQL INTEGER column)
ID_KINDS = frozenset({"lookup", "master_detail", "user"})
#: the largest record id, and the largest whole number an integer field holds (BIGINT)
ID_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


def out_of_range(kind: str, value: Any) -> bool:
    """Whether a parsed filter or drill-down value of a `kind` field lies beyond what its
    column (or the list query) compares with: a record id beyond an SQL INTEGER, a whole number
    beyond a BIGINT, the calendar's last day for a date-and-time field (that whole day would
    end in year 10000)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        if kind in ID_KINDS:
            return not 0 < value <= ID_MAX
        return not -BIGINT_MAX - 1 <= value <= BIGINT_MAX
    if isinstance(value, date) and not isinstance(value, datetime):
        return kind == "datetime" and value >= date.max
    return False
