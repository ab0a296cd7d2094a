"""The safe expression language of rules, formulas, defaults and conditions.

    from app.expr import parse
    expr = parse("amount * probability / 100", {"amount": "number", "probability": "number"})
    expr.evaluate({"amount": 1000, "probability": 40})   # Decimal('400')
    expr.to_sql(table.c)                                   # the same over SQL columns

Our own evaluator over a whitelisted Python AST (never eval/exec); see parser.py for the
language and docs/yaml-format.md for the admin's view of it.
"""

from app.expr.functions import Function, FunctionRegistry, functions
from app.expr.parser import KINDS, ExprError, Expression, parse

__all__ = ["KINDS", "ExprError", "Expression", "Function", "FunctionRegistry", "functions", "parse"]
