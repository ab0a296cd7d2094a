"""Tree -> SQLAlchemy Core expression that gives the same results on SQLite and PostgreSQL.

Where the two databases differ (dates, division, remainders, least/greatest, substring search)
the expression uses the small custom elements below, each compiled per dialect with
`@compiles`; the default compilation is standard SQL as PostgreSQL speaks it. Dates and
datetimes are computed in UTC on both databases, as `evaluate` does.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.functions import FunctionElement

from app.expr.parser import (
    Binary,
    BoolOp,
    Call,
    Compare,
    ExprError,
    ListOf,
    Lit,
    Name,
    Node,
    Unary,
    arith_kind,
    comparable,
)

if TYPE_CHECKING:
    from app.expr.parser import Expression

NOT_IN_SQL = "CRM-E045"
Col = sa.ColumnElement[Any]


# --- custom elements -----------------------------------------------------------------------------
class Element(FunctionElement[Any]):
    """A function whose SQL differs per dialect; see `_dialects`."""

    inherit_cache = True


def args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses]


def _pg_date(clause: Any, text: str) -> str:
    """A PostgreSQL date from a date or timestamp, taking timestamps with a time zone in UTC."""
    if isinstance(clause.type, sa.DateTime) and clause.type.timezone:
        return f"CAST(timezone('UTC', {text}) AS DATE)"
    return text if isinstance(clause.type, sa.Date) else f"CAST({text} AS DATE)"


def _pg_moment(clause: Any, text: str) -> str:
    """A PostgreSQL timestamp with time zone; dates and naive timestamps are taken as UTC."""
    if isinstance(clause.type, sa.DateTime) and clause.type.timezone:
        return text
    return f"timezone('UTC', CAST({text} AS TIMESTAMP))"


def dialects(cls: type[Element], default: str, sqlite_sql: str | None = None) -> None:
    """Compile `cls` from templates: {0}, {1}, ... are the arguments, {d0}, {d1} the arguments
    as PostgreSQL dates, {m0} the first as a PostgreSQL timestamp with time zone and {all}
    the arguments separated by commas. `default` is standard SQL as PostgreSQL speaks it;
    without `sqlite_sql`, SQLite needs its own @compiles."""

    def fill(template: str, element: Element, compiler: SQLCompiler, **kw: Any) -> str:
        clauses = list(element.clauses)
        texts = args(element, compiler, **kw)
        named = {f"d{i}": _pg_date(c, a) for i, (c, a) in enumerate(zip(clauses, texts,
                                                                         strict=True))}
        if texts:
            named["m0"] = _pg_moment(clauses[0], texts[0])
        return template.format(*texts, all=", ".join(texts), **named)

    compiles(cls)(lambda element, compiler, **kw: fill(default, element, compiler, **kw))
    if sqlite_sql is not None:
        compiles(cls, "sqlite")(
            lambda element, compiler, **kw: fill(sqlite_sql, element, compiler, **kw))


class DaysBetween(Element):
    """Whole calendar days (UTC) from the first argument to the second."""

    inherit_cache = True
    type = sa.Integer()
    name = "crm_days_between"


class DateShift(Element):
    """A date moved by a number of days, rounded down to whole days."""

    inherit_cache = True
    type = sa.Date()
    name = "crm_date_shift"


class DateTimeShift(Element):
    """A datetime moved by a (fractional) number of days."""

    inherit_cache = True
    type = sa.DateTime(timezone=True)
    name = "crm_datetime_shift"


class Divide(Element):
    """True division that gives null when dividing by zero."""

    inherit_cache = True
    name = "crm_divide"


class Remainder(Element):
    """Remainder with the sign of the dividend; null when dividing by zero."""

    inherit_cache = True
    name = "crm_remainder"


class Moment(Element):
    """A date or datetime as something that compares correctly with the other kind."""

    inherit_cache = True
    name = "crm_moment"


STAMP = "'%Y-%m-%d %H:%M:%f'"
dialects(DaysBetween, "({d1} - {d0})",
          "CAST(julianday(date({1})) - julianday(date({0})) AS INTEGER)")
dialects(DateShift, "({d0} + CAST(floor({1}) AS INTEGER))", "date({0}, ({1}) || ' days')")
dialects(DateTimeShift, "({0} + CAST({1} AS DOUBLE PRECISION) * INTERVAL '1 day')",
          f"strftime({STAMP}, {{0}}, ({{1}}) || ' days')")
dialects(Divide, "(CAST({0} AS NUMERIC) / NULLIF({1}, 0))",
          "(CAST({0} AS REAL) / NULLIF({1}, 0))")
# SQLite's % works on integers only, and its mod() needs the optional math functions
dialects(Remainder, "mod(CAST({0} AS NUMERIC), NULLIF(CAST({1} AS NUMERIC), 0))",
          "(SELECT CASE WHEN typeof(crm_a) = 'integer' AND typeof(crm_b) = 'integer' "
          "THEN crm_a % NULLIF(crm_b, 0) "
          "ELSE crm_a - crm_b * CAST(CAST(crm_a AS REAL) / NULLIF(crm_b, 0) AS INTEGER) END "
          "FROM (SELECT {0} AS crm_a, {1} AS crm_b))")
dialects(Moment, "{m0}", "julianday({0})")


def number_type(types: list[Any]) -> sa.types.TypeEngine[Any] | None:
    """Integer for integers, a Numeric without scale for other numbers (a Numeric(12, 2) type
    would round results to 2 places when they are read), None if not all are numbers."""
    if not types or not all(isinstance(t, sa.Integer | sa.Numeric) for t in types):
        return None
    if all(isinstance(t, sa.Integer) for t in types):
        return sa.Integer()
    return sa.Numeric()


# --- kinds of columns ----------------------------------------------------------------------------
def kind_of_type(type_: Any) -> str:
    """How an expression sees a SQL type."""
    if isinstance(type_, sa.Boolean):
        return "bool"
    if isinstance(type_, sa.Integer | sa.Numeric):
        return "number"
    if isinstance(type_, sa.DateTime):
        return "datetime"
    if isinstance(type_, sa.Date):
        return "date"
    if isinstance(type_, sa.Time):
        return "time"
    if isinstance(type_, sa.String):
        return "text"
    return "any"


def literal(value: Any) -> Col:
    """A literal as SQL; numbers are written inline (we produced their text ourselves)."""
    if value is None:
        return sa.null()
    if type(value) is bool:
        return sa.literal(value, sa.Boolean())  # sa.true() cannot be ordered (true < x)
    if type(value) is int:
        return sa.literal_column(str(value), sa.Integer())
    if type(value) is Decimal:
        return sa.literal_column(format(value, "f"), sa.Numeric())
    return sa.literal(value, sa.String())


def _as(clause: Col, type_: type[sa.types.TypeEngine[Any]]) -> Col:
    """`clause` typed as `type_` for SQLAlchemy's operators (the SQL itself is unchanged)."""
    if isinstance(clause.type, type_ | sa.types.NullType):
        return clause
    return sa.type_coerce(clause, type_())


# --- the compiler --------------------------------------------------------------------------------
def to_sql(expr: Expression, columns: Mapping[str, Col]) -> Col:
    """The expression over `columns` (see Expression.to_sql)."""
    clause = _Compiler(expr, columns).sql(expr.tree)[0]
    if isinstance(clause, Grouping):  # a bare Grouping in SELECT loses its result type
        clause = sa.type_coerce(clause, clause.type)
    problem = _sqlite_problem(clause)
    if problem:
        raise ExprError(NOT_IN_SQL, f"the expression is nested too deeply to be computed in the "
                        f"database ({problem}); split it into several formula fields")
    return clause


def _sqlite_problem(clause: Col) -> str | None:
    """SQLite's complaint about the nesting of `clause`, if any.

    SQLite's parser has a small fixed stack and refuses SQL nested more than about 25 levels
    deep ("parser stack overflow"); PostgreSQL does not. To keep both databases alike, the SQL
    is given to an empty in-memory SQLite, which parses it and then fails (as expected) on the
    tables it does not have."""
    try:
        text = str(clause.compile(dialect=sqlite.dialect(),
                                  compile_kwargs={"literal_binds": True}))
    except (sa.exc.SQLAlchemyError, NotImplementedError, TypeError, ValueError):
        return None  # a value SQLite cannot write literally: no SQLite here
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        try:
            conn.execute(f"SELECT {text}").close()
        except sqlite3.Error as exc:
            message = str(exc)
            if "stack overflow" in message or "too large" in message or "too deep" in message:
                return message
    return None


def _unknown() -> Col:
    """A null that PostgreSQL knows to be a boolean (in CASE, NOT, ...)."""
    return sa.cast(sa.null(), sa.Boolean())


def _is_null(node: Node) -> bool:
    return isinstance(node, Lit) and node.value is None


class _Compiler:
    def __init__(self, expr: Expression, columns: Mapping[str, Col]) -> None:
        self.expr = expr
        self.columns = columns

    def sql(self, node: Node) -> tuple[Col, str]:
        """The SQL for `node` and its kind (refined by the columns' SQL types).

        Operators come back in parentheses: SQLAlchemy's own grouping rewrites some of them
        (NOT b becomes b = 0 on SQLite) without the parentheses their new precedence needs."""
        clause, kind = self.operator(node)
        if kind == "number" and not isinstance(node, Name | Lit):
            number = number_type([clause.type])
            plain = isinstance(clause.type, sa.Integer) or (
                type(clause.type) is sa.Numeric and clause.type.scale is None)
            if number is not None and not plain:
                clause = sa.type_coerce(clause, number)
        if isinstance(node, Unary | Binary | BoolOp | Compare):
            return Grouping(clause), kind
        return clause, kind

    def operator(self, node: Node) -> tuple[Col, str]:
        if isinstance(node, Lit):
            return literal(node.value), node.kind
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Unary):
            operand, kind = self.sql(node.operand)
            self.expect(node, kind, "bool" if node.op == "not" else "number")
            if kind == "null":
                return sa.null(), "null"
            if node.op == "not":
                return sa.not_(_as(operand, sa.Boolean)), "bool"
            return (-_as(operand, sa.Numeric) if node.op == "-" else operand), kind
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, BoolOp):
            parts = [self.sql(v) for v in node.values]
            for _, kind in parts:
                self.expect(node, kind, "bool")
            clauses = [_as(c, sa.Boolean) for c, _ in parts]
            return (sa.and_(*clauses) if node.op == "and" else sa.or_(*clauses)), "bool"
        if isinstance(node, Compare):
            return self.compare(node), "bool"
        if isinstance(node, Call):
            return self.call(node)
        raise ExprError(NOT_IN_SQL, f"{type(node).__name__} cannot be computed in the database",
                        node.offset)

    @staticmethod
    def expect(node: Node, kind: str, wanted: str) -> None:
        if kind not in (wanted, "any", "null"):
            raise ExprError("CRM-E041", f"'{getattr(node, 'op', '')}' needs {wanted} values, "
                            f"but a column here holds {kind} values", node.offset)

    def name(self, node: Name) -> tuple[Col, str]:
        if node.name not in self.columns:
            raise ExprError("CRM-E042", f"field '{node.name}' has no column in the database",
                            node.offset)
        column = self.columns[node.name]
        kind = node.kind if node.kind != "any" else kind_of_type(column.type)
        if kind == "any":  # a type we do not know (JSON, ...): plain SQL operators only
            column = sa.type_coerce(column, sa.types.NullType())
        if kind == "list":
            raise ExprError(NOT_IN_SQL, f"the list field '{node.name}' cannot be computed in the "
                            "database", node.offset)
        return column, kind

    def binary(self, node: Binary) -> tuple[Col, str]:
        (a, ka), (b, kb) = self.sql(node.left), self.sql(node.right)
        kind = arith_kind(node.op, ka, kb)
        if kind is None:
            raise ExprError("CRM-E041", f"'{node.op}' cannot be used with these columns "
                            f"({ka} and {kb})", node.offset)
        if kind == "null":
            return sa.null(), "null"
        op = node.op
        dates = ("date", "datetime")
        if op in "+-" and (ka in dates or kb in dates):
            if op == "-" and ka in dates and kb in dates:
                return DaysBetween(b, a), "number"
            moment, days, mkind = (a, b, ka) if ka in dates else (b, a, kb)
            if op == "-":
                days = -days
            shifted = DateShift(moment, days) if mkind == "date" else DateTimeShift(moment, days)
            return shifted, mkind
        if op == "+" and "text" in (ka, kb):
            return a.concat(b), "text"
        if op == "+":
            return sa.sql.operators.add(a, b), kind
        if op == "-":
            return sa.sql.operators.sub(a, b), kind
        if op == "*":
            return sa.sql.operators.mul(a, b), kind
        if op == "/":
            return Divide(a, b), "number"
        return Remainder(a, b), "number"

    def compare(self, node: Compare) -> Col:
        op = node.op
        a, ka = self.sql(node.left)
        if ka == "null" and op not in ("==", "!="):  # null < x, null in [...]: null
            empty = isinstance(node.right, ListOf) and not node.right.items
            return sa.literal(op == "not in", sa.Boolean()) if empty else _unknown()
        if op in ("in", "not in"):
            if not isinstance(node.right, ListOf):
                raise ExprError(NOT_IN_SQL, f"'{op}' with a list field cannot be computed in "
                                "the database", node.right.offset)
            items = [self.sql(item) for item in node.right.items]
            for _, kind in items:
                self.comparable(node, ka, kind, False)
            clauses = [c for c, _ in items]
            if "datetime" in (ka, *(k for _, k in items)):
                a, clauses = Moment(a), [Moment(c) for c in clauses]
            return a.in_(clauses) if op == "in" else a.not_in(clauses)
        b, kb = self.sql(node.right)
        self.comparable(node, ka, kb, op not in ("==", "!="))
        if kb == "null" and op not in ("==", "!="):
            return _unknown()
        left, right = node.left, node.right
        if "datetime" in (ka, kb) and not _is_null(left) and not _is_null(right):
            # SQLite keeps datetimes as text, written differently by SQLAlchemy and by its own
            # functions; comparing the moments themselves is right on both databases
            a, b = Moment(a), Moment(b)
        if op in ("==", "!="):
            if _is_null(right):
                return a.is_(None) if op == "==" else a.is_not(None)
            if _is_null(left):
                return b.is_(None) if op == "==" else b.is_not(None)
            other = b if isinstance(left, Lit) else a
            if (isinstance(left, Lit) or isinstance(right, Lit)) and isinstance(
                other, sa.sql.elements.ColumnClause
            ):  # null-safe, but still usable by an index on the column
                if op == "==":
                    return sa.and_(other.is_not(None), a == b)
                return sa.or_(other.is_(None), a != b)
            return a.is_not_distinct_from(b) if op == "==" else a.is_distinct_from(b)
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b

    @staticmethod
    def comparable(node: Compare, left: str, right: str, ordering: bool) -> None:
        if not comparable(left, right, ordering):
            raise ExprError("CRM-E041", f"'{node.op}' cannot compare {left} values with {right} "
                            "values in the database", node.offset)

    def call(self, node: Call) -> tuple[Col, str]:
        fn = self.expr.registry.get(node.name)
        if fn is None:
            raise ExprError("CRM-E043", f"unknown function '{node.name}'", node.offset)
        if any(a.kind == "list" for a in node.args):
            raise ExprError(NOT_IN_SQL, f"{node.name}() of a list cannot be computed in the "
                            "database", node.offset)
        compiled = [self.sql(a) for a in node.args]
        if fn.sql_impl is None:
            raise ExprError(NOT_IN_SQL, f"{node.name}() cannot be computed in the database",
                            node.offset)
        kinds = [k for _, k in compiled]
        if fn.check is not None:  # again, with the kinds the columns revealed
            problem = fn.check([replace(a, kind=k) for a, k in zip(node.args, kinds, strict=True)])
            if problem:
                raise ExprError("CRM-E043", f"{node.name}(): {problem}", node.offset)
        if "list" in kinds:
            raise ExprError(NOT_IN_SQL, f"{node.name}() of a list cannot be computed in the "
                            "database", node.offset)
        kind = fn.kind if isinstance(fn.kind, str) else fn.kind(kinds)
        if kind == "null" and not isinstance(fn.kind, str):  # if/coalesce/min/max of nulls
            return sa.null(), kind  # (PostgreSQL would type GREATEST(NULL, NULL) as text)
        return fn.sql_impl(*(c for c, _ in compiled)), kind
