"""Evaluating expressions in Python: operators, null semantics, dates, functions and limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.expr import ExprError, functions, parse

KINDS = {
    "a": "number", "b": "number", "s": "text", "t": "text", "d": "date", "e": "date",
    "ts": "datetime", "ok": "bool", "no": "bool", "tags": "list", "at": "time",
    "x": "any", "y": "any", "n": "number",
}
ROW: dict[str, Any] = {
    "a": 7, "b": Decimal("2.5"), "s": "Hello", "t": "World", "d": date(2024, 1, 31),
    "e": date(2024, 3, 1), "ts": datetime(2024, 1, 31, 18, 30, tzinfo=UTC), "ok": True,
    "no": False, "tags": ["vip", "new"], "at": time(9, 30), "n": None,
}
TODAY = date(2024, 2, 10)
NOW = datetime(2024, 2, 10, 12, 0, tzinfo=UTC)


def ev(source: str, row: dict[str, Any] | None = None, **kw: Any) -> Any:
    kw.setdefault("today", TODAY)
    kw.setdefault("now", NOW)
    return parse(source, KINDS).evaluate(ROW if row is None else row, **kw)


def fails(source: str, row: dict[str, Any] | None = None, code: str = "CRM-E044") -> str:
    with pytest.raises(ExprError) as info:
        ev(source, row)
    assert info.value.code == code
    return info.value.message


@pytest.mark.parametrize(("source", "expected"), [
    # arithmetic
    ("a + 1", 8), ("a - 10", -3), ("a * b", Decimal("17.5")), ("a / 2", Decimal("3.5")),
    ("a / b", Decimal("2.8")), ("10 / 4", Decimal("2.5")), ("a % 3", 1), ("-a % 3", -1),
    ("a % -3", 1), ("b % 1", Decimal("0.5")), ("-b % 2", Decimal("-0.5")), ("-a", -7),
    ("+a", 7), ("a + 0.1", Decimal("7.1")), ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9),
    ("a / 0", None), ("a % 0", None), ("b / 0.0", None),
    # text
    ("s + ' ' + t", "Hello World"), ("'' + s", "Hello"),
    # comparisons
    ("a > b", True), ("a >= 7", True), ("a < 7", False), ("a <= 6.9", False),
    ("a == 7.0", True), ("b == 2.50", True), ("s < t", True), ("s != 'Hello'", False),
    ("1 < a < 10", True), ("1 < a < 5", False), ("ok == true", True), ("no != false", False),
    ("d < e", True), ("d == d", True), ("ts > d", True), ("d < ts", True), ("at > at", False),
    ("tags == tags", True),
    # boolean
    ("ok and not no", True), ("ok or no", True), ("no or no", False), ("not ok", False),
    # in
    ("s in ['Hello', 'x']", True), ("s not in ['Hello']", False), ("a in [1, 7.0]", True),
    ("'vip' in tags", True), ("'old' not in tags", True), ("a in []", False),
    ("d in [e, d]", True),
])
def test_operators(source: str, expected: Any) -> None:
    result = ev(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("source", "expected"), [
    ("n + 1", None), ("1 - n", None), ("n * 2", None), ("n / 2", None), ("n % 2", None),
    ("-n", None), ("s + null", None), ("d + n", None), ("n + null", None),
    ("n > 1", None), ("n <= 1", None), ("1 < n", None), ("s < null", None),
    ("n == null", True), ("n != null", False), ("a == null", False), ("a != null", True),
    ("n == 1", False), ("n != 1", True), ("n == n", True), ("null == null", True),
    ("n in [1, 2]", None), ("n not in [1, 2]", None), ("a in [1, null]", None),
    ("a not in [1, null]", None), ("a in [7, null]", True), ("a not in [7, null]", False),
    ("not (n > 1)", None),
    # three-valued and/or
    ("n > 1 and ok", None), ("n > 1 and no", False), ("no and n > 1", False),
    ("n > 1 or ok", True), ("n > 1 or no", None), ("ok or n > 1", True),
    ("n > 1 and n > 1", None), ("n > 1 or n > 1", None),
])
def test_null_semantics(source: str, expected: Any) -> None:
    assert ev(source) is expected


def test_missing_names_are_null() -> None:
    assert parse("a + 1", ["a"]).evaluate({}) is None
    assert parse("a == null", ["a"]).evaluate({}) is True


@pytest.mark.parametrize(("source", "expected"), [
    ("d + 1", date(2024, 2, 1)), ("1 + d", date(2024, 2, 1)), ("d - 31", date(2023, 12, 31)),
    ("d + 1.5", date(2024, 2, 1)), ("d - 1.5", date(2024, 1, 29)), ("d + 29", date(2024, 2, 29)),
    ("e - d", 30), ("d - e", -30), ("ts - d", 0), ("e - ts", 30),
    ("ts + 1", datetime(2024, 2, 1, 18, 30, tzinfo=UTC)),
    ("ts + 0.25", datetime(2024, 2, 1, 0, 30, tzinfo=UTC)),
    ("ts - 0.5", datetime(2024, 1, 31, 6, 30, tzinfo=UTC)),
    ("today()", TODAY), ("now()", NOW), ("today() + 30", date(2024, 3, 11)),
    ("days_between(d, e)", 30), ("days_between(e, d)", -30), ("days_between(d, ts)", 0),
    ("days_between(ts, today())", 10), ("days_between(d, x)", None),
    ("days_between(ts, now())", 10),
])
def test_dates(source: str, expected: Any) -> None:
    assert ev(source) == expected


def test_dates_in_utc() -> None:
    late = datetime(2024, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # Feb 1 in UTC
    assert ev("days_between(d, ts)", {**ROW, "ts": late}) == 1
    naive = datetime(2024, 1, 31, 18, 30)  # taken as UTC
    assert ev("ts == x", {**ROW, "ts": naive, "x": ROW["ts"]}) is True
    assert ev("ts", {**ROW, "ts": naive}) == ROW["ts"]
    berlin = datetime(2024, 1, 31, 19, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert ev("ts == x", {**ROW, "x": berlin}) is True
    assert ev("now() > ts", now=datetime(2030, 1, 1)) is True  # naive now is UTC too


def test_default_today_and_now() -> None:
    expr = parse("days_between(today(), now())", [])
    assert expr.evaluate({}) == 0
    assert parse("now()", []).evaluate({}).tzinfo is not None
    assert parse("today()", []).evaluate({}, now=datetime(2024, 5, 5, 1, tzinfo=UTC)) == \
        date(2024, 5, 5)


@pytest.mark.parametrize(("source", "expected"), [
    ("if(ok, 'yes', 'no')", "yes"), ("if(no, 'yes', 'no')", "no"), ("if(n > 1, 1, 2)", 2),
    ("if(ok, n, a)", None),
    ("coalesce(n, a)", 7), ("coalesce(n, null)", None), ("coalesce(s)", "Hello"),
    ("len(s)", 5), ("len(tags)", 2), ("len('')", 0), ("len(x)", None),
    ("lower(s)", "hello"), ("upper(s)", "HELLO"), ("lower(x)", None),
    ("round(b)", Decimal("3")), ("round(-b)", Decimal("-3")), ("round(2.45, 1)", Decimal("2.5")),
    ("round(a)", 7), ("round(a / 3, 2)", Decimal("2.33")), ("round(n, 2)", None),
    ("round(1.005, 2)", Decimal("1.01")),
    ("contains(s, 'ell')", True), ("contains(s, 'ELL')", False), ("contains(s, '')", True),
    ("contains(x, 'a')", False), ("contains(s, null)", False),
    ("abs(-b)", Decimal("2.5")), ("abs(a)", 7), ("abs(n)", None),
    ("min(a, b)", Decimal("2.5")), ("max(a, b, 3)", 7), ("min(n, a)", 7), ("max(n, null)", None),
    ("min(s, t)", "Hello"), ("max(d, e)", date(2024, 3, 1)), ("min(d, ts)", date(2024, 1, 31)),
])
def test_functions(source: str, expected: Any) -> None:
    result = ev(source)
    assert result == expected
    assert type(result) is type(expected)


def test_if_and_coalesce_only_compute_what_they_return() -> None:
    long = "x" * 6000
    assert ev("if(ok, '1', s + s)", {**ROW, "s": long}) == "1"
    assert ev("coalesce(t, s + s)", {**ROW, "s": long}) == "World"
    assert "longer than" in fails("if(no, '1', s + s)", {**ROW, "s": long})


def test_floats_become_decimals() -> None:
    row = {**ROW, "a": 0.1, "b": Decimal("0.2")}
    assert ev("a + b", row) == Decimal("0.3")
    assert ev("a * 3 == 0.3", row) is True
    assert type(ev("a", row)) is Decimal


@pytest.mark.parametrize(("source", "fragment"), [
    ("x + 1", "cannot be used with text and a number"),
    ("x * y", "cannot be used with text and a number"),
    ("x < 1", "cannot compare text with a number"),
    ("x and ok", "'and' needs true or false, not text"),
    ("not x", "'not' needs true or false"),
    ("-x", "'-' needs a number"),
    ("a in x", "needs a list on its right"),
    ("if(x, 1, 2)", "if() needs true or false"),
    ("len(y)", "len() cannot be used with a number"),
    ("lower(y)", "lower() cannot be used with a number"),
    ("days_between(x, d)", "days_between() needs dates"),
    ("round(x)", "round() cannot be used with text"),
    ("contains(x, y)", "contains() needs two texts"),
    ("min(x, y)", "cannot compare"),
])
def test_runtime_type_errors(source: str, fragment: str) -> None:
    row = {**ROW, "x": "text", "y": 1}
    assert fragment in fails(source, row)


def test_limits() -> None:
    assert "longer than 10000" in fails("x + x", {"x": "a" * 5001})
    assert ev("x + x", {"x": "a" * 5000}) == "a" * 10000
    assert "too large" in fails("x * x", {"x": 10**16})
    assert "too large" in fails("x + 1", {"x": 10**30})
    assert "too large" in fails("x * 1000000", {"x": Decimal("1e25")})
    assert "too large" in fails("-x * 2", {"x": 10**30})
    assert "out of range" in fails("d + 10000000", ROW)
    assert "out of range" in fails("ts + 10000000", ROW)
    assert "out of range" in fails("d - 1", {"d": date.min})
    row = {"x": Decimal("1e999999")}
    assert fails("x * x", row)
    assert ev("x * 0", {"x": 10**40}) == 0


class _Sneaky(str):
    def __add__(self, other: object) -> str:  # pragma: no cover - must never run
        raise AssertionError("called a method of a value")


class _OddZone(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:  # pragma: no cover - never run
        raise AssertionError("called a method of a value")


@pytest.mark.parametrize("value", [
    object(), _Sneaky("a"), {"a": 1}, {1, 2}, [[1]], b"bytes", 1j, float("nan"),
    float("inf"), Decimal("NaN"), Decimal("-Infinity"), datetime(2024, 1, 1, tzinfo=_OddZone()),
    time(1, tzinfo=_OddZone()), [object()], type, print, timedelta(days=1),
])
def test_refuses_other_values(value: object) -> None:
    message = fails("x + 1", {"x": value})
    assert "field 'x'" in message


def test_unread_values_are_not_touched() -> None:
    assert parse("a + 1", ["a", "b"]).evaluate({"a": 1, "b": object()}) == 2


def test_refuses_bad_context() -> None:
    with pytest.raises(ExprError):
        parse("today()", []).evaluate({}, today=datetime(2024, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ExprError):
        parse("now()", []).evaluate({}, now=date(2024, 1, 1))  # type: ignore[arg-type]


def test_broken_mapping() -> None:
    class Broken(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            raise RuntimeError("boom")

    with pytest.raises(ExprError) as info:
        parse("a", ["a"]).evaluate(Broken())
    assert info.value.code == "CRM-E044"


def test_plugin_functions() -> None:
    registry = functions.copy()
    registry.register("boom", lambda: 1 / 0, max_args=0)
    registry.register("thing", lambda: object(), max_args=0)
    registry.register("big", lambda: 10**40, max_args=0)
    registry.register("pi", lambda: 3.14, max_args=0, kind="number")
    registry.register("rep", lambda s, k: s * k, min_args=2, max_args=2)
    registry.register("same", lambda s: s, min_args=1, max_args=1)
    for source, fragment in [("boom()", "boom() failed"), ("thing()", "the result of thing()"),
                             ("big()", "too large"), ("rep('ab', 6000)", "longer than")]:
        with pytest.raises(ExprError) as info:
            parse(source, [], registry=registry).evaluate({})
        assert info.value.code == "CRM-E044" and fragment in info.value.message
    assert parse("pi() * 2", [], registry=registry).evaluate({}) == Decimal("6.28")
    assert parse("same(x)", ["x"], registry=registry).evaluate({"x": "a" * 20000}) == "a" * 20000


def test_function_removed_after_parse() -> None:
    registry = functions.copy()
    registry.register("pi", lambda: 3, max_args=0)
    expr = parse("pi()", [], registry=registry)
    registry.unregister("pi")
    with pytest.raises(ExprError) as info:
        expr.evaluate({})
    assert info.value.code == "CRM-E043"


def test_lists_in_values() -> None:
    assert ev("x in tags", {"x": 2, "tags": (1, 2.0)}) is True
    assert ev("len(tags)", {"tags": ()}) == 0
    assert ev("x in tags", {"x": 2, "tags": None}) is None
