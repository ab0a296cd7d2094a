"""Follow-up reminders (app/comms/reminders.py): at an activity's reminder time its assignee
(else its owner) gets one in-app notification and one mail with a link to it; never twice for
the same time, again when the time changes, never for done or cancelled activities; driven by
app.clock and by the task queue's periodic task."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app import clock
from app.comms.reminders import reminders_task, run
from app.context import Context
from app.model.notify import mails, notifications
from tests import mailkit
from tests.commskit import actor_of, comms_deployment, records
from tests.mailkit import MailBox, rows_of

mail_server = mailkit.mail_server
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, mail_server: MailBox) -> Iterator[Context]:
    c = comms_deployment(tmp_path, database_url, mail_server)
    try:
        yield c
    finally:
        clock.set_now(None)
        c.dispose()


def test_a_reminder_fires_once_at_its_time(ctx: Context, mail_server: MailBox) -> None:
    rs = records(ctx)
    rep, rep2 = actor_of(ctx, "rep"), actor_of(ctx, "rep2")
    act = rs.create("activity", {"subject": "Call back Li", "kind": "call",
                                 "due_at": T0 + timedelta(hours=1), "reminder_at": T0,
                                 "assigned_to": rep2.id, "owner": rep.id})
    clock.set_now(T0 - timedelta(minutes=1))
    assert run(ctx) == []  # not yet
    clock.set_now(T0)
    [sent] = run(ctx)
    assert (sent.record_id, sent.user_id) == (act["id"], rep2.id)  # the assignee
    assert run(ctx) == [] and reminders_task(ctx) == 0  # once
    [note] = rows_of(ctx, notifications)
    assert note["kind"] == "activity.reminder" and note["user_id"] == rep2.id
    assert note["link"] == f"/activity/{act['id']}"
    assert note["subject"] == "Reminder: Call back Li"
    [msg] = mail_server.messages
    assert msg["To"] == "rep2@example.com" and msg["Subject"] == "Reminder: Call back Li"
    assert f"http://crm.test/activity/{act['id']}" in MailBox.text(msg)
    assert [m["status"] for m in rows_of(ctx, mails)] == ["sent"]

    # a new reminder time arms it again; without an assignee the owner is told
    later = T0 + timedelta(minutes=30)
    rs.update("activity", act["id"], {"reminder_at": later, "assigned_to": None})
    clock.set_now(later + timedelta(seconds=5))
    [again] = run(ctx)
    assert again.user_id == rep.id
    assert len(mail_server.messages) == 2 and mail_server.messages[1]["To"] == "rep@example.com"


def test_done_cancelled_and_deleted_activities_are_not_reminded(ctx: Context,
                                                               mail_server: MailBox) -> None:
    rs = records(ctx)
    rep = actor_of(ctx, "rep")
    for status in ("done", "cancelled"):
        rs.create("activity", {"subject": status, "status": status, "reminder_at": T0,
                               "owner": rep.id})
    gone = rs.create("activity", {"subject": "gone", "reminder_at": T0, "owner": rep.id})
    rs.delete("activity", gone["id"])
    stale = rs.create("activity", {"subject": "stale", "owner": rep.id,
                                   "reminder_at": T0 - timedelta(days=30)})
    clock.set_now(T0 + timedelta(minutes=1))
    assert run(ctx) == []
    assert rows_of(ctx, notifications) == [] and mail_server.messages == []
    assert stale["reminder_at"] is not None  # older than the look-back: never sent


def test_the_periodic_task_is_registered(ctx: Context) -> None:
    from app.tasks.queue import _DEFS, queue_for

    assert "comms.reminders" in queue_for(ctx).crm_tasks
    every = _DEFS["comms.reminders"].periodic
    assert every is not None and every(T0) and every(T0 + timedelta(minutes=1))
