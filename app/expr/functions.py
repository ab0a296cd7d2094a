"""The function registry and the built-in functions, each with a Python and a SQL form.

Plugins add functions with `functions.register(name, py_impl, sql_impl=None, min_args=...,
max_args=...)`. A Python implementation receives primitive values only (None, bool, int,
Decimal, str, date, datetime, time, tuples of these) and must return one; a SQL implementation
receives SQLAlchemy column expressions and returns one. A function without a SQL form can be
used in rules and defaults, but not in formulas or filters computed by the database.
"""

from __future__ import annotations

import decimal
import keyword
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from app.expr import evaluate as ev
from app.expr import sql as esql
from app.expr.parser import Lit, Node, comparable, unify

Col = sa.ColumnElement[Any]
KindRule = str | Callable[[Sequence[str]], str]
Check = Callable[[Sequence[Node]], "str | None"]
MAX_DECIMALS = 20


@dataclass(frozen=True)
class Function:
    """One registered function.

    `kind` is the kind of its result, or a callable from the kinds of the arguments to it.
    `lazy` functions receive zero-argument callables instead of values (so `if` computes only
    the branch it returns); `context` functions receive the evaluation context (today, now)
    first. `check` may refuse the arguments at parse time, returning a sentence.
    """

    name: str
    py_impl: Callable[..., Any]
    sql_impl: Callable[..., Col] | None = None
    min_args: int = 0
    max_args: int | None = None
    kind: KindRule = "any"
    lazy: bool = False
    context: bool = False
    check: Check | None = None

    def arity(self) -> str:
        """The allowed number of arguments, in words."""
        def n(count: int) -> str:
            return f"{count} argument{'' if count == 1 else 's'}"

        if self.max_args is None:
            return f"at least {n(self.min_args)}"
        if self.min_args == self.max_args:
            return "no arguments" if self.min_args == 0 else n(self.min_args)
        return f"{self.min_args} to {n(self.max_args)}"


class FunctionRegistry:
    """Functions by name. The default registry is `app.expr.functions`."""

    def __init__(self) -> None:
        self._functions: dict[str, Function] = {}
        self._lock = threading.Lock()

    def register(
        self,
        name: str,
        py_impl: Callable[..., Any],
        sql_impl: Callable[..., Col] | None = None,
        *,
        min_args: int = 0,
        max_args: int | None = None,
        kind: KindRule = "any",
        lazy: bool = False,
        context: bool = False,
        check: Check | None = None,
        replace: bool = False,
    ) -> Function:
        """Add a function; a name already taken needs `replace=True` (registering the very
        same function again is a no-op: plugin registration is idempotent)."""
        if not name.isidentifier() or name.startswith("__") or (
            keyword.iskeyword(name) and name != "if"
        ) or name in ("true", "false", "null"):
            raise ValueError(f"{name!r} cannot be a function name")
        if min_args < 0 or (max_args is not None and max_args < min_args):
            raise ValueError(f"function {name}: bad argument counts {min_args}..{max_args}")
        fn = Function(name, py_impl, sql_impl, min_args, max_args, kind, lazy, context, check)
        with self._lock:
            if self._functions.get(name) == fn:
                return self._functions[name]
            if name in self._functions and not replace:
                raise ValueError(f"function {name}() is already registered")
            self._functions[name] = fn
        return fn

    def unregister(self, name: str) -> None:
        with self._lock:
            self._functions.pop(name, None)

    def get(self, name: str) -> Function | None:
        return self._functions.get(name)

    def names(self) -> list[str]:
        return sorted(self._functions)

    def copy(self) -> FunctionRegistry:
        """A registry with the same functions, to extend without touching this one."""
        other = FunctionRegistry()
        other._functions = dict(self._functions)
        return other

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._functions)


# --- argument checks at parse time ---------------------------------------------------------------
def _expect(*allowed: str) -> Check:
    """Every argument must be of one of `allowed` kinds (or unknown, or null)."""
    nouns = " or ".join(ev._NOUNS.get(k, k) for k in allowed)

    def check(args: Sequence[Node]) -> str | None:
        for i, arg in enumerate(args, 1):
            if arg.kind not in (*allowed, "any", "null"):
                return f"argument {i} must be {nouns}, not {ev._NOUNS.get(arg.kind, arg.kind)}"
        return None

    return check


def _check_same(args: Sequence[Node]) -> str | None:
    """The values a function may return must be of one kind."""
    for arg in args[1:]:
        if not comparable(args[0].kind, arg.kind):
            return (f"the values must be of one kind, not {ev._NOUNS.get(args[0].kind)} and "
                    f"{ev._NOUNS.get(arg.kind)}")
    return None


def _check_if(args: Sequence[Node]) -> str | None:
    if args[0].kind not in ("bool", "any", "null"):
        return f"the condition must be true or false, not {ev._NOUNS.get(args[0].kind)}"
    return _check_same(args[1:])


def _check_round(args: Sequence[Node]) -> str | None:
    problem = _expect("number")(args[:1])
    if problem or len(args) == 1:
        return problem
    n = args[1]
    if not isinstance(n, Lit) or type(n.value) is not int or not 0 <= n.value <= MAX_DECIMALS:
        return f"the number of decimals must be written as a whole number from 0 to {MAX_DECIMALS}"
    return None


def _check_comparable(args: Sequence[Node]) -> str | None:
    for arg in args[1:]:
        if not comparable(args[0].kind, arg.kind, ordering=True):
            return "the arguments cannot be compared with each other"
    return None


def _unify(kinds: Sequence[str]) -> str:
    return unify(kinds)


# --- Python implementations ----------------------------------------------------------------------
def _today(ctx: ev.Context) -> Any:
    return ctx.today


def _now(ctx: ev.Context) -> Any:
    return ctx.now


def _days_between(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    for v in (a, b):
        if ev.kind_of(v) not in ("date", "datetime"):
            raise ev.fail(f"days_between() needs dates, not {ev.noun(v)}")
    return ev.days_between(a, b)


def _if(cond: Callable[[], Any], then: Callable[[], Any], other: Callable[[], Any]) -> Any:
    return then() if ev.truth(cond(), "if()") is True else other()


def _coalesce(*values: Callable[[], Any]) -> Any:
    for thunk in values:
        value = thunk()
        if value is not None:
            return value
    return None


def _one(name: str, kinds: tuple[str, ...], f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def impl(value: Any) -> Any:
        if value is None:
            return None
        if ev.kind_of(value) not in kinds:
            raise ev.fail(f"{name}() cannot be used with {ev.noun(value)}")
        return f(value)

    return impl


def _round(value: Any, places: Any = 0) -> Any:
    if value is None or places is None:
        return None
    if ev.kind_of(value) != "number":
        raise ev.fail(f"round() cannot be used with {ev.noun(value)}")
    if type(places) is not int or not 0 <= places <= MAX_DECIMALS:
        raise ev.fail(f"round() needs a whole number of decimals from 0 to {MAX_DECIMALS}")
    if type(value) is int:
        return value
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        return value.quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)


def _contains(text: Any, part: Any) -> bool:
    if text is None or part is None:
        return False
    if type(text) is not str or type(part) is not str:
        raise ev.fail("contains() needs two texts")
    return part in text


#: code points of scripts whose names are written family name first, without a space
#: (CJK radicals .. unified ideographs, kana, Hangul syllables, compatibility ideographs)
EAST_ASIAN = ((0x2E80, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF))


def _east_asian(text: str) -> bool:
    return bool(text) and any(low <= ord(text[0]) <= high for low, high in EAST_ASIAN)


def _person_name(first: Any, last: Any) -> str | None:
    """A person's name as its language writes it: "王飞" (family name first, no space) for
    Chinese, Japanese and Korean names, "Wendy Howard" for the others."""
    for part in (first, last):
        if part is not None and type(part) is not str:
            raise ev.fail("person_name() needs texts")
    first, last = (first or "").strip(), (last or "").strip()
    if _east_asian(last or first):
        return (last + first) or None
    return " ".join(p for p in (first, last) if p) or None


def _extreme(name: str, pick_first: str) -> Callable[..., Any]:
    def impl(*values: Any) -> Any:
        best: Any = None
        for value in values:
            if value is not None and (best is None or ev.order(value, best, pick_first)):
                best = value
        return best

    impl.__name__ = name
    return impl


# --- SQL implementations -------------------------------------------------------------------------
class Today(esql.Element):
    """The current date in UTC."""

    inherit_cache = True
    type = sa.Date()
    name = "crm_today"


class Now(esql.Element):
    """The current moment (UTC)."""

    inherit_cache = True
    type = sa.DateTime(timezone=True)
    name = "crm_now"


class _Pick(esql.Element):
    """A function returning one of its arguments: typed like them, so that SQLite's dates and
    datetimes (stored as text) come back as dates."""

    inherit_cache = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        known = [c.type for c in self.clauses if not isinstance(c.type, sa.types.NullType)]
        if known:
            self.type = esql.number_type(known) or known[0]


class Least(_Pick):
    """The smallest argument, ignoring nulls."""

    inherit_cache = True
    name = "crm_least"


class Greatest(_Pick):
    """The largest argument, ignoring nulls."""

    inherit_cache = True
    name = "crm_greatest"


class Contains(esql.Element):
    """Whether the first text holds the second (case-sensitive); false when either is null."""

    inherit_cache = True
    type = sa.Boolean()
    name = "crm_contains"


class PersonName(esql.Element):
    """person_name(first, last): see `_person_name`."""

    inherit_cache = True
    type = sa.String()
    name = "crm_person_name"


esql.dialects(Today, "CAST(timezone('UTC', CURRENT_TIMESTAMP) AS DATE)", "date('now')")
esql.dialects(Now, "CURRENT_TIMESTAMP", f"strftime({esql.STAMP}, 'now')")
esql.dialects(Contains, "coalesce(strpos({0}, {1}) > 0, false)", "coalesce(instr({0}, {1}) > 0, 0)")
_EA_PG = " OR ".join(f"ascii(substr(coalesce(nullif(trim({{1}}), ''), trim({{0}})), 1, 1)) "
                     f"BETWEEN {low} AND {high}" for low, high in EAST_ASIAN)
_PERSON = ("CASE WHEN {ea} THEN nullif(coalesce(trim({{1}}), '') || coalesce(trim({{0}}), ''), '') "
           "ELSE nullif(trim(coalesce(trim({{0}}), '') || ' ' || coalesce(trim({{1}}), '')), '') "
           "END")
esql.dialects(PersonName, _PERSON.format(ea=_EA_PG),
              _PERSON.format(ea=_EA_PG.replace("ascii(", "unicode(")))
esql.dialects(Least, "LEAST({all})")  # SQLite: below
esql.dialects(Greatest, "GREATEST({all})")


def _sqlite_min_max(which: str, element: esql.Element, compiler: SQLCompiler,
                    **kw: Any) -> str:
    # SQLite's scalar min()/max() give null if any argument is null, its aggregates do not
    first, *rest = esql.args(element, compiler, **kw)
    values = " UNION ALL SELECT ".join([f"{first} AS crm_v", *rest])
    return f"(SELECT {which}(crm_v) FROM (SELECT {values}))"


@compiles(Least, "sqlite")
def _least_sqlite(element: Least, compiler: SQLCompiler, **kw: Any) -> str:
    return _sqlite_min_max("min", element, compiler, **kw)


@compiles(Greatest, "sqlite")
def _greatest_sqlite(element: Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return _sqlite_min_max("max", element, compiler, **kw)


def _sql_round(value: Col, places: Col | None = None) -> Col:
    number = sa.cast(value, sa.Numeric())
    return sa.func.round(number) if places is None else sa.func.round(number, places)


def _sql_coalesce(*values: Col) -> Col:
    return values[0] if len(values) == 1 else sa.func.coalesce(*values)  # SQLite needs 2


def _sql_if(cond: Col, then: Col, other: Col) -> Col:
    return sa.case((cond, then), else_=other)


# --- the default registry ------------------------------------------------------------------------
functions = FunctionRegistry()


def _register_builtins(reg: FunctionRegistry) -> None:
    reg.register("today", _today, Today, max_args=0, kind="date", context=True)
    reg.register("now", _now, Now, max_args=0, kind="datetime", context=True)
    reg.register("days_between", _days_between, esql.DaysBetween, min_args=2, max_args=2,
                 kind="number", check=_expect("date", "datetime"))
    reg.register("if", _if, _sql_if, min_args=3, max_args=3, lazy=True,
                 kind=lambda kinds: unify(kinds[1:]), check=_check_if)
    reg.register("coalesce", _coalesce, _sql_coalesce, min_args=1, lazy=True, kind=_unify,
                 check=_check_same)
    reg.register("len", _one("len", ("text", "list"), len), sa.func.length, min_args=1,
                 max_args=1, kind="number", check=_expect("text", "list"))
    reg.register("lower", _one("lower", ("text",), str.lower), sa.func.lower, min_args=1,
                 max_args=1, kind="text", check=_expect("text"))
    reg.register("upper", _one("upper", ("text",), str.upper), sa.func.upper, min_args=1,
                 max_args=1, kind="text", check=_expect("text"))
    reg.register("round", _round, _sql_round, min_args=1, max_args=2, kind="number",
                 check=_check_round)
    reg.register("contains", _contains, Contains, min_args=2, max_args=2, kind="bool",
                 check=_expect("text"))
    reg.register("person_name", _person_name, PersonName, min_args=2, max_args=2, kind="text",
                 check=_expect("text"))
    reg.register("abs", _one("abs", ("number",), abs), sa.func.abs, min_args=1, max_args=1,
                 kind="number", check=_expect("number"))
    reg.register("min", _extreme("min", "<"), Least, min_args=2, kind=_unify,
                 check=_check_comparable)
    reg.register("max", _extreme("max", ">"), Greatest, min_args=2, kind=_unify,
                 check=_check_comparable)


_register_builtins(functions)
