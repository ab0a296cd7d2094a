"""Expressions compiled to SQL give the same results as in Python, on SQLite and PostgreSQL.

Every expression below runs through a real database (the `engine` fixture: SQLite, or
PostgreSQL when CRM_TEST_DATABASE_URL is set) over rows holding ordinary values, negative
numbers, zeros, empty text and nulls, and is compared with `evaluate` on the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from app.expr import ExprError, functions, parse

ROWS: list[dict[str, Any]] = [
    {"id": 1, "n": Decimal("2.50"), "i": 7, "f": 0.5, "s": "Hello", "t": "World",
     "d": date(2024, 1, 31), "e": date(2024, 3, 1),
     "ts": datetime(2024, 1, 31, 18, 30, tzinfo=UTC), "b": True},
    {"id": 2, "n": Decimal("-3.25"), "i": -7, "f": -1.5, "s": "abc", "t": "abcd",
     "d": date(2024, 2, 29), "e": date(2023, 12, 31),
     "ts": datetime(2024, 2, 1, 0, 15, 30, 250000, tzinfo=UTC), "b": False},
    {"id": 3, "n": None, "i": None, "f": None, "s": None, "t": None, "d": None, "e": None,
     "ts": None, "b": None},
    {"id": 4, "n": Decimal("0"), "i": 0, "f": 0.0, "s": "", "t": "a",
     "d": date(2000, 1, 1), "e": date(2000, 1, 1), "ts": datetime(2000, 1, 1, tzinfo=UTC),
     "b": True},
]

EXPRESSIONS = [
    # arithmetic
    "n + i", "n - f", "n * i", "i / 2", "n / i", "i / f", "i / 0", "n / 0.0", "n % 2", "i % 3",
    "-i % 3", "i % -3", "f % 1", "i % 0", "-n", "f * 2 + 1", "(n + 1) * (i - 1)", "1 + 2 * 3",
    "10 / 4", "n + null", "i * 1.5",
    # text
    "s + t", "s + '!'", "'>' + s", "lower(s)", "upper(t)", "len(s)", "contains(t, s)",
    "contains(s, 'b')", "contains(s, '')", "s == 'abc'", "s != 'abc'", "s < t", "s >= t",
    "s in ['abc', 'Hello']", "s not in ['abc']", "coalesce(s, 'none')", "min(s, t)",
    "max(s, t)", "s == t", "s != t", "lower(s) == 'hello'", "s + t == 'HelloWorld'",
    # comparisons and booleans
    "n > i", "n <= 0", "i == 7", "i != 7", "n == i", "n != f", "n == null", "n != null",
    "null == n", "0 < i < 10", "i in [7, 0]", "i not in [7]", "i in [1, null]",
    "i not in [1, null]", "i in [n, f]", "b", "not b", "b and n > 0", "b or n > 0",
    "n > 0 and i > 0", "n > 0 or i > 0", "b == true", "b != false", "b == null",
    "not (n > 0)", "true", "null",
    # if, coalesce, min, max, round, abs
    "if(b, 'y', 'n')", "if(n > 0, n, -n)", "if(b, i, null)", "if(s == '', 'empty', s)",
    "coalesce(n, i, 0)", "coalesce(null, t)", "min(n, i)", "max(n, i, f)", "min(n, null)",
    "max(i, 0)", "round(n)", "round(n, 1)", "round(i / 3, 2)", "round(f)", "round(-f)",
    "abs(n)", "abs(i)", "abs(f)",
    # dates
    "d + 1", "d - 1", "1 + d", "d + 1.5", "d - 1.5", "d + i", "e - d", "d - ts", "ts - d",
    "ts - ts", "days_between(d, e)", "days_between(ts, e)", "days_between(e, ts)",
    "ts + 1", "ts - 0.5", "ts + f", "d < e", "d == e", "d != e", "d < ts", "d == ts",
    "ts >= d", "max(d, e)", "min(d, e)", "coalesce(d, e)", "d in [e, null]",
    "days_between(d, today()) > 0", "today() > d", "now() > ts", "today() - 1 > d",
    "days_between(now(), ts) <= 0", "days_between(today(), now())", "if(b, d, e)",
    "d + 1 == e", "days_between(d, e) / 7", "min(ts, now()) == ts",
    # mixtures
    "b == (n > 0)", "n % f", "len(s + t)", "upper(s) + lower(t)", "if(n == null, 'none', 's')",
    "not b or i > 0", "if(b, 1, 2.5)", "contains(s, '%')", "s + '%'", "-(n - i)", "i - -1",
    "round(abs(n - f) * 100 / 3, 3)", "coalesce(i, 0) + coalesce(n, 0)",
    # results are not rounded to the scale of a Numeric(12, 2) operand
    "(-f) * n", "-((-n) * n)", "(-n) + (i / f)", "min(n, 0.125)", "coalesce(n * f, 1)",
    "if(b, n * f, 0)", "max(n / 3, f)",
    # datetimes computed by the database compare equal to stored ones; typed unknowns
    "ts == (ts - 0.5) + 0.5", "ts <= ts + i", "ts in [ts + 0, null]", "ts + i - i != ts",
    "not if(b, ts < null, d > null)",
]


def normal(value: Any) -> Any:
    """One spelling per value: numbers as Decimal to 6 places, datetimes aware to the ms."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).quantize(Decimal("0.000001")) + 0
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


@pytest.fixture
def table(engine: sa.Engine) -> Iterator[tuple[sa.Engine, sa.Table, list[dict[str, Any]]]]:
    metadata = sa.MetaData()
    table = sa.Table(
        "expr_t", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.Numeric(12, 2)), sa.Column("i", sa.Integer), sa.Column("f", sa.Float),
        sa.Column("s", sa.String(50)), sa.Column("t", sa.Text),
        sa.Column("d", sa.Date), sa.Column("e", sa.Date),
        sa.Column("ts", sa.DateTime(timezone=True)), sa.Column("b", sa.Boolean),
        sa.Column("tags", sa.JSON),
    )
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(table.insert(), ROWS)
        rows = [dict(r) for r in conn.execute(sa.select(table).order_by(table.c.id)).mappings()]
    yield engine, table, rows


def columns(table: sa.Table) -> dict[str, sa.ColumnElement[Any]]:
    return {c.name: c for c in table.c}


def python_and_sql(engine: sa.Engine, table: sa.Table, rows: list[dict[str, Any]],
                   source: str, names: Any = None) -> tuple[list[Any], list[Any]]:
    cols = columns(table)
    expr = parse(source, list(cols) if names is None else names)
    with engine.connect() as conn:
        query = sa.select(expr.to_sql(cols)).select_from(table).order_by(table.c.id)
        got = conn.execute(query).scalars().all()
    expected = [expr.evaluate(row) for row in rows]
    # SQLite has no booleans: 0 and 1 stand for them where SQL cannot know the type
    got = [bool(g) if isinstance(e, bool) and g in (0, 1) else g
           for g, e in zip(got, expected, strict=True)]
    return [normal(v) for v in expected], [normal(v) for v in got]


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_sql_matches_python(table: Any, source: str) -> None:
    expected, got = python_and_sql(*table, source)
    assert got == expected


@pytest.mark.parametrize("source", ["s + t", "d + 1", "e - d", "n / i", "ts + 1", "s == 'abc'"])
def test_sql_matches_python_with_declared_kinds(table: Any, source: str) -> None:
    kinds = {"n": "number", "i": "number", "f": "number", "s": "text", "t": "text",
             "d": "date", "e": "date", "ts": "datetime", "b": "bool"}
    expected, got = python_and_sql(*table, source, kinds)
    assert got == expected


@pytest.mark.parametrize("source", [
    "n > 0", "s == 'abc'", "s != 'abc'", "i in [7, 0]", "d < e", "n == null", "contains(s, 'l')",
    "b and i > 0", "n > 0 or b", "not (n > 0)",
])
def test_where_clause(table: Any, source: str) -> None:
    engine, tbl, rows = table
    expr = parse(source, list(columns(tbl)))
    with engine.connect() as conn:
        ids = conn.execute(sa.select(tbl.c.id).where(expr.to_sql(columns(tbl)))
                           .order_by(tbl.c.id)).scalars().all()
    assert ids == [row["id"] for row in rows if expr.evaluate(row) is True]


def test_same_expression_twice_uses_cache(table: Any) -> None:
    engine, tbl, _ = table
    expr = parse("days_between(d, e) + round(n / i, 2)", list(columns(tbl)))
    with engine.connect() as conn:
        first = conn.execute(sa.select(expr.to_sql(columns(tbl))).order_by(tbl.c.id)).all()
        second = conn.execute(sa.select(expr.to_sql(columns(tbl))).order_by(tbl.c.id)).all()
    assert first == second


def test_not_computable_in_sql(table: Any) -> None:
    _, tbl, _ = table
    cols = columns(tbl)
    registry = functions.copy()
    registry.register("py_only", lambda x: x, min_args=1, max_args=1)
    cases = [
        (parse("py_only(n)", list(cols), registry=registry), "CRM-E045",
         "py_only() cannot be computed in the database"),
        (parse("'a' in tags", list(cols)), "CRM-E045", "cannot be computed in the database"),
        (parse("len(tags)", {"tags": "list"}), "CRM-E045", "len() of a list"),
        (parse("tags == null", {"tags": "list"}), "CRM-E045", "list field 'tags'"),
        (parse("missing + 1", ["missing"]), "CRM-E042", "no column"),
        (parse("s + n", ["s", "n"]), "CRM-E041", "cannot be used"),
    ]
    for expr, code, fragment in cases:
        with pytest.raises(ExprError) as info:
            expr.to_sql(cols)
        assert info.value.code == code
        assert fragment in info.value.message


@pytest.mark.parametrize(("source", "pg", "lite"), [
    ("today()", "CAST(timezone('UTC', CURRENT_TIMESTAMP) AS DATE)", "date('now')"),
    ("now()", "CURRENT_TIMESTAMP", "strftime('%Y-%m-%d %H:%M:%f', 'now')"),
    ("n / i", "NULLIF(expr_t.i, 0)", "CAST(expr_t.n AS REAL)"),
    ("days_between(d, ts)", "CAST(timezone('UTC', expr_t.ts) AS DATE) - expr_t.d", "julianday"),
    ("min(n, i)", "LEAST(expr_t.n, expr_t.i)",
     "(SELECT min(crm_v) FROM (SELECT expr_t.n AS crm_v UNION ALL SELECT expr_t.i))"),
    ("round(n, 2)", "round(CAST(expr_t.n AS NUMERIC), 2)", "round(CAST(expr_t.n AS NUMERIC), 2)"),
    ("s == 'a'", "expr_t.s IS NOT NULL AND expr_t.s = ", "expr_t.s IS NOT NULL AND expr_t.s = "),
    ("s == t", "IS NOT DISTINCT FROM", "expr_t.s IS expr_t.t"),
    ("n == null", "expr_t.n IS NULL", "expr_t.n IS NULL"),
    ("s + t", "expr_t.s || expr_t.t", "expr_t.s || expr_t.t"),
])
def test_compiles_per_dialect(source: str, pg: str, lite: str) -> None:
    metadata = sa.MetaData()
    tbl = sa.Table("expr_t", metadata, sa.Column("n", sa.Numeric), sa.Column("i", sa.Integer),
                   sa.Column("s", sa.String), sa.Column("t", sa.String), sa.Column("d", sa.Date),
                   sa.Column("ts", sa.DateTime(timezone=True)))
    sql = parse(source, [c.name for c in tbl.c]).to_sql(columns(tbl))
    assert pg in str(sql.compile(dialect=postgresql.dialect()))
    assert lite in str(sql.compile(dialect=sqlite.dialect()))


# --- differential fuzzing: well-typed random expressions, Python against the database --------
def _grammar() -> dict[str, st.SearchStrategy[str]]:
    def fn(name: str, *args: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.tuples(*args).map(lambda a: f"{name}({', '.join(a)})")

    def op(left: st.SearchStrategy[str], ops: list[str],
           right: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.tuples(left, st.sampled_from(ops), right).map(lambda p: f"({p[0]} {p[1]} {p[2]})")

    num: st.SearchStrategy[str] = st.deferred(lambda: st.one_of(
        st.sampled_from(["n", "i", "f", "0", "1", "-2", "2.5", "0.1", "7", "null"]),
        op(num, ["+", "-", "*", "/", "%"], num), num.map(lambda x: f"(-{x})"),
        fn("len", text), fn("days_between", date_, date_), fn("abs", num), fn("round", num),
        st.tuples(num, st.integers(0, 3)).map(lambda p: f"round({p[0]}, {p[1]})"),
        fn("if", boolean, num, num), fn("coalesce", num, num), fn("min", num, num),
        fn("max", num, num, num), op(date_, ["-"], date_), op(stamp, ["-"], date_),
        fn("days_between", stamp, date_)))
    stamp: st.SearchStrategy[str] = st.deferred(lambda: st.one_of(
        st.just("ts"), op(stamp, ["+", "-"], st.sampled_from(["0.5", "1", "-2", "i", "null"])),
        fn("if", boolean, stamp, stamp), fn("coalesce", stamp, stamp), fn("max", stamp, stamp)))
    text: st.SearchStrategy[str] = st.deferred(lambda: st.one_of(
        st.sampled_from(["s", "t", "'abc'", "''", "'Hello'", "'%_'", "null"]),
        op(text, ["+"], text), fn("lower", text), fn("upper", text), fn("if", boolean, text, text),
        fn("coalesce", text, text), fn("min", text, text), fn("max", text, text)))
    date_: st.SearchStrategy[str] = st.deferred(lambda: st.one_of(
        st.sampled_from(["d", "e", "today()", "null"]), op(date_, ["+", "-"], num),
        fn("if", boolean, date_, date_), fn("coalesce", date_, date_), fn("min", date_, date_)))
    cmp = ["==", "!=", "<", "<=", ">", ">="]
    boolean: st.SearchStrategy[str] = st.deferred(lambda: st.one_of(
        st.sampled_from(["b", "true", "false", "null", "(n == null)", "(s != null)"]),
        op(num, cmp, num), op(text, cmp, text), op(date_, cmp, date_), op(stamp, cmp, date_),
        op(stamp, cmp, stamp), op(boolean, ["==", "!="], boolean),
        op(boolean, ["and", "or"], boolean), boolean.map(lambda x: f"(not {x})"),
        fn("contains", text, text),
        st.tuples(num, st.sampled_from(["in", "not in"]), st.lists(num, max_size=3)).map(
            lambda p: f"({p[0]} {p[1]} [{', '.join(p[2])}])"),
        fn("if", boolean, boolean, boolean)))
    return {"number": num, "text": text, "date": date_, "bool": boolean, "datetime": stamp}


GRAMMAR = _grammar()
KINDS = {"n": "number", "i": "number", "f": "number", "s": "text", "t": "text", "d": "date",
         "e": "date", "ts": "datetime", "b": "bool"}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_expressions_match(table: Any, data: st.DataObject) -> None:
    engine, tbl, rows = table
    source = data.draw(st.sampled_from(sorted(GRAMMAR)).flatmap(GRAMMAR.__getitem__))
    expr = parse(source, KINDS)
    try:
        expected = [normal(expr.evaluate(row)) for row in rows]
    except ExprError:
        return  # too large, and the like: not comparable
    try:
        sql = expr.to_sql(columns(tbl))
    except ExprError as exc:  # nested deeper than SQLite can parse
        assert exc.code == "CRM-E045" and "nested too deeply" in exc.message
        return
    query = sa.select(sql).select_from(tbl).order_by(tbl.c.id)
    with engine.connect() as conn:
        got = conn.execute(query).scalars().all()
    got = [normal(bool(g) if isinstance(e, bool) and g in (0, 1) else g)
           for g, e in zip(got, expected, strict=True)]
    assert got == expected, source


@pytest.mark.parametrize("template", [
    "min({}, i)", "max(i, {}, n)", "({} % 3)", "if(({}) == 1, 1, 2)", "if(({}) != 2, i, n)",
    "if({} > 0, 1, 2)", "coalesce({}, i)", "({} / 2)", "abs({})", "round({}, 1)",
    "days_between(d, d + {})", "if(0 < i < ({}), 1, 2)", "if(({}) in [1, i], 1, 2)",
])
def test_sql_grows_linearly(template: str) -> None:
    cols = {"i": sa.column("i", sa.Integer), "n": sa.column("n", sa.Numeric),
            "d": sa.column("d", sa.Date)}
    kinds = {"i": "number", "n": "number", "d": "date"}

    def size(depth: int) -> dict[str, int]:
        source = "i"
        for _ in range(depth):
            source = template.format(source)
        sql = parse(source, kinds).to_sql(cols)
        return {d.name: len(str(sql.compile(dialect=d)))
                for d in (postgresql.dialect(), sqlite.dialect())}

    small, large = size(3), size(6)
    for name in small:
        assert large[name] < 2.3 * small[name], name


def test_too_deep_for_sqlite_is_refused_for_both_databases() -> None:
    cols = {"i": sa.column("i", sa.Integer)}
    ok = parse("min(min(min(i, 1), 2), 3)", ["i"]).to_sql(cols)
    assert "LEAST" in str(ok.compile(dialect=postgresql.dialect()))
    source = "i"
    for _ in range(12):
        source = f"min({source}, 1)"
    with pytest.raises(ExprError) as info:
        parse(source, ["i"]).to_sql(cols)
    assert info.value.code == "CRM-E045"
    assert "nested too deeply" in info.value.message
