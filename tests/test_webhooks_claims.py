"""Claims on outbox rows: only the worker holding a row records its outcome, a redelivery does
not take a row from the worker sending it, a claim lasts as long as the work's timeouts, and
an automation records each step as it is done."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.actions import Action, ActionContext
from app.actions import registry as actions
from app.context import Context
from app.events import http, outbox, tasks
from app.model.system_events import automation_runs, webhook_deliveries
from tests.webhookkit import deliveries, events_deployment, records, runs

WORKFLOWS = """
webhooks:
  h:
    url: http://127.0.0.1:9/
    events: [contact.created]
automations:
  three_steps:
    entity: account
    events: [created]
    actions:
      - call_webhook: {url: "http://127.0.0.1:9/1"}
      - call_webhook: {url: "http://127.0.0.1:9/2"}
      - call_webhook: {url: "http://127.0.0.1:9/3"}
"""


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = events_deployment(tmp_path, database_url, WORKFLOWS, extra="webhook_timeout: 100\n")
    try:
        yield c
    finally:
        c.dispose()


def _expire(ctx: Context, table: sa.Table, row_id: int) -> None:
    """As if the holder's claim ran out (a send slower than its timeouts)."""
    with ctx.engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == row_id).values(
            claimed_until=datetime.now(UTC) - timedelta(seconds=1)))


def test_redeliver_leaves_a_row_being_sent_to_its_worker(ctx: Context) -> None:
    rid = outbox.new_ping(ctx.engine, "h")
    a = outbox.claim(ctx.engine, webhook_deliveries, rid, seconds=60)
    assert a is not None
    assert outbox.redeliver(ctx.engine, rid)  # the row exists: it is being sent now
    assert outbox.claim(ctx.engine, webhook_deliveries, rid, seconds=60) is None
    assert outbox.finish(ctx.engine, webhook_deliveries, a, ok=True, error=None,
                         max_attempts=3) is None
    row = deliveries(ctx)[0]
    assert row["status"] == "delivered" and row["attempts"] == 1 and row["claim"] is None
    assert not outbox.redeliver(ctx.engine, rid + 1000)


def test_a_worker_whose_claim_was_taken_over_records_nothing(ctx: Context) -> None:
    rid = outbox.new_ping(ctx.engine, "h")
    a = outbox.claim(ctx.engine, webhook_deliveries, rid, seconds=60)
    assert a is not None
    _expire(ctx, webhook_deliveries, rid)
    assert outbox.redeliver(ctx.engine, rid)
    b = outbox.claim(ctx.engine, webhook_deliveries, rid, seconds=60)
    assert b is not None and b["claim"] != a["claim"]
    outbox.finish(ctx.engine, webhook_deliveries, b, ok=True, error=None, max_attempts=3)
    late = outbox.finish(ctx.engine, webhook_deliveries, a, ok=False, error="timeout",
                         max_attempts=3)
    assert late is None
    row = deliveries(ctx)[0]
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 1, None)


def test_a_delivery_claim_covers_the_timeout(ctx: Context,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    held: list[float] = []

    def slow_send(c: Context, row: dict[str, Any]) -> http.Answer:
        left = deliveries(ctx)[0]["claimed_until"].replace(tzinfo=UTC) - datetime.now(UTC)
        held.append(left.total_seconds())
        return http.Answer(200)

    monkeypatch.setattr(tasks, "send", slow_send)
    rid = outbox.new_ping(ctx.engine, "h")
    answer = tasks.deliver(ctx, rid)
    assert answer is not None and answer.ok
    assert held and held[0] > 2 * 100  # webhook_timeout 100: more than twice that


def test_an_automation_records_each_step_and_holds_for_the_steps_left(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, float]] = []

    def spy(context: ActionContext, params: Mapping[str, Any]) -> None:
        row = runs(ctx)[0]
        left = row["claimed_until"].replace(tzinfo=UTC) - datetime.now(UTC)
        seen.append((row["steps_done"], left.total_seconds()))

    known = actions.get("call_webhook")
    assert known is not None
    monkeypatch.setitem(actions._actions, "call_webhook",
                        Action("call_webhook", spy, known.params_schema))
    records(ctx).create("account", {"name": "Acme"})  # no queue here: the row waits
    tasks.run_automation(ctx, runs(ctx)[0]["id"])
    assert [done for done, _left in seen] == [0, 1, 2]
    # three steps of webhook_timeout 100 left, then two, then one
    assert seen[0][1] > 3 * 2 * 100 and seen[1][1] > 2 * 2 * 100 and seen[2][1] > 2 * 100
    row = runs(ctx)[0]
    assert row["status"] == "delivered" and row["steps_done"] == 3 and row["claim"] is None


def test_an_automation_stops_when_its_claim_was_taken_over(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def taken_over(context: ActionContext, params: Mapping[str, Any]) -> None:
        calls.append(str(params["url"]))
        run = runs(ctx)[0]
        _expire(ctx, automation_runs, run["id"])
        assert outbox.claim(ctx.engine, automation_runs, run["id"], seconds=60) is not None

    known = actions.get("call_webhook")
    assert known is not None
    monkeypatch.setitem(actions._actions, "call_webhook",
                        Action("call_webhook", taken_over, known.params_schema))
    records(ctx).create("account", {"name": "Acme"})
    tasks.run_automation(ctx, runs(ctx)[0]["id"])
    assert calls == ["http://127.0.0.1:9/1"]  # the new holder runs the rest
    row = runs(ctx)[0]
    assert row["status"] == "pending" and row["attempts"] == 0 and row["claim"] is not None
