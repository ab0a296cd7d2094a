"""Stage machines in the records service: allowed and refused moves, roles, `when`, required
fields, `set`, `create_activity`, queued actions, creates, bulk edits, and the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.context import Context
from app.model.system_events import automation_runs
from app.records import SYSTEM, ValidationFailed
from app.workflow.machine import allowed_moves
from tests.apikit import error_of, token_for
from tests.stageskit import SALES, account, actor, deal, records, stage_deployment
from tests.webhookkit import receiver
from tests.webkit import web_app


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = stage_deployment(tmp_path, database_url)
    try:
        yield c
    finally:
        c.dispose()


def _move(ctx: Context, rid: int, who: Any = SYSTEM, **values: Any) -> dict[str, Any]:
    return records(ctx).update("opportunity", rid, values, who)


def _refusal(ctx: Context, rid: int, who: Any = SYSTEM, **values: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as info:
        _move(ctx, rid, who, **values)
    return info.value.errors


def _negotiating(ctx: Context, amount: int, who: Any = SYSTEM) -> dict[str, Any]:
    """A deal walked (by the system) to negotiation, owned by `who`."""
    d = deal(ctx, who if who is not SYSTEM else None, amount=amount, close_date="2026-06-30")
    for stage in ("qualification", "proposal", "negotiation"):
        _move(ctx, d["id"], stage=stage)
    return records(ctx).get("opportunity", d["id"])


def _activities(ctx: Context) -> list[dict[str, Any]]:
    rec = records(ctx)
    with ctx.engine.connect() as conn:
        return [rec.to_record(r) for r in conn.execute(rec.full_select("activity"))]


def test_an_allowed_move_is_saved_and_a_refused_one_says_what_is_allowed(ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    d = deal(ctx, rep)
    assert d["stage"] == "prospecting"
    errors = _refusal(ctx, d["id"], rep, stage="won")
    assert errors == {"stage": ["Prospecting → Won is not allowed; from Prospecting you may "
                                "move to Qualification, Lost."]}
    assert records(ctx).get("opportunity", d["id"])["stage"] == "prospecting"
    assert _move(ctx, d["id"], rep, stage="qualification")["stage"] == "qualification"


def test_a_new_record_starts_in_an_initial_stage(ctx: Context) -> None:
    assert deal(ctx, stage="qualification")["stage"] == "qualification"
    with pytest.raises(ValidationFailed) as info:
        deal(ctx, stage="negotiation", amount=5, close_date="2026-01-01")
    assert info.value.errors == {"stage": [
        "A new Opportunity cannot start in Negotiation; it may start in Prospecting, "
        "Qualification."]}


def test_roles_and_when_decide_who_may_win_a_deal(ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    manager = actor(ctx, "manager", "sales_manager")
    big = _negotiating(ctx, 250000, rep)
    errors = _refusal(ctx, big["id"], rep, stage="won")
    assert errors["stage"] == ["Negotiation → Won: A sales representative may close deals "
                               "under 100,000 as won; ask your manager to close this one."]
    small = _negotiating(ctx, 50000, rep)
    assert _move(ctx, small["id"], rep, stage="won")["stage"] == "won"  # `when` holds
    # the manager sees the rep's deals (subordinates) and may win any of them
    assert _move(ctx, big["id"], manager, stage="won")["stage"] == "won"


def test_a_move_only_some_roles_may_make_names_them(ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    d = deal(ctx, rep, loss_reason="price")
    _move(ctx, d["id"], rep, stage="lost")
    errors = _refusal(ctx, d["id"], rep, stage="qualification")
    assert errors["stage"] == ["Lost → Qualification may only be made by Sales manager, "
                               "Sales director."]
    assert _move(ctx, d["id"], SYSTEM, stage="qualification")["stage"] == "qualification"


def test_fields_a_stage_requires_are_named(ctx: Context) -> None:
    d = deal(ctx, stage="qualification", amount=1000)
    errors = _refusal(ctx, d["id"], stage="proposal")
    assert errors == {"close_date": ["Close date is required to move to Proposal."]}
    assert _move(ctx, d["id"], stage="proposal", close_date="2026-03-01")["stage"] == "proposal"


def test_entering_a_stage_sets_fields_and_creates_a_linked_task(ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    d = _negotiating(ctx, 80000, rep)
    before = datetime.now(UTC).date()
    won = _move(ctx, d["id"], rep, stage="won", probability=40)
    after = datetime.now(UTC).date()
    assert won["probability"] == 100  # `set` wins over the value sent
    (task,) = _activities(ctx)
    assert task["subject"] == "Kick-off for Big deal" and task["kind"] == "task"
    assert task["related_opportunity"] == d["id"]
    assert task["owner_id"] == task["assigned_to"] == rep.id  # the deal's owner
    assert task["created_by_id"] is None  # made by the system
    due = task["due_at"].date() if hasattr(task["due_at"], "date") else task["due_at"]
    assert due in {before + timedelta(days=3), after + timedelta(days=3)}
    history = records(ctx).history("opportunity", d["id"])
    assert history[0]["changes"]["probability"][1] is not None


def test_a_refused_move_leaves_nothing_behind(ctx: Context) -> None:
    d = _negotiating(ctx, 80000)
    _refusal(ctx, d["id"], stage="won", close_date=None)
    assert _activities(ctx) == []
    assert records(ctx).get("opportunity", d["id"])["probability"] is None


KICK_OFF = ('        - create_activity: {subject: "Kick-off for {name}", kind: task, '
            'due_in_days: 3}\n')
QUEUED = SALES.replace(KICK_OFF, KICK_OFF + '        - call_webhook: {url_env: TEST_WON_URL, '
                                            'body: "{name} is {stage}"}\n')


def test_other_actions_run_on_the_queue_after_commit(tmp_path: Path, database_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert "TEST_WON_URL" in QUEUED
    c = stage_deployment(tmp_path, database_url, QUEUED)
    try:
        c.queue  # noqa: B018  (the immediate queue runs what is enqueued at once)
        with receiver() as rx:
            monkeypatch.setenv("TEST_WON_URL", rx.url)
            d = _negotiating(c, 5000)
            assert rx.requests == []
            _move(c, d["id"], stage="won")
        assert [r.body.decode() for r in rx.requests] == ["Big deal is won"]
        with c.engine.connect() as conn:
            runs = [dict(r._mapping) for r in conn.execute(sa.select(automation_runs))]
        assert [(r["automation"], r["status"], r["event"]) for r in runs] == [
            ("stage:opportunity_pipeline:won", "delivered", "opportunity.transition")]
    finally:
        c.dispose()


def test_a_bulk_edit_is_refused_as_a_whole(ctx: Context) -> None:
    rep_ = actor(ctx, "rep", "sales_rep")
    ready = _negotiating(ctx, 5000, rep_)
    early = deal(ctx, rep_, name="Early deal", amount=5000, close_date="2026-06-30")
    with pytest.raises(ValidationFailed) as info:
        records(ctx).bulk_update("opportunity", [ready["id"], early["id"]], {"stage": "won"},
                                 actor(ctx, "manager", "sales_manager"))
    assert info.value.errors["stage"] == ["Early deal: Prospecting → Won is not allowed; from "
                                          "Prospecting you may move to Qualification, Lost."]
    assert records(ctx).get("opportunity", ready["id"])["stage"] == "negotiation"
    assert _activities(ctx) == []


def test_allowed_moves_follow_roles_and_conditions(ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    big = _negotiating(ctx, 250000, rep)
    rec = records(ctx)
    moves = allowed_moves(rec, "opportunity", big, rep)
    assert moves is not None and moves.as_json() == {
        "field": "stage", "from": "negotiation", "to": ["proposal", "lost"]}
    manager = actor(ctx, "manager", "sales_manager")
    as_manager = allowed_moves(rec, "opportunity", big, manager, "stage")
    assert as_manager is not None and as_manager.to == ("proposal", "won", "lost")
    new = allowed_moves(rec, "opportunity", {}, rep)
    assert new is not None and new.to == ("prospecting", "qualification")
    assert allowed_moves(rec, "opportunity", big, rep, "type") is None
    assert allowed_moves(rec, "account", {"id": 1}, rep) is None


def test_the_api_refuses_with_the_reason_and_lists_the_moves(ctx: Context) -> None:
    app = web_app(ctx)
    client = app.test_client()
    headers = token_for(ctx, "rep")
    mine = account(ctx, actor(ctx, "rep", "sales_rep"))
    made = client.post("/api/v1/opportunity", headers=headers,
                       json={"name": "API deal", "account": mine})
    assert made.status_code == 201, made.text
    rid = made.get_json()["id"]
    resp = client.patch(f"/api/v1/opportunity/{rid}", headers=headers, json={"stage": "won"})
    assert resp.status_code == 422
    assert "Prospecting → Won is not allowed" in error_of(resp)["message"]
    moves = client.get(f"/api/v1/opportunity/{rid}/moves", headers=headers)
    assert moves.status_code == 200
    assert moves.get_json() == {"field": "stage", "from": "prospecting",
                                "to": ["qualification", "lost"]}
    assert client.get(f"/api/v1/opportunity/{rid}/moves?field=type",
                      headers=headers).status_code == 404
    assert client.get(f"/api/v1/opportunity/{rid}/moves?x=1",
                      headers=headers).status_code == 400
    no_machine = client.get(f"/api/v1/account/{mine}/moves", headers=headers)
    assert no_machine.status_code == 404
    assert "No stage machine governs account" in error_of(no_machine)["message"]
    bulk = client.post("/api/v1/opportunity/bulk", headers=headers,
                       json={"records": [{"id": rid, "stage": "negotiation"}]})
    assert bulk.status_code == 422
    assert "Prospecting → Negotiation is not allowed" in error_of(bulk)["message"]


TWO_MACHINES = SALES + """\
  deal_type:
    entity: opportunity
    field: type
    initial: [new_business]
    transitions:
      - {from: new_business, to: [existing_business, renewal]}
      - {from: existing_business, to: renewal}
"""


def test_several_machines_govern_different_fields(tmp_path: Path, database_url: str) -> None:
    c = stage_deployment(tmp_path, database_url, TWO_MACHINES)
    try:
        d = deal(c, type="new_business")
        errors = _refusal(c, d["id"], type="existing_business", stage="won")
        assert set(errors) == {"stage"}
        _move(c, d["id"], type="renewal", stage="qualification")
        errors = _refusal(c, d["id"], type="existing_business")
        assert errors["type"] == ["Renewal → Existing business is not allowed; there is no "
                                  "move from Renewal you may make."]
        with pytest.raises(ValidationFailed):
            deal(c, type="renewal")
    finally:
        c.dispose()
