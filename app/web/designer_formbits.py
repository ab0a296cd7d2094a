"""Pieces the workflow forms of the designer share: reading labels, lists of names, durations,
expressions and YAML text areas from a posted form, each problem kept under the input's name
so the page shows it beside that input."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml
from werkzeug.datastructures import MultiDict

from app.i18n import _
from app.meta import yamlpos
from app.meta.types import EntityDef

Errors = dict[str, list[str]]
Form = MultiDict[str, str]
LANGS = ("en", "zh")
#: most rows (transitions, steps, approvers) a form may post
MOST = 200
_SPLIT = re.compile(r"[,\s]+")


def add_error(errors: Errors, key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def text(form: Form, key: str) -> str:
    return (form.get(key) or "").strip()


def labels(form: Form, prefix: str) -> dict[str, str]:
    """`{en, zh}` from the inputs `<prefix>-en` and `<prefix>-zh` (empty ones left out)."""
    return {lang: text(form, f"{prefix}-{lang}") for lang in LANGS
            if text(form, f"{prefix}-{lang}")}


def count(form: Form, key: str) -> int:
    """How many rows the form says it holds (hidden input `key`), within bounds."""
    try:
        return max(0, min(MOST, int(form.get(key) or 0)))
    except ValueError:
        return 0


def names(raw: str) -> list[str]:
    """Names typed into one input, separated by commas or spaces."""
    return [n for n in _SPLIT.split(raw.strip()) if n]


def check_fields(errors: Errors, key: str, wanted: list[str], entity: EntityDef) -> list[str]:
    unknown = [n for n in wanted if n not in entity.fields]
    if unknown:
        add_error(errors, key, _("%(entity)s has no field %(names)s.", entity=entity.name,
                                 names=", ".join(unknown)))
    return [n for n in wanted if n in entity.fields]


def check_when(errors: Errors, key: str, source: str, entity: EntityDef) -> None:
    """Parse an expression on `entity`'s fields now, as the config load will."""
    if not source:
        return
    from app.expr.parser import ExprError, parse
    from app.fields import registry
    from app.meta.checks import expr_kinds

    try:
        parse(source, expr_kinds(entity, registry))
    except ExprError as exc:
        add_error(errors, key, _("%(problem)s (at character %(at)s)", problem=exc.message,
                                 at=exc.offset + 1))


def duration(errors: Errors, key: str, raw: str) -> str | int | None:
    """`30m`, `8h`, `2d`, `1w` or a number of hours; None when empty."""
    from app.meta.approvals import seconds

    if not raw:
        return None
    value: str | int = int(raw) if raw.isdigit() else raw
    try:
        if not seconds(value):
            add_error(errors, key, _("A duration must be more than zero."))
    except ValueError:
        add_error(errors, key, _("Write a duration like 30m, 8h, 2d or 1w."))
    return value


def yaml_text(value: Any) -> str:
    """`value` as short, readable YAML (collections of plain values on one line); "" for
    nothing."""
    if value in (None, [], {}):
        return ""
    return str(yaml.safe_dump(value, allow_unicode=True, sort_keys=False,
                              default_flow_style=None, width=100))


def yaml_value(errors: Errors, key: str, raw: str) -> Any:
    """The YAML typed into a text area (None when empty or broken: the error is kept)."""
    if not raw.strip():
        return None
    try:
        return yamlpos.safe_load(raw)  # aliases and nesting within limits
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is not None:
            add_error(errors, key, _("This is not valid YAML (line %(line)s): %(problem)s",
                                     line=mark.line + 1, problem=problem))
        else:
            add_error(errors, key, _("This is not valid YAML: %(problem)s", problem=problem))
        return None


def actions(errors: Errors, key: str, raw: str) -> list[dict[str, Any]] | None:
    """A list of actions (`- set: {...}`) typed as YAML; None when empty."""
    value = yaml_value(errors, key, raw)
    if value is None:
        return None
    if not isinstance(value, list) or not all(
            isinstance(a, Mapping) and len(a) == 1 for a in value):
        add_error(errors, key, _("Write a list of actions, one per line starting with “- ”, "
                                 "like “- set: {status: approved}”."))
        return None
    return [dict(a) for a in value]


def keep_order(values: list[str], like: Any) -> list[str]:
    """`values` (in the order of the form's options) in the order the file lists them, new
    ones after."""
    old = [like] if isinstance(like, str) else [str(v) for v in like or ()]
    return [v for v in old if v in values] + [v for v in values if v not in old]


def one_or_list(values: list[str], like: Any = None) -> str | list[str]:
    """One value as itself, several as a list (a list when `like`, the value it replaces, was
    one: the file keeps its style), in the order `like` has them."""
    values = keep_order(values, like)
    if len(values) == 1 and not isinstance(like, list):
        return values[0]
    return list(values)
