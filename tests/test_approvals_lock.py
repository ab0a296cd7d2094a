"""The record lock while an approval is pending: the submitter and everyone else are refused
(423, nothing saved), the current approver and admins may edit, the quote's lines are locked
with it; approvers may read the record they are asked to approve."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.records import Locked, NotFound
from tests import approvalkit
from tests.approvalkit import Flow, approval_deployment

frozen_clock = approvalkit.frozen_clock


@pytest.fixture
def flow(tmp_path: Path, database_url: str, frozen_clock: object) -> Iterator[Flow]:
    ctx = approval_deployment(tmp_path, database_url)
    try:
        yield Flow(ctx)
    finally:
        ctx.dispose()


def _line(flow: Flow, quote: int) -> int:
    table = flow.rs.table("quote_line")
    with flow.ctx.engine.connect() as conn:
        column = table.c[flow.rs.spec("quote_line").columns["quote"]]
        found = conn.execute(sa.select(table.c.id).where(column == quote)).scalar()
    assert found is not None
    return int(found)


def test_the_submitter_cannot_change_a_pending_quote(flow: Flow) -> None:
    quote = flow.quote(discount=30)
    flow.approvals.submit("quote", quote, flow.who("rep"))
    with pytest.raises(Locked, match="Discount approval") as info:
        flow.rs.update("quote", quote, {"discount": 10}, flow.who("rep"))
    assert info.value.status == 423
    assert flow.record("quote", quote)["discount"] == 30
    with pytest.raises(Locked):
        flow.rs.delete("quote", quote, flow.who("rep"))


def test_the_lines_are_locked_with_the_quote(flow: Flow) -> None:
    quote = flow.quote(discount=30)
    line = _line(flow, quote)
    flow.approvals.submit("quote", quote, flow.who("rep"))
    rep = flow.who("rep")
    with pytest.raises(Locked):
        flow.rs.update("quote_line", line, {"quantity": 100}, rep)
    with pytest.raises(Locked):
        flow.rs.create("quote_line", {"quote": quote, "description": "extra",
                                      "quantity": 1, "unit_price": 1}, rep)
    with pytest.raises(Locked):
        flow.rs.delete("quote_line", line, rep)


def test_the_approver_and_admins_may_edit(flow: Flow) -> None:
    quote = flow.quote(discount=30)
    approval = flow.approvals.submit("quote", quote, flow.who("rep"))
    flow.rs.update("quote", quote, {"terms": "Net 30"}, flow.who("manager"))
    flow.rs.update("quote", quote, {"terms": "Net 45"}, flow.who("admin"))
    assert flow.record("quote", quote)["terms"] == "Net 45"
    flow.approvals.decide(flow.task_for(approval, "manager"), flow.who("manager"), approve=True)
    # approved: the lock is gone (the status machine governs what comes next)
    flow.rs.update("quote", quote, {"terms": "Net 60"}, flow.who("rep"))


def test_recall_unlocks(flow: Flow) -> None:
    quote = flow.quote(discount=30)
    approval = flow.approvals.submit("quote", quote, flow.who("rep"))
    flow.approvals.recall(approval, flow.who("rep"))
    assert flow.rs.update("quote", quote, {"discount": 25}, flow.who("rep"))["discount"] == 25


def test_an_approver_may_read_the_quote_they_are_asked_to_approve(flow: Flow) -> None:
    quote = flow.quote(discount=30, owner="loner")
    # loner has no manager: the directors approve; a director hands it to rep2, a rep who
    # reads only their own quotes: now they may read this one; rep still may not
    approval = flow.approvals.submit("quote", quote, flow.who("loner"))
    with pytest.raises(NotFound):
        flow.as_user("rep2").rs.get("quote", quote)
    flow.approvals.reassign(flow.task_for(approval, "director"), flow.who("director"),
                            flow.who("rep2").id)
    assert flow.as_user("rep2").rs.get("quote", quote)["id"] == quote
    with pytest.raises(NotFound):
        flow.as_user("rep").rs.get("quote", quote)
