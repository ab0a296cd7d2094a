"""Whole numbers typed by people or sent in requests (ids, versions, page sizes).

`str.isdigit()` admits "²" (which `int()` refuses), and `int()` refuses text longer than 4,300
digits; a number may also be too big for an SQL integer. `small_int` answers all three at once,
so a bad value is a clear refusal, never a crash.
"""

from __future__ import annotations

from typing import Any

#: the largest value of a 32-bit SQL integer (ids, versions)
SQL_INT_MAX = 2**31 - 1


def small_int(value: Any, limit: int = SQL_INT_MAX) -> int | None:
    """`value` as a whole number from 0 to `limit` (an int, or text of ASCII digits with
    optional surrounding spaces), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= limit else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(limit)):
        return None
    number = int(text)
    return number if number <= limit else None
