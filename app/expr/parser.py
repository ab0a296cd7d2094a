"""Source text -> a validated tree of our own nodes.

Python's `ast` does the parsing; everything it produces is then checked against a whitelist and
copied into the small node classes below, so nothing downstream ever sees a Python AST. Names are
checked against the fields the caller allows, functions against the registry, and the kinds of
values (number, text, date, ...) are inferred so that obvious mistakes such as `'a' * 3` are
refused when the config loads rather than when a record is saved.
"""

from __future__ import annotations

import ast
import difflib
import io
import keyword
import tokenize
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

    from app.expr.functions import FunctionRegistry

MAX_SOURCE = 2000
MAX_NODES = 200
MAX_DEPTH = 64
MAX_NUMBER = 10**30
MAX_DECIMALS = 30

#: the kinds a field can have; `null` is additionally the kind of the literal null
KINDS = frozenset({"number", "text", "bool", "date", "datetime", "time", "list", "any"})
CONCRETE = ("number", "text", "bool", "date", "datetime", "time", "list")
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
_IF = "\u0131f"  # a same-length stand-in for the keyword `if` in `if(c, a, b)`


class ExprError(Exception):
    """A problem with an expression: a stable code, a plain sentence and a 0-based offset."""

    def __init__(self, code: str, message: str, offset: int = 0) -> None:
        super().__init__(f"{code} {message} (at character {offset + 1})")
        self.code = code
        self.message = message
        self.offset = offset


# --- the tree ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Node:
    offset: int
    kind: str


@dataclass(frozen=True, slots=True)
class Lit(Node):
    value: bool | int | Decimal | str | None


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str


@dataclass(frozen=True, slots=True)
class ListOf(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "-", "+", "not"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # "+", "-", "*", "/", "%"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class BoolOp(Node):
    op: str  # "and", "or"
    values: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # "==", "!=", "<", "<=", ">", ">=", "in", "not in"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


# --- kinds ---------------------------------------------------------------------------------------
_ARITH: dict[tuple[str, str, str], str] = {
    ("+", "number", "number"): "number",
    ("+", "text", "text"): "text",
    ("+", "date", "number"): "date",
    ("+", "number", "date"): "date",
    ("+", "datetime", "number"): "datetime",
    ("+", "number", "datetime"): "datetime",
    ("-", "number", "number"): "number",
    ("-", "date", "number"): "date",
    ("-", "datetime", "number"): "datetime",
    **{("-", a, b): "number" for a in ("date", "datetime") for b in ("date", "datetime")},
    **{(op, "number", "number"): "number" for op in "*/%"},
}
_GROUP = {"date": "date", "datetime": "date"}


def _options(kind: str) -> tuple[str, ...]:
    return CONCRETE if kind in ("any", "null") else (kind,)


def arith_kind(op: str, left: str, right: str) -> str | None:
    """The kind of `left op right`, "any" when it depends on unknown kinds, None if impossible."""
    found = {_ARITH.get((op, a, b)) for a in _options(left) for b in _options(right)} - {None}
    if not found:
        return None
    if "null" in (left, right):
        return "null"
    return found.pop() if len(found) == 1 else "any"


def comparable(left: str, right: str, ordering: bool = False) -> bool:
    """Whether values of these kinds can be compared (`ordering`: with < <= > >=)."""
    if ordering and "list" in (left, right):
        return False
    if left in ("any", "null") or right in ("any", "null"):
        return True
    return _GROUP.get(left, left) == _GROUP.get(right, right)


def unify(kinds: Collection[str]) -> str:
    """The common kind of values that may each be returned (if, coalesce, min, max)."""
    known = {k for k in kinds if k not in ("null", "any")}
    if not known:
        return "any" if "any" in kinds else "null"
    return known.pop() if len(known) == 1 else "any"


# --- the expression ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression. Build it with `parse`."""

    source: str
    names: frozenset[str]
    kind: str
    tree: Node = field(repr=False, compare=False)
    registry: FunctionRegistry = field(repr=False, compare=False)
    kinds: Mapping[str, str] = field(repr=False, compare=False)

    def evaluate(
        self, values: Mapping[str, Any], *, today: date | None = None, now: datetime | None = None
    ) -> Any:
        """The value of the expression for one record; missing names are null."""
        from app.expr.evaluate import evaluate

        return evaluate(self, values, today=today, now=now)

    def to_sql(self, columns: Mapping[str, sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
        """The same expression over SQL columns (SQLite and PostgreSQL)."""
        from app.expr.sql import to_sql

        return to_sql(self, columns)


def parse(
    source: str,
    names: Mapping[str, str] | Collection[str],
    *,
    registry: FunctionRegistry | None = None,
) -> Expression:
    """Parse and check `source`; `names` are the allowed field names, optionally with kinds."""
    if registry is None:
        from app.expr.functions import functions as registry
    assert registry is not None
    if isinstance(names, Mapping):
        kinds = {str(n): (k if k in KINDS else "any") for n, k in names.items()}
    else:
        kinds = dict.fromkeys((str(n) for n in names), "any")
    if not isinstance(source, str):
        raise ExprError("CRM-E040", f"an expression must be text, not {type(source).__name__}")
    if len(source) > MAX_SOURCE:
        raise ExprError("CRM-E041", f"the expression is {len(source)} characters long; "
                        f"at most {MAX_SOURCE} are allowed", MAX_SOURCE)
    # newlines mean nothing in this language: blanking them keeps every offset on one line
    text = source.replace("\r", " ").replace("\n", " ")
    stripped = text.lstrip(" \t\f")
    lead = len(text) - len(stripped)
    if not stripped.strip():
        raise ExprError("CRM-E040", "the expression is empty")
    text, ifs = _rewrite_if(stripped)
    tree = _python_ast(text, lead)
    conv = _Converter(text, lead, ifs, kinds, registry)
    node = conv.convert(tree.body, 0)
    return Expression(source, frozenset(conv.used), node.kind, node, registry, kinds)


def _rewrite_if(text: str) -> tuple[str, set[int]]:
    """Replace the keyword `if` where it is called as a function by a stand-in name."""
    tokens: list[tokenize.TokenInfo] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            tokens.append(tok)
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass  # the parser will report the problem
    significant = [t for t in tokens if t.type not in (tokenize.COMMENT, tokenize.NL)]
    positions: set[int] = set()
    for i, tok in enumerate(significant[:-1]):
        if tok.type != tokenize.NAME or tok.string != "if" or significant[i + 1].string != "(":
            continue
        prev = significant[i - 1] if i else None
        operand_expected = (
            prev is None
            or (prev.type == tokenize.OP and prev.string not in (")", "]", "}"))
            or (prev.type == tokenize.NAME and keyword.iskeyword(prev.string))
        )
        if operand_expected:
            positions.add(tok.start[1])
    for pos in positions:
        text = text[:pos] + _IF + text[pos + 2:]
    return text, positions


_STATEMENTS = {
    "Assign": "assignment with '=' is not allowed; use '==' to compare",
    "AugAssign": "assignment (such as '+=') is not allowed",
    "AnnAssign": "annotations (':') are not allowed",
    "Import": "import is not allowed",
    "ImportFrom": "import is not allowed",
}


def _python_ast(text: str, lead: int) -> ast.Expression:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escape sequences in strings
            return ast.parse(text, mode="eval")
    except (RecursionError, MemoryError):
        raise ExprError("CRM-E041", "the expression is nested too deeply", lead) from None
    except (SyntaxError, ValueError) as exc:
        error = exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        module = None
    if module is not None and len(module.body) > 1:
        raise ExprError("CRM-E041", f"only one expression is allowed, but this has "
                        f"{len(module.body)} statements (';' separates statements)",
                        lead + _char_col(text, module.body[1].col_offset))
    if module is not None and module.body and not isinstance(module.body[0], ast.Expr):
        stmt = module.body[0]
        name = type(stmt).__name__
        message = _STATEMENTS.get(name, f"statements such as '{name.lower()}' are not allowed")
        raise ExprError("CRM-E041", message, lead)
    if isinstance(error, SyntaxError):
        msg = (error.msg or "invalid syntax").replace(" (detected at line 1)", "")
        at_end = not error.offset or error.offset < 1 or (error.lineno or 1) > 1
        if at_end and msg == "invalid syntax":
            raise ExprError("CRM-E040", "the expression ends too early", lead + len(text))
        offset = len(text) if at_end else min(error.offset - 1, len(text))  # type: ignore[operator]
        raise ExprError("CRM-E040", f"syntax error: {msg}", lead + offset)
    raise ExprError("CRM-E040", f"syntax error: {error}", lead)


def _char_col(text: str, byte_col: int) -> int:
    return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _hint(name: str, options: Collection[str]) -> str:
    match = difflib.get_close_matches(name, sorted(options), 1)
    return f" (did you mean '{match[0]}'?)" if match else ""


_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
_BITWISE = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
           ast.In: "in", ast.NotIn: "not in"}
_FORBIDDEN = {
    "Attribute": "attribute access ('.') is not allowed",
    "Subscript": "indexing and slicing ('[...]' after a value) are not allowed",
    "Lambda": "lambda functions are not allowed",
    "ListComp": "comprehensions ('for' inside brackets) are not allowed",
    "SetComp": "comprehensions ('for' inside brackets) are not allowed",
    "DictComp": "comprehensions ('for' inside brackets) are not allowed",
    "GeneratorExp": "comprehensions ('for' inside brackets) are not allowed",
    "NamedExpr": "assignment expressions (':=') are not allowed",
    "JoinedStr": "f-strings are not allowed; join text with '+'",
    "FormattedValue": "f-strings are not allowed; join text with '+'",
    "IfExp": "'a if b else c' is not allowed; write if(b, a, c)",
    "Dict": "dictionaries ('{...}') are not allowed",
    "Set": "sets ('{...}') are not allowed; write a list such as ['a', 'b'] after 'in'",
    "List": "a list is only allowed on the right of 'in', as in x in ['a', 'b']",
    "Tuple": "a list is only allowed on the right of 'in', as in x in ['a', 'b']",
    "Starred": "starred arguments ('*x') are not allowed",
    "Await": "'await' is not allowed",
    "Yield": "'yield' is not allowed",
    "YieldFrom": "'yield' is not allowed",
    "Slice": "slices are not allowed",
}


class _Converter:
    """Python AST -> our nodes, refusing everything that is not on the whitelist."""

    def __init__(self, text: str, lead: int, ifs: set[int], kinds: dict[str, str],
                 registry: FunctionRegistry) -> None:
        self.text = text
        self.lead = lead
        self.ifs = ifs
        self.kinds = kinds
        self.registry = registry
        self.used: set[str] = set()
        self.count = 0

    def at(self, node: ast.AST) -> int:
        return self.col(node) + self.lead

    def col(self, node: ast.AST) -> int:
        return _char_col(self.text, getattr(node, "col_offset", 0))

    def fail(self, code: str, message: str, node: ast.AST) -> ExprError:
        return ExprError(code, message, self.at(node))

    def end(self, node: ast.AST) -> int:
        return _char_col(self.text, getattr(node, "end_col_offset", 0) or 0)

    def after(self, node: ast.AST, default: ast.AST) -> int:
        """The offset of the first character after `node` that is not a space or ')'."""
        start = self.end(node)
        rest = self.text[start:]
        skipped = len(rest) - len(rest.lstrip(" \t\f)"))
        return self.lead + start + skipped if skipped < len(rest) else self.at(default)

    def fail_after(self, code: str, message: str, left: ast.AST, node: ast.AST) -> ExprError:
        """An error pointing at the operator that follows `left` (such as '.', '[' or '**')."""
        return ExprError(code, message, self.after(left, node))

    def convert(self, node: ast.AST, depth: int) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail("CRM-E041", f"the expression is too long (more than {MAX_NODES} "
                            "parts); split it or simplify it", node)
        if depth > MAX_DEPTH:
            raise self.fail("CRM-E041", "the expression is nested too deeply", node)
        at = self.at(node)
        d = depth + 1
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Invert):
                raise self.fail("CRM-E041", "the bitwise operator '~' is not allowed; "
                                "use 'not'", node)
            op = "not" if isinstance(node.op, ast.Not) else "-" if isinstance(
                node.op, ast.USub) else "+"
            operand = self.convert(node.operand, d)
            want = ("bool",) if op == "not" else ("number",)
            if operand.kind not in (*want, "any", "null"):
                raise self.fail("CRM-E041", f"'{op}' needs {_noun(want[0])}, "
                                f"not {_noun(operand.kind)}", node)
            kind = "null" if operand.kind == "null" else want[0]
            return Unary(at, kind, op, operand)
        if isinstance(node, ast.BinOp):
            return self.binop(node, d)
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            values = tuple(self.convert(v, d) for v in node.values)
            for v, src in zip(values, node.values, strict=True):
                if v.kind not in ("bool", "any", "null"):
                    raise self.fail("CRM-E041", f"'{op}' needs true or false on both sides, "
                                    f"not {_noun(v.kind)}", src)
            return BoolOp(at, "bool", op, values)
        if isinstance(node, ast.Compare):
            return self.compare(node, d)
        if isinstance(node, ast.Call):
            return self.call(node, d)
        name = type(node).__name__
        message = _FORBIDDEN.get(name, f"'{name}' is not allowed in an expression")
        if isinstance(node, ast.Attribute | ast.Subscript):
            raise self.fail_after("CRM-E041", message, node.value, node)
        if isinstance(node, ast.IfExp):
            raise self.fail_after("CRM-E041", message, node.body, node)
        raise self.fail("CRM-E041", message, node)

    def constant(self, node: ast.Constant) -> Lit:
        value, at = node.value, self.at(node)
        if value is None or isinstance(value, bool):
            return Lit(at, "null" if value is None else "bool", value)
        if isinstance(value, str):
            return Lit(at, "text", value)
        if isinstance(value, int):
            if value > MAX_NUMBER:
                raise self.fail("CRM-E044", "the number is too large (more than 10**30)", node)
            return Lit(at, "number", value)
        if isinstance(value, float):
            end = _char_col(self.text, node.end_col_offset or 0)
            literal = self.text[self.col(node):end].replace("_", "")
            try:
                number = Decimal(literal)
            except InvalidOperation:
                number = Decimal(repr(value))
            if not number.is_finite() or abs(number) > MAX_NUMBER:
                raise self.fail("CRM-E044", "the number is too large (more than 10**30)", node)
            exponent = number.as_tuple().exponent
            if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
                raise self.fail("CRM-E044", f"the number has more than {MAX_DECIMALS} decimals",
                                node)
            return Lit(at, "number", number)
        if isinstance(value, bytes):
            raise self.fail("CRM-E041", "byte strings (b'...') are not allowed", node)
        if value is Ellipsis:
            raise self.fail("CRM-E041", "'...' is not allowed", node)
        if isinstance(value, complex):
            raise self.fail("CRM-E041", "imaginary numbers (such as 2j) are not allowed", node)
        raise self.fail("CRM-E041", f"'{value!r}' is not allowed in an expression", node)

    def name(self, node: ast.Name) -> Node:
        name, at = node.id, self.at(node)
        if name in _LITERALS:
            value = _LITERALS[name]
            return Lit(at, "null" if value is None else "bool", value)
        if name.startswith("__"):
            raise self.fail("CRM-E041", f"names starting with '__' are not allowed ('{name}')",
                            node)
        if name not in self.kinds:
            if name in self.registry:
                raise self.fail("CRM-E042", f"unknown field '{name}' (to call the function, "
                                f"write {name}())", node)
            raise self.fail("CRM-E042", f"unknown field '{name}'{_hint(name, self.kinds)}", node)
        self.used.add(name)
        return Name(at, self.kinds[name], name)

    def binop(self, node: ast.BinOp, depth: int) -> Node:
        op_type = type(node.op)
        if op_type not in _BINOPS:
            if op_type is ast.Pow:
                message = "the power operator '**' is not allowed"
            elif op_type is ast.FloorDiv:
                message = "'//' is not allowed; use round(a / b)"
            elif op_type in _BITWISE:
                message = (f"the bitwise operator '{_BITWISE[op_type]}' is not allowed; "
                           "use 'and', 'or' and 'not'")
            else:
                message = "the operator '@' is not allowed"
            raise self.fail_after("CRM-E041", message, node.left, node)
        op = _BINOPS[op_type]
        left = self.convert(node.left, depth)
        right = self.convert(node.right, depth)
        kind = arith_kind(op, left.kind, right.kind)
        if kind is None:
            raise self.fail_after("CRM-E041", f"'{op}' cannot be used with {_noun(left.kind)} "
                                  f"and {_noun(right.kind)}", node.left, node)
        return Binary(self.at(node), kind, op, left, right)

    def compare(self, node: ast.Compare, depth: int) -> Node:
        parts: list[Node] = []
        left = self.convert(node.left, depth)
        left_ast = node.left
        for op_node, right_ast in zip(node.ops, node.comparators, strict=True):
            if isinstance(op_node, ast.Is | ast.IsNot):
                raise self.fail_after("CRM-E041", "'is' is not allowed; use '==' or '!=' "
                                      "(for example x == null)", left_ast, node)
            op = _CMPOPS[type(op_node)]
            if op in ("in", "not in"):
                right = self.in_right(right_ast, left, depth)
            else:
                right = self.convert(right_ast, depth)
                if not comparable(left.kind, right.kind, op not in ("==", "!=")):
                    raise self.fail("CRM-E041", f"cannot compare {_noun(left.kind)} with "
                                    f"{_noun(right.kind)} using '{op}'", right_ast)
            parts.append(Compare(self.at(node), "bool", op, left, right))
            if len(node.ops) > 1 and right_ast is not node.comparators[-1] and not _simple(right):
                raise self.fail("CRM-E041", "in a chained comparison such as a < b < c the "
                                "middle must be a field or a value; write a < b and b < c",
                                right_ast)
            left, left_ast = right, right_ast
        if len(parts) == 1:
            return parts[0]
        return BoolOp(self.at(node), "bool", "and", tuple(parts))

    def in_right(self, node: ast.AST, left: Node, depth: int) -> Node:
        if isinstance(node, ast.List | ast.Tuple):
            self.count += 1
            items = tuple(self.convert(item, depth + 1) for item in node.elts)
            for item, src in zip(items, node.elts, strict=True):
                if item.kind == "list" or not comparable(left.kind, item.kind):
                    raise self.fail("CRM-E041", f"the list holds {_noun(item.kind)}, which "
                                    f"cannot be compared with {_noun(left.kind)}", src)
            return ListOf(self.at(node), "list", items)
        right = self.convert(node, depth)
        if right.kind not in ("list", "any"):
            raise self.fail("CRM-E041", "'in' needs a list on its right, as in x in ['a', 'b']"
                            "; to look for text inside text use contains(text, part)", node)
        return right

    def call(self, node: ast.Call, depth: int) -> Node:
        func = node.func
        if isinstance(func, ast.Attribute):
            raise self.fail("CRM-E041", f"method calls ('.{func.attr}(...)') are not allowed",
                            func)
        if not isinstance(func, ast.Name):
            raise self.fail("CRM-E041", "only functions can be called, as in lower(name)", node)
        name = func.id
        if name == _IF and self.col(func) in self.ifs:
            name = "if"
        elif name.startswith("__"):
            raise self.fail("CRM-E041", f"names starting with '__' are not allowed ('{name}')",
                            func)
        for kw in node.keywords:
            what = f"'{kw.arg}='" if kw.arg else "'**'"
            raise self.fail("CRM-E041", f"keyword arguments ({what}) are not allowed; "
                            "give the arguments in order", kw)
        fn = self.registry.get(name)
        if fn is None:
            if name in self.kinds:
                raise self.fail("CRM-E043", f"'{name}' is a field, not a function", func)
            raise self.fail("CRM-E043", f"unknown function '{name}'"
                            f"{_hint(name, self.registry.names())}", func)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail("CRM-E041", "starred arguments ('*x') are not allowed", arg)
        n = len(node.args)
        if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
            raise self.fail("CRM-E043", f"{name}() takes {fn.arity()}, but {n} "
                            f"{'was' if n == 1 else 'were'} given", node)
        args = tuple(self.convert(a, depth + 1) for a in node.args)
        if fn.check is not None:
            problem = fn.check(args)
            if problem:
                raise self.fail("CRM-E043", f"{name}(): {problem}", node)
        kind = fn.kind if isinstance(fn.kind, str) else fn.kind([a.kind for a in args])
        return Call(self.at(node), kind, name, args)


def _simple(node: Node) -> bool:
    """A node cheap enough to compute twice (the middle of a < b < c)."""
    return isinstance(node, Name | Lit) or (
        isinstance(node, Unary) and isinstance(node.operand, Lit))


def _noun(kind: str) -> str:
    return {"number": "a number", "text": "text", "bool": "true or false", "date": "a date",
            "datetime": "a date and time", "time": "a time", "list": "a list", "null": "null",
            "any": "a value"}.get(kind, kind)
