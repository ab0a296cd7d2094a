"""Tree -> Python value, with SQL's null semantics and limits on what a result may cost.

Only primitive values are ever touched: every value read from the record is checked (by exact
type) and normalised first - floats become Decimals, naive datetimes are taken as UTC and lists
become tuples - and anything else is refused. Every failure surfaces as ExprError CRM-E044.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from app.expr.parser import (
    MAX_NUMBER,
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
)

if TYPE_CHECKING:
    from app.expr.parser import Expression

MAX_TEXT = 10_000
RUNTIME = "CRM-E044"
_CONTEXT = decimal.Context(
    prec=28, rounding=decimal.ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
_TZ_TYPES = (timezone, ZoneInfo)
_NOUNS = {"number": "a number", "text": "text", "bool": "true or false", "date": "a date",
          "datetime": "a date and time", "time": "a time", "list": "a list", "null": "null"}


@dataclass(frozen=True)
class Context:
    """What one evaluation sees besides the record: the current date and time."""

    today: date
    now: datetime


def fail(message: str) -> ExprError:
    return ExprError(RUNTIME, message, 0)


def kind_of(value: Any) -> str:
    """The kind of a (sanitised) value."""
    t = type(value)
    if value is None:
        return "null"
    if t is bool:
        return "bool"
    if t is int or t is Decimal:
        return "number"
    if t is str:
        return "text"
    if t is datetime:
        return "datetime"
    if t is date:
        return "date"
    if t is time:
        return "time"
    return "list"


def noun(value: Any) -> str:
    return _NOUNS[kind_of(value)]


def _type_name(t: type) -> str:
    return str(type.__dict__["__name__"].__get__(t, type))


def sanitize(value: Any, where: str, nested: bool = False) -> Any:
    """The value if it is a primitive expressions may use (normalised), else ExprError."""
    t = type(value)
    if value is None or t is bool or t is int or t is str or t is date:
        return value
    if t is Decimal:
        if not value.is_finite():
            raise fail(f"{where} is not a finite number")
        return value
    if t is float:
        if not math.isfinite(value):
            raise fail(f"{where} is not a finite number")
        return Decimal(repr(value))
    if t is datetime or t is time:
        tz = value.tzinfo
        if tz is not None and type(tz) not in _TZ_TYPES:
            raise fail(f"{where} has a time zone of a type expressions cannot use")
        if t is datetime and tz is None:
            return value.replace(tzinfo=UTC)
        return value
    if (t is list or t is tuple) and not nested:
        return tuple(sanitize(v, where, True) for v in value)
    raise fail(f"{where} holds a value of type {_type_name(t)}, which expressions cannot use "
               "(only numbers, text, true/false, dates, times and lists of these)")


def number(value: Any) -> Any:
    """A numeric result, refused when it is too large."""
    if type(value) is Decimal and not value.is_finite():
        raise fail("the result is not a finite number")
    if abs(value) > MAX_NUMBER:
        raise fail("the result is too large (more than 10**30)")
    return value


def text(value: str) -> str:
    if len(value) > MAX_TEXT:
        raise fail(f"the text would be longer than {MAX_TEXT} characters")
    return value


def truth(value: Any, what: str) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise fail(f"{what} needs true or false, not {noun(value)}")


def as_date(value: date) -> date:
    if type(value) is datetime:
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    return value


def _as_moment(value: date) -> datetime:
    if type(value) is datetime:
        return value
    return datetime.combine(value, time(), UTC)


def _group(kind: str) -> str:
    return "date" if kind == "datetime" else kind


def equal(a: Any, b: Any) -> bool:
    """Null-safe equality: null == null is true, null == 1 is false."""
    if a is None or b is None:
        return a is None and b is None
    ka, kb = kind_of(a), kind_of(b)
    if _group(ka) != _group(kb):
        return False
    if ka != kb:
        return _as_moment(a) == _as_moment(b)
    return bool(a == b)


def order(a: Any, b: Any, op: str) -> bool | None:
    """a < b and friends; null with anything gives null."""
    if a is None or b is None:
        return None
    ka, kb = kind_of(a), kind_of(b)
    if _group(ka) != _group(kb) or ka == "list":
        raise fail(f"cannot compare {noun(a)} with {noun(b)} using '{op}'")
    if ka != kb:
        a, b = _as_moment(a), _as_moment(b)
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        raise fail(f"cannot compare these two values using '{op}' (for example a time with a "
                   "time zone and one without)") from None


def shift(moment: date, days: Any) -> date:
    """A date or datetime moved by a number of days (dates by whole days, rounding down)."""
    try:
        if type(moment) is datetime:
            micro = int((Decimal(days) * 86_400_000_000).to_integral_value())
            return moment + timedelta(microseconds=micro)
        whole = int(Decimal(days).to_integral_value(decimal.ROUND_FLOOR))
        return moment + timedelta(days=whole)
    except OverflowError:
        raise fail("the date would be out of range") from None


def days_between(a: date, b: date) -> int:
    return (as_date(b) - as_date(a)).days


def evaluate(
    expr: Expression, values: Mapping[str, Any], *, today: date | None = None,
    now: datetime | None = None,
) -> Any:
    """The value of `expr` for the record `values` (see Expression.evaluate)."""
    if now is None:
        now = datetime.now(UTC)
    now = sanitize(now, "now")
    if type(now) is not datetime:
        raise fail("now must be a datetime")
    if today is None:
        today = now.astimezone(UTC).date()
    if type(today) is not date:
        raise fail("today must be a date")
    env: dict[str, Any] = {}
    for name in expr.names:
        try:
            raw = values.get(name)
        except Exception as exc:
            raise fail(f"could not read field '{name}': {exc}") from None
        env[name] = sanitize(raw, f"field '{name}'")
    try:
        with decimal.localcontext(_CONTEXT):
            return _Evaluator(expr, env, Context(today, now)).ev(expr.tree)
    except ExprError:
        raise
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise fail(f"the expression could not be computed: {exc}") from None
    except (RecursionError, MemoryError):
        raise fail("the expression is too complex to compute") from None
    except Exception as exc:
        raise fail(f"the expression could not be computed ({_type_name(type(exc))})") from None


class _Evaluator:
    def __init__(self, expr: Expression, env: dict[str, Any], ctx: Context) -> None:
        self.registry = expr.registry
        self.env = env
        self.ctx = ctx

    def ev(self, node: Node) -> Any:
        if isinstance(node, Lit):
            return node.value
        if isinstance(node, Name):
            return self.env.get(node.name)
        if isinstance(node, Binary):
            return arith(node.op, self.ev(node.left), self.ev(node.right))
        if isinstance(node, Unary):
            return unary(node.op, self.ev(node.operand))
        if isinstance(node, BoolOp):
            return self.boolop(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Call):
            return self.call(node)
        raise fail(f"cannot compute {type(node).__name__}")

    def boolop(self, node: BoolOp) -> bool | None:
        stop = node.op == "or"  # the value that decides the result on its own
        unknown = False
        for part in node.values:
            value = truth(self.ev(part), f"'{node.op}'")
            if value is stop:
                return stop
            unknown = unknown or value is None
        return None if unknown else not stop

    def compare(self, node: Compare) -> bool | None:
        left = self.ev(node.left)
        op = node.op
        if op in ("in", "not in"):
            if isinstance(node.right, ListOf):
                items: Sequence[Any] = [self.ev(item) for item in node.right.items]
            else:
                right = self.ev(node.right)
                if right is None:
                    return None
                if type(right) is not tuple:
                    raise fail(f"'{op}' needs a list on its right, not {noun(right)}")
                items = right
            found = member(left, items)
            return found if op == "in" or found is None else not found
        right = self.ev(node.right)
        if op == "==":
            return equal(left, right)
        if op == "!=":
            return not equal(left, right)
        return order(left, right, op)

    def call(self, node: Call) -> Any:
        fn = self.registry.get(node.name)
        if fn is None:
            raise ExprError("CRM-E043", f"unknown function '{node.name}'", node.offset)
        evaluate = (lambda a: _thunk(self, a)) if fn.lazy else self.ev
        args: list[Any] = [evaluate(a) for a in node.args]
        if fn.context:
            args.insert(0, self.ctx)
        try:
            result = fn.py_impl(*args)
        except ExprError:
            raise
        except Exception as exc:
            raise fail(f"{node.name}() failed: {exc}") from None
        result = sanitize(result, f"the result of {node.name}()")
        kind = kind_of(result)
        if kind == "number":
            number(result)
        elif kind == "text" and len(result) > MAX_TEXT and not fn.lazy:
            longest = max((len(a) for a in args if type(a) is str), default=0)
            if len(result) > longest:
                text(result)
        return result


def _thunk(evaluator: _Evaluator, node: Node) -> Callable[[], Any]:
    return lambda: evaluator.ev(node)


def member(value: Any, items: Sequence[Any]) -> bool | None:
    """SQL's IN: true if found, else null when the value or an item is null, else false."""
    if not items:
        return False
    if value is None:
        return None
    unknown = False
    for item in items:
        if item is None:
            unknown = True
        elif equal(value, item):
            return True
    return None if unknown else False


def unary(op: str, value: Any) -> Any:
    if value is None:
        return None
    if op == "not":
        return not truth(value, "'not'")
    if kind_of(value) != "number":
        raise fail(f"'{op}' needs a number, not {noun(value)}")
    return number(-value) if op == "-" else value


def arith(op: str, a: Any, b: Any) -> Any:
    """a op b for + - * / %, null if either is null."""
    if a is None or b is None:
        return None
    ka, kb = kind_of(a), kind_of(b)
    if ka == kb == "number":
        if op == "+":
            return number(a + b)
        if op == "-":
            return number(a - b)
        if op == "*":
            return number(a * b)
        if b == 0:
            return None  # like SQL's x / NULLIF(y, 0)
        if op == "/":
            return number(Decimal(a) / Decimal(b))
        if type(a) is int and type(b) is int:  # remainder with the sign of a, as in SQL
            rest = abs(a) % abs(b)
            return rest if a >= 0 else -rest
        return number(Decimal(a) % Decimal(b))
    if op == "+" and ka == kb == "text":
        if len(a) + len(b) > MAX_TEXT:
            raise fail(f"the text would be longer than {MAX_TEXT} characters")
        return a + b
    dates = ("date", "datetime")
    if op == "+" and ka in dates and kb == "number":
        return shift(a, b)
    if op == "+" and kb in dates and ka == "number":
        return shift(b, a)
    if op == "-" and ka in dates and kb == "number":
        return shift(a, -b)
    if op == "-" and ka in dates and kb in dates:
        return days_between(b, a)
    raise fail(f"'{op}' cannot be used with {noun(a)} and {noun(b)}")
