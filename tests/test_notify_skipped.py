"""Without `mail_url` the notifications still appear in the app, and their mails are logged as
`skipped` with the reason (visible in the mail log, never lost silently, never retried)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.context import Context
from app.model.notify import mails, notifications
from app.notify import Notice, enqueue_pending, notify, tasks
from app.notify import mail as mailer
from app.notify.service import NO_SERVER
from tests import mailkit
from tests.mailkit import MailBox, notify_deployment, rows_of, set_user
from tests.webkit import user_id

mail_server = mailkit.mail_server
NOTICE = Notice(kind="approval.approved", compose=lambda: ("Approved", "Quote Q-1"),
                link="/quote/1")


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = notify_deployment(tmp_path, database_url)  # no mail_url
    set_user(c, "rep", email="rep@example.com")
    try:
        yield c
    finally:
        c.dispose()


def test_mails_are_skipped_with_the_reason(ctx: Context) -> None:
    assert ctx.settings.mail_server is None
    with ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [user_id(ctx, "rep")], NOTICE)
    assert [n["subject"] for n in rows_of(ctx, notifications)] == ["Approved"]
    row = rows_of(ctx, mails)[0]
    assert (row["status"], row["attempts"]) == ("skipped", 0)
    assert row["last_error"] == NO_SERVER == "no mail server configured (mail_url)"
    assert row["to_address"] == "rep@example.com" and "Quote Q-1" in row["body_text"]
    assert enqueue_pending(ctx) == 0 and tasks.sweep(ctx) == 0  # never retried


def test_a_pending_mail_is_skipped_when_the_server_is_gone_at_send_time(
        ctx: Context, mail_server: MailBox) -> None:
    with_server = replace(ctx.settings, raw={**ctx.settings.raw, "mail_url": mail_server.url})
    with ctx.engine.begin() as conn:  # written while a server was configured ...
        notify(conn, with_server, [user_id(ctx, "rep")], NOTICE)
    assert rows_of(ctx, mails)[0]["status"] == "pending"
    tasks.sweep(ctx)  # ... sent by a worker whose config has none
    row = rows_of(ctx, mails)[0]
    assert (row["status"], row["last_error"]) == ("skipped", NO_SERVER)
    assert mail_server.messages == []
    assert mailer.send_one(ctx.engine, with_server, row["id"], force=True) is None
