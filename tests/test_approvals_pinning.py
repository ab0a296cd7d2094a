"""An approval in flight keeps the process definition it started on: editing or removing the
process in the YAML (a new config version) changes new submissions only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.migrate.publish import publish
from tests import approvalkit
from tests.approvalkit import Flow, approval_deployment

frozen_clock = approvalkit.frozen_clock


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, frozen_clock: object) -> Iterator[Context]:
    context = approval_deployment(tmp_path, database_url)
    try:
        yield context
    finally:
        context.dispose()


def _republish(ctx: Context, change: str) -> Flow:
    quotes = ctx.settings.workflow_dirs[0] / "quotes.yaml"
    text = quotes.read_text(encoding="utf-8")
    if change == "no director":
        text = text.replace('when: "coalesce(discount, 0) > 40"', 'when: "discount > 90"')
    else:
        text = text.split("\nstages:")[0].split("approvals:")[0] + "\nstages:" + \
            text.split("\nstages:")[1]
    quotes.write_text(text, encoding="utf-8")
    publish(ctx.engine, ctx.yaml_meta())
    return Flow(ctx)


def test_a_stricter_process_applies_to_new_submissions_only(ctx: Context) -> None:
    flow = Flow(ctx)
    before = flow.quote(discount=45)
    old = flow.approvals.submit("quote", before, flow.who("rep"))
    flow = _republish(ctx, "no director")
    after = flow.quote(discount=45)
    new = flow.approvals.submit("quote", after, flow.who("rep"))
    for approval in (old, new):
        flow.approvals.decide(flow.task_for(approval, "manager"), flow.who("manager"),
                              approve=True)
    # the old one still needs a director (its definition); the new one is done
    assert flow.assignees(old) == ["director", "director2"]
    assert flow.record("quote", after)["status"] == "approved"
    assert flow.approval(old).config_version < flow.approval(new).config_version


def test_removing_the_process_does_not_break_the_approval_in_flight(ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45)
    approval = flow.approvals.submit("quote", quote, flow.who("rep"))
    flow = _republish(ctx, "removed")
    assert "quote_discount" not in flow.rs.meta.approvals
    flow.approvals.decide(flow.task_for(approval, "manager"), flow.who("manager"), approve=True)
    flow.approvals.decide(flow.task_for(approval, "director"), flow.who("director"),
                          approve=True)
    assert flow.approval(approval).status == "approved"
    assert flow.record("quote", quote)["status"] == "approved"
