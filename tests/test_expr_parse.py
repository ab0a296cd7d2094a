"""Parsing expressions: what is accepted, what is refused, and how the refusal reads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.expr import ExprError, Expression, FunctionRegistry, functions, parse
from app.expr.parser import Binary, Call, Lit

KINDS = {
    "amount": "number", "probability": "number", "stage": "text", "name": "text",
    "close_date": "date", "created_at": "datetime", "approved": "bool", "tags": "list",
    "x": "any", "y": "any", "at": "time",
}


def error(source: str, names: object = KINDS) -> ExprError:
    with pytest.raises(ExprError) as info:
        parse(source, names)  # type: ignore[arg-type]
    return info.value


# --- accepted --------------------------------------------------------------------------------
@pytest.mark.parametrize(("source", "names", "kind"), [
    ("amount * probability / 100", {"amount", "probability"}, "number"),
    ("stage == 'won' and close_date == null", {"stage", "close_date"}, "bool"),
    ("today() + 30", set(), "date"),
    ("type == 'call'", None, "bool"),
    ("discount > 30 and not approved", None, "bool"),
    ("stage in ['won', 'lost']", {"stage"}, "bool"),
    ("stage not in ('won', \"lost\")", {"stage"}, "bool"),
    ("if(approved, amount, 0)", {"approved", "amount"}, "number"),
    ("coalesce(name, stage, 'none')", {"name", "stage"}, "text"),
    ("coalesce(x, amount)", {"x", "amount"}, "number"),
    ("days_between(close_date, today())", {"close_date"}, "number"),
    ("close_date - created_at", {"close_date", "created_at"}, "number"),
    ("created_at + 0.5", {"created_at"}, "datetime"),
    ("'vip' in tags", {"tags"}, "bool"),
    ("0 < amount <= 100", {"amount"}, "bool"),
    ("round(amount, 2) + abs(-1) + len(name) + min(1, 2) + max(3, amount)", {"amount", "name"},
     "number"),
    ("contains(lower(name), upper('a'))", {"name"}, "bool"),
    ("x + y", {"x", "y"}, "any"),
    ("null", set(), "null"),
    ("True or False or None", set(), "bool"),
    ("now()", set(), "datetime"),
    ("at < at", {"at"}, "bool"),
])
def test_accepted(source: str, names: set[str] | None, kind: str) -> None:
    allowed = {**KINDS, "type": "text", "discount": "number"}
    expr = parse(source, allowed)
    assert isinstance(expr, Expression)
    assert expr.source == source
    if names is not None:
        assert expr.names == frozenset(names)
    assert expr.kind == kind


def test_names_as_plain_collection_and_mapping() -> None:
    assert parse("a + b * a", ["a", "b", "c"]).names == {"a", "b"}
    assert parse("a + 1", ("a",)).kind == "any"
    assert parse("a + 1", {"a": "number"}).kind == "number"
    assert parse("a", {"a": "some-new-kind"}).kind == "any"  # unknown kinds are treated as any


def test_literals() -> None:
    assert parse("true", []).tree == Lit(0, "bool", True)
    assert parse("false", []).evaluate({}) is False
    assert parse("None", []).evaluate({}) is None
    assert parse("1_000", []).evaluate({}) == 1000
    value = parse("0.1", []).evaluate({})
    assert value == Decimal("0.1") and type(value) is Decimal
    assert parse("1e3", []).evaluate({}) == Decimal(1000)
    assert parse(r"'it\'s'", []).evaluate({}) == "it's"
    assert parse('"a" + \'b\'', []).evaluate({}) == "ab"


def test_chained_comparisons() -> None:
    assert parse("0 < amount <= 100", KINDS).evaluate({"amount": 5}) is True
    assert parse("-1 < amount < 1", KINDS).evaluate({"amount": 5}) is False
    err = error("0 < amount + 1 < 10")
    assert err.code == "CRM-E041" and "middle must be a field or a value" in err.message
    assert err.offset == 4


def test_if_function_and_keyword() -> None:
    expr = parse("if(x, 1, 2)", ["x"])
    assert isinstance(expr.tree, Call) and expr.tree.name == "if"
    assert parse(" not if(x, true, false)", ["x"]).kind == "bool"
    assert parse("'if(' + x", ["x"]).evaluate({"x": "a"}) == "if(a"
    err = error("1 if(x) else 2")
    assert err.code == "CRM-E041" and "if(b, a, c)" in err.message and err.offset == 2


def test_whitespace_and_newlines() -> None:
    expr = parse("  amount +\n  1\n", KINDS)
    assert isinstance(expr.tree, Binary)
    err = error("\n  amount + amout")
    assert err.code == "CRM-E042" and err.offset == 12


def test_expression_value_semantics() -> None:
    a, b = parse("x + 1", ["x"]), parse("x + 1", ["x", "y"])
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.source = "y"  # type: ignore[misc]
    assert "x + 1" in repr(a)


# --- refused: forbidden constructs -----------------------------------------------------------
@pytest.mark.parametrize(("source", "fragment", "offset"), [
    ("amount.real", "attribute access", 6),
    ("().__class__", "attribute access", 2),
    ("name.upper()", "method calls", 0),
    ("name[0]", "indexing", 4),
    ("name[1:2]", "indexing", 4),
    ("lambda: 1", "lambda", 0),
    ("[x for x in y]", "comprehensions", 0),
    ("{x for x in y}", "comprehensions", 0),
    ("{x: 1 for x in y}", "comprehensions", 0),
    ("(x for x in y)", "comprehensions", 0),
    ("amount ** 2", "power operator", 7),
    ("9**9**9", "power operator", 1),
    ("(x := 1)", "':='", 1),
    ("f'{amount}'", "f-strings", 0),
    ("lower(name=stage)", "keyword arguments ('name=')", 6),
    ("min(*tags)", "starred", 4),
    ("min(**x)", "'**'", 4),
    ("__import__('os')", "'__'", 0),
    ("__builtins__", "'__'", 0),
    ("amount & 1", "bitwise operator '&'", 7),
    ("amount | 1", "bitwise operator '|'", 7),
    ("amount ^ 1", "bitwise", 7),
    ("amount << 1", "bitwise", 7),
    ("~amount", "'~'", 0),
    ("amount // 2", "'//'", 7),
    ("x @ y", "'@'", 2),
    ("stage is None", "'is' is not allowed", 6),
    ("stage is not None", "'is' is not allowed", 6),
    ("1 if approved else 2", "if(b, a, c)", 2),
    ("x = 1", "assignment", 0),
    ("x += 1", "assignment", 0),
    ("import os", "import", 0),
    ("from os import path", "import", 0),
    ("x; y", "only one expression", 3),
    ("del x", "statements such as 'delete'", 0),
    ("{'a': 1}", "dictionaries", 0),
    ("{1, 2}", "sets", 0),
    ("[1, 2]", "only allowed on the right of 'in'", 0),
    ("(1, 2)", "only allowed on the right of 'in'", 0),
    ("b'abc'", "byte strings", 0),
    ("2j", "imaginary", 0),
    ("...", "'...'", 0),
    ("(lambda: 1)()", "only functions can be called", 0),
    ("await x", "await", 0),
    ("stage in name", "contains(text, part)", 9),
    ("'a' * 3", "'*' cannot be used with text and a number", 4),
    ("stage + 1", "'+' cannot be used with text and a number", 6),
    ("-stage", "'-' needs a number", 0),
    ("not amount", "'not' needs true or false", 0),
    ("amount and approved", "'and' needs true or false", 0),
    ("amount == 'a'", "cannot compare a number with text", 10),
    ("close_date < amount", "cannot compare a date with a number", 13),
    ("tags < tags", "cannot compare a list", 7),
    ("amount in ['a']", "the list holds text", 11),
    ("amount in [[1]]", "only allowed on the right of 'in'", 11),
])
def test_forbidden(source: str, fragment: str, offset: int) -> None:
    err = error(source)
    assert err.code == "CRM-E041", err.message
    assert fragment in err.message
    assert err.offset == offset


def test_too_long_and_too_big() -> None:
    err = error("1 + " * 600 + "1")
    assert err.code == "CRM-E041" and "2000" in err.message
    err = error(f"min({', '.join(['amount'] * 210)})")
    assert err.code == "CRM-E041" and "too long" in err.message
    err = error(" + ".join(["amount"] * 70))
    assert err.code == "CRM-E041" and "nested too deeply" in err.message
    assert parse(" + ".join(["amount"] * 60), KINDS).kind == "number"
    err = error("-" * 500 + "1")
    assert err.code == "CRM-E041" and "nested too deeply" in err.message
    err = error("(" * 300 + "1" + ")" * 300)
    assert err.code in ("CRM-E040", "CRM-E041")
    err = error("1" + "0" * 31)
    assert err.code == "CRM-E044"
    assert error("1e400").code == "CRM-E044"
    assert error("0." + "0" * 40 + "1").code == "CRM-E044"
    assert parse("1" + "0" * 30, []).evaluate({}) == 10**30


# --- refused: syntax ---------------------------------------------------------------------------
@pytest.mark.parametrize(("source", "fragment", "offset"), [
    ("amount +", "ends too early", 8),
    ("(amount", "'(' was never closed", 0),
    ("amount)", "unmatched ')'", 6),
    ("'abc", "unterminated string", 0),
    ("amount amount", "invalid syntax", 0),
    ("amount € 1", "invalid character", 7),
    ("", "empty", 0),
    ("   \n ", "empty", 0),
    ("1 +* 2", "invalid syntax", 3),
    ("'é' +* 2", "invalid syntax", 5),
    ("a\x00", "null", 0),
])
def test_syntax_errors(source: str, fragment: str, offset: int) -> None:
    err = error(source)
    assert err.code == "CRM-E040"
    assert fragment in err.message
    if offset:
        assert err.offset == offset
    assert str(err).startswith("CRM-E040 ")


def test_non_text_source() -> None:
    assert error(12).code == "CRM-E040"  # type: ignore[arg-type]


# --- refused: names and functions -------------------------------------------------------------
def test_unknown_name_suggests() -> None:
    err = error("amout * 2")
    assert err.code == "CRM-E042"
    assert err.message == "unknown field 'amout' (did you mean 'amount'?)"
    assert err.offset == 0
    err = error("stage == 'won' and clos_date == null")
    assert err.message == "unknown field 'clos_date' (did you mean 'close_date'?)"
    assert err.offset == 19
    assert error("zzzz").message == "unknown field 'zzzz'"
    assert "write today()" in error("today + 1").message


def test_unknown_function_and_arity() -> None:
    err = error("todya() + 1")
    assert (err.code, err.message) == ("CRM-E043", "unknown function 'todya' (did you mean "
                                       "'today'?)")
    err = error("open('x')")
    assert err.code == "CRM-E043" and err.message == "unknown function 'open'"
    err = error("amount + round(amount, 1, 2)")
    assert err.code == "CRM-E043" and err.offset == 9
    assert err.message == "round() takes 1 to 2 arguments, but 3 were given"
    assert error("today(1)").message == "today() takes no arguments, but 1 was given"
    assert error("if(true, 1)").message == "if() takes 3 arguments, but 2 were given"
    assert error("min(1)").message == "min() takes at least 2 arguments, but 1 was given"
    err = error("amount + x()")
    assert (err.code, err.message, err.offset) == ("CRM-E043", "'x' is a field, not a function", 9)
    assert error("coalesce()").message == "coalesce() takes at least 1 argument, but 0 were given"


@pytest.mark.parametrize(("source", "fragment"), [
    ("round(amount, probability)", "number of decimals"),
    ("round(amount, 2.5)", "number of decimals"),
    ("round(amount, 99)", "number of decimals"),
    ("round(name)", "must be a number, not text"),
    ("lower(amount)", "must be text, not a number"),
    ("days_between(amount, close_date)", "must be a date or a date and time"),
    ("len(amount)", "must be text or a list"),
    ("if(amount, 1, 2)", "condition must be true or false"),
    ("min(amount, name)", "cannot be compared"),
    ("coalesce(amount, name)", "must be of one kind"),
    ("if(approved, amount, name)", "must be of one kind"),
    ("abs(stage)", "must be a number"),
    ("contains(name, 1)", "must be text"),
])
def test_function_argument_kinds(source: str, fragment: str) -> None:
    err = error(source)
    assert err.code == "CRM-E043"
    assert fragment in err.message


# --- the registry ------------------------------------------------------------------------------
def test_custom_registry() -> None:
    registry = functions.copy()
    registry.register("double", lambda x: None if x is None else x * 2, min_args=1,
                      max_args=1, kind="number")
    expr = parse("double(amount) + 1", KINDS, registry=registry)
    assert expr.evaluate({"amount": 4}) == 9
    assert expr.kind == "number"
    assert error("double(amount)").code == "CRM-E043"  # not in the default registry
    assert "double" not in functions and "double" in registry and len(registry) > len(functions)
    assert "today" in list(registry)
    registry.unregister("double")
    assert "double" not in registry


@pytest.mark.parametrize("name", ["__x", "not", "lambda", "1a", "a.b", "true", "null"])
def test_register_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValueError):
        FunctionRegistry().register(name, lambda: 1)


def test_register_refuses_duplicates_and_bad_counts() -> None:
    registry = FunctionRegistry()
    registry.register("f", lambda: 1)
    with pytest.raises(ValueError):
        registry.register("f", lambda: 2)
    registry.register("f", lambda: 2, replace=True)
    with pytest.raises(ValueError):
        registry.register("g", lambda: 1, min_args=2, max_args=1)


def test_every_builtin_has_sql() -> None:
    for name in functions:
        fn = functions.get(name)
        assert fn is not None
        if fn.py_impl.__module__.startswith("app."):  # not a plugin's (they may be loaded)
            assert fn.sql_impl is not None, name
