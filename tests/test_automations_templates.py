"""Action text templates: only plain `{field}` names are replaced at run time, whatever the
template holds (attribute or index access, conversions and format specs stay as written)."""

from __future__ import annotations

import pytest

from app.actions import ActionContext, check_template
from app.context import Context


def _render(template: str) -> str:
    context = ActionContext(ctx=Context.__new__(Context), entity="account", event="created",
                            record={"id": 7, "name": "Acme", "amount": "12.50", "note": None})
    return context.render(template)


@pytest.mark.parametrize(("template", "out"), [
    ("{name} ({id}) {entity}.{event}", "Acme (7) account.created"),
    ("{{literal}} {name}", "{literal} Acme"),
    ("{note}|{unknown}", "|{unknown}"),
    ("{name.__class__.__mro__}", "{name.__class__.__mro__}"),
    ("{name[0]} {name!r} {amount:,.2f}", "{name[0]} {name!r} {amount:,.2f}"),
    ("Deal {name won", "Deal {name won"),
    ("}{", "}{"),
])
def test_render_replaces_only_plain_names(template: str, out: str) -> None:
    assert _render(template) == out


@pytest.mark.parametrize(("template", "problem"), [
    ("{name} and {{braces}}", None),
    ("Deal {name won", "expected '}'"),
    ("100% }", "Single '}'"),
    ("{}", "is not a field name"),
    ("{0}", "is not a field name"),
    ("{name[0]}", "is not a field name"),
    ("{name!r}", "conversions and format specs"),
])
def test_check_template(template: str, problem: str | None) -> None:
    found = check_template(template)
    assert (found is None) if problem is None else (found is not None and problem in found)
