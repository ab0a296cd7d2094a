"""Alerts on report values: crossing the threshold notifies the chosen roles once (in the app
and by mail), not again while it holds, again after it clears and crosses again; checks wait
for their interval; a group's value; the periodic task on the live config."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import clock
from app.context import Context
from app.model.notify import mails, notifications
from app.model.system import users
from app.reports.alerts import Checked, alerts_task, check_alerts, states
from tests.reportskit import records, report_deployment
from tests.webkit import user_id

REPORTS = """\
reports:
  open_cases:
    label: {en: Open cases, zh: 未结工单}
    entity: case
    filters: [{field: status, op: not_in, values: [resolved, closed]}]
    group_by: [priority]
    measures: [count]
    chart: bar
alerts:
  many_open_cases:
    label: {en: Too many open cases, zh: 未结工单过多}
    report: open_cases
    when: {op: ">", value: 1}
    notify: [service_manager]
    every_minutes: 60
  urgent_cases:
    report: open_cases
    group: [urgent]
    when: {op: ">=", value: 1}
    notify: [sales_manager]
    every_minutes: 30
"""
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    clock.set_now(T0)
    made = report_deployment(tmp_path, database_url, {"service.yaml": REPORTS})
    try:
        yield made
    finally:
        clock.set_now(None)
        made.dispose()


def told(ctx: Context) -> list[tuple[str, str, str]]:
    """(username, kind, subject) of every notification, oldest first."""
    with ctx.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            sa.select(users.c.username, notifications.c.kind, notifications.c.subject)
            .select_from(notifications.join(users, users.c.id == notifications.c.user_id))
            .order_by(notifications.c.id))]


def check(ctx: Context, minutes: int) -> dict[str, Checked]:
    at = T0 + timedelta(minutes=minutes)
    clock.set_now(at)
    return {c.alert: c for c in check_alerts(records(ctx), ctx.settings, now=at)}


def new_case(ctx: Context, priority: str = "medium") -> int:
    return int(records(ctx).create("case", {"subject": "Printer", "priority": priority})["id"])


def test_crossing_notifies_once_then_again_after_it_clears(ctx: Context) -> None:
    first = new_case(ctx)
    done = check(ctx, 0)["many_open_cases"]
    assert (done.value, done.holds, done.notified) == (1.0, False, ())
    new_case(ctx)
    assert check(ctx, 30)["many_open_cases"].skipped
    done = check(ctx, 60)["many_open_cases"]
    assert done.holds
    assert done.notified == (user_id(ctx, "svcboss"), user_id(ctx, "svcboss2"))
    assert told(ctx) == [("svcboss", "report.alert", "Alert: Too many open cases"),
                         ("svcboss2", "report.alert", "Alert: Too many open cases")]
    with ctx.engine.connect() as conn:
        sent = conn.execute(sa.select(mails.c.to_address, mails.c.subject, mails.c.body_text,
                                      mails.c.kind)).all()
        note = conn.execute(sa.select(notifications.c.link, notifications.c.body)).first()
        assert states(conn)["many_open_cases"].firing
    assert [(m.to_address, m.subject, m.kind) for m in sent] == [
        ("svcboss@example.com", "Alert: Too many open cases", "report.alert")]  # svcboss2: none
    assert "Open cases: Count is 2 (the alert fires when it is > 1)." in sent[0].body_text
    assert "/reports/open_cases" in sent[0].body_text
    assert note is not None and note.link == "/reports/open_cases"
    # still above: nobody is told again
    new_case(ctx)
    assert check(ctx, 120)["many_open_cases"].notified == ()
    assert len(told(ctx)) == 2
    # it clears ...
    rs = records(ctx)
    rs.delete("case", first)
    rs.update("case", first + 1, {"status": "resolved", "resolution": "fixed"})
    done = check(ctx, 180)["many_open_cases"]
    assert (done.value, done.holds) == (1.0, False)
    with ctx.engine.connect() as conn:
        assert not states(conn)["many_open_cases"].firing
    # ... and crosses again
    new_case(ctx)
    assert check(ctx, 240)["many_open_cases"].notified
    assert [u for u, _k, _s in told(ctx)] == ["svcboss", "svcboss2", "svcboss", "svcboss2"]


def test_a_groups_value_and_inactive_users(ctx: Context) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(users.update().where(users.c.username == "svcboss2")
                     .values(active=False))
    new_case(ctx, "low")
    done = check(ctx, 0)
    assert done["urgent_cases"].value is None
    assert not done["urgent_cases"].holds
    new_case(ctx, "urgent")
    new_case(ctx, "urgent")
    done = check(ctx, 60)
    assert done["urgent_cases"].value == 2.0
    assert done["urgent_cases"].notified == (user_id(ctx, "manager"),)
    assert done["many_open_cases"].notified == (user_id(ctx, "svcboss"),)


def test_the_periodic_task_checks_the_live_config_when_due(ctx: Context) -> None:
    assert "reports.alerts" in ctx.queue.crm_tasks
    new_case(ctx)
    new_case(ctx)
    alerts_task(ctx)
    assert [u for u, _k, _s in told(ctx)] == ["svcboss", "svcboss2"]
    with ctx.engine.connect() as conn:
        seen = states(conn)
    assert seen["many_open_cases"].last_checked_at == T0
    assert seen["many_open_cases"].last_value == 2.0
    clock.set_now(T0 + timedelta(minutes=10))
    alerts_task(ctx)  # not due yet: nothing checked
    with ctx.engine.connect() as conn:
        assert states(conn)["many_open_cases"].last_checked_at == T0
