"""Simulation (who would approve, through which steps, changing nothing) and statistics
(per process and step: counts, approval rate, average and 90th percentile time, overdue)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app import clock
from app.model.approvals import approvals
from app.workflow.approvals.simulate import simulate
from app.workflow.approvals.stats import overdue, percentile, statistics
from tests import approvalkit
from tests.approvalkit import START, Flow, approval_deployment

frozen_clock = approvalkit.frozen_clock


@pytest.fixture
def flow(tmp_path: Path, database_url: str, frozen_clock: object) -> Iterator[Flow]:
    ctx = approval_deployment(tmp_path, database_url)
    try:
        yield Flow(ctx)
    finally:
        ctx.dispose()


def test_simulation_names_the_steps_and_approvers_and_changes_nothing(flow: Flow) -> None:
    quote = flow.quote(discount=45)
    sim = simulate(flow.approvals, "quote", quote, flow.who("rep"))
    (plan,) = sim.processes
    assert plan.refused is None and not plan.blocked
    assert [(s.name, s.applies, s.approvers) for s in plan.steps] == [
        ("manager", True, ["Manager"]), ("director", True, ["Director", "Director2"])]
    assert plan.steps[0].escalate_to == ["Director", "Director2"]
    text = sim.text()
    assert "Manager approval: Manager (any)" in text and "escalates after 2d" in text
    assert flow.record("quote", quote)["status"] == "draft"
    with flow.ctx.engine.connect() as conn:
        assert conn.execute(approvals.select()).first() is None


def test_simulation_says_why_not(flow: Flow) -> None:
    small = flow.quote(discount=10)
    (plan,) = simulate(flow.approvals, "quote", small, flow.who("rep")).processes
    assert plan.refused is not None and "over 20%" in plan.refused
    assert [s.applies for s in plan.steps] == [True, False]
    loner = flow.quote(discount=30, owner="loner")
    (plan,) = simulate(flow.approvals, "quote", loner, flow.who("loner")).processes
    assert plan.steps[0].approvers == ["Director", "Director2"]
    assert any("fallback" in p for p in plan.steps[0].problems)


def test_statistics_per_process_and_step(flow: Flow) -> None:
    done = []
    for hours, approve in ((1, True), (2, True), (10, False)):
        clock.set_now(START)
        approval = flow.approvals.submit("quote", flow.quote(discount=30), flow.who("rep"))
        clock.set_now(START + timedelta(hours=hours))
        flow.approvals.decide(flow.task_for(approval, "manager"), flow.who("manager"),
                              approve=approve)
        done.append(approval)
    clock.set_now(START)
    flow.approvals.submit("quote", flow.quote(discount=30), flow.who("rep"))
    recalled = flow.approvals.submit("quote", flow.quote(discount=30), flow.who("rep"))
    flow.approvals.recall(recalled, flow.who("rep"))
    clock.set_now(START + timedelta(days=3))
    with flow.ctx.engine.connect() as conn:
        (stats,) = statistics(conn)
        late = overdue(conn)
    assert (stats.submitted, stats.approved, stats.rejected, stats.recalled, stats.pending) == \
        (5, 2, 1, 1, 1)
    assert stats.approval_rate == pytest.approx(2 / 3)
    manager = stats.steps["manager"]
    assert (manager.decided, manager.approved, manager.rejected, manager.open) == (3, 2, 1, 1)
    assert manager.avg_seconds == pytest.approx((1 + 2 + 10) / 3 * 3600)
    assert manager.p90_seconds == 10 * 3600
    assert manager.overdue == 1 and late == 1
    assert stats.as_json()["steps"][0]["p90_seconds"] == 36000.0


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([float(i) for i in range(1, 11)], 90) == 9.0
    assert percentile([float(i) for i in range(1, 101)], 90) == 90.0
