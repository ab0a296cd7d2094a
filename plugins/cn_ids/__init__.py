"""cn_ids: Chinese mainland resident identity numbers and unified social credit codes.

Adds the field types `cn_resident_id` and `cn_uscc`, the expression function
`birth_date_of(id)`, the page /tools/cn-ids, the API route POST /api/v1/cn-ids/check
(`{"value": ...}`) and the command `crm cn-ids check NUMBER`. See README.md in this folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from app.plugins import hookimpl

from . import checks
from .fields import ResidentIdType, UsccType

if TYPE_CHECKING:
    import click
    from flask import Blueprint

    from app.expr.functions import FunctionRegistry
    from app.fields.base import FieldType


@hookimpl
def crm_field_types() -> list[type[FieldType]]:
    return [ResidentIdType, UsccType]


def birth_date_of(value: Any) -> date | None:
    """The birth date of a valid resident ID; null for null or anything else (a formula or
    default must not fail on a number still being typed)."""
    if not isinstance(value, str):
        return None
    number = checks.normalize(value)
    return checks.birth_date(number) if checks.resident_id_problem(number) is None else None


def _text_argument(args: Sequence[Any]) -> str | None:
    if args[0].kind not in ("text", "any", "null"):
        return "birth_date_of() needs a resident ID (text)"
    return None


@hookimpl
def crm_expr_functions(registry: FunctionRegistry) -> None:
    registry.register("birth_date_of", birth_date_of, min_args=1, max_args=1, kind="date",
                      check=_text_argument)


@hookimpl
def crm_web_blueprints() -> list[Blueprint]:
    from .web import page

    return [page]


@hookimpl
def crm_api_blueprints() -> list[Blueprint]:
    from .web import api

    return [api]


@hookimpl
def crm_cli_commands() -> list[click.Command]:
    from .cli import cn_ids

    return [cn_ids]
