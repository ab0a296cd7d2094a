"""A mail that cannot be sent is retried with a backoff and marked failed after
`mail_max_attempts` tries (at once when the server refuses for good); the sweep sends what was
never queued or whose retry was lost; a mail another worker holds is not sent twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app import clock
from app.context import Context
from app.model.notify import mails
from app.notify import Notice, enqueue_pending, notify, tasks
from app.notify import mail as mailer
from tests import mailkit
from tests.mailkit import MailBox, closed_port_url, notify_deployment, rows_of, set_user
from tests.webkit import user_id

mail_server = mailkit.mail_server
AT = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)


def _deploy(tmp_path: Path, database_url: str, mail_url: str) -> Context:
    ctx = notify_deployment(tmp_path, database_url,
                            f"mail_url: {mail_url}\nmail_max_attempts: 3\n")
    set_user(ctx, "rep", email="rep@example.com")
    return ctx


@pytest.fixture
def down(tmp_path: Path, database_url: str) -> Iterator[Context]:
    """A deployment whose mail server is down (nothing listens at its port)."""
    c = _deploy(tmp_path, database_url, closed_port_url())
    try:
        yield c
    finally:
        c.dispose()


@pytest.fixture
def up(tmp_path: Path, database_url: str, mail_server: MailBox) -> Iterator[Context]:
    c = _deploy(tmp_path, database_url, mail_server.url)
    try:
        yield c
    finally:
        c.dispose()


def _notify(ctx: Context) -> None:
    with ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [user_id(ctx, "rep")],
               Notice(kind="case.escalated", compose=lambda: ("Case escalated", "Look"),
                      link="/case/3"))


def test_a_server_that_is_down_fails_after_the_last_attempt(
        down: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailer, "RETRY_BASE", 0.0)  # immediate queue: retries run at once
    _notify(down)
    enqueue_pending(down)
    row = rows_of(down, mails)[0]
    assert (row["status"], row["attempts"]) == ("failed", 3)
    port = down.settings.mail_server.port  # type: ignore[union-attr]
    assert row["last_error"].startswith(f"cannot reach the mail server 127.0.0.1:{port}")
    assert row["sent_at"] is None and row["claim"] is None


def test_retries_wait_longer_each_time(down: Context) -> None:
    _notify(down)
    with clock.frozen(AT):
        enqueue_pending(down)  # the first try fails: the next one is due in a minute
        row = rows_of(down, mails)[0]
        assert (row["status"], row["attempts"]) == ("pending", 1)
        assert row["next_attempt_at"].replace(tzinfo=UTC) == AT + timedelta(minutes=1)
        assert tasks.sweep(down) == 0  # not due yet
        clock.advance(timedelta(seconds=61))
        assert tasks.sweep(down) == 1
        row = rows_of(down, mails)[0]
        assert row["attempts"] == 2
        assert row["next_attempt_at"].replace(tzinfo=UTC) == clock.now() + timedelta(minutes=2)
    assert [mailer.backoff(n) for n in (1, 2, 3, 20)] == [60.0, 120.0, 240.0, 6 * 3600.0]


def test_a_temporary_refusal_is_retried_until_it_goes_through(
        up: Context, mail_server: MailBox) -> None:
    mail_server.refuse_recipients = "451 4.3.0 mailbox busy, try later"
    _notify(up)
    with clock.frozen(AT):
        enqueue_pending(up)
        row = rows_of(up, mails)[0]
        assert row["status"] == "pending" and "451 4.3.0 mailbox busy" in row["last_error"]
        mail_server.refuse_recipients = None
        clock.advance(timedelta(minutes=2))
        tasks.sweep(up)
    row = rows_of(up, mails)[0]
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 2, None)
    assert len(mail_server.messages) == 1


def test_a_permanent_refusal_fails_at_once(up: Context, mail_server: MailBox) -> None:
    mail_server.refuse_recipients = "550 5.1.1 no such user"
    _notify(up)
    enqueue_pending(up)
    row = rows_of(up, mails)[0]
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "refused the recipient" in row["last_error"] and "550" in row["last_error"]
    assert mail_server.messages == []


def test_the_sweep_sends_mails_nobody_queued(up: Context, mail_server: MailBox) -> None:
    _notify(up)  # the caller never called enqueue_pending (or died before it)
    assert tasks.sweep(up) == 1
    assert rows_of(up, mails)[0]["status"] == "sent"
    assert len(mail_server.messages) == 1
    assert tasks.sweep(up) == 0


def test_a_mail_another_worker_holds_is_not_sent_twice(up: Context,
                                                       mail_server: MailBox) -> None:
    _notify(up)
    mail_id = rows_of(up, mails)[0]["id"]
    held = mailer.claim(up.engine, mail_id, seconds=60)
    assert held is not None
    assert mailer.send_one(up.engine, up.settings, mail_id) is None
    assert enqueue_pending(up) == 0  # a held mail is not due
    assert mail_server.messages == []
    with clock.frozen(clock.now() + timedelta(minutes=2)):  # the claim ran out: taken over
        outcome = mailer.send_one(up.engine, up.settings, mail_id)
    assert outcome is not None and outcome.status == "sent"
    late = mailer.finish(up.engine, held, status=mailer.SENT, error=None, max_attempts=3)
    assert late.status == "taken over"  # the first worker's claim no longer counts
    assert rows_of(up, mails)[0]["attempts"] == 1


def test_the_tasks_are_registered_on_every_queue(up: Context) -> None:
    queue = up.queue
    assert {"notify.send_mail", "notify.sweep"} <= set(queue.crm_tasks)  # type: ignore[attr-defined]
