"""A database from before the communication centre (no sys_email_delivery table yet: system
tables are created by `crm migrate`/`crm setup`) still sends its notification mails."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from app.i18n import _
from app.model.comms import email_deliveries, mail_attachments
from app.notify import Notice, enqueue_pending, notify
from tests import mailkit
from tests.mailkit import MailBox, notify_deployment, set_user

mail_server = mailkit.mail_server


def test_notification_mails_go_on(tmp_path: Path, database_url: str,
                                  mail_server: MailBox) -> None:
    ctx = notify_deployment(tmp_path, database_url, mail_server.config)
    try:
        uid = set_user(ctx, "rep", email="rep@example.com")
        with ctx.engine.begin() as conn:
            mail_attachments.drop(conn)
            email_deliveries.drop(conn)
            notify(conn, ctx.settings, [uid], Notice(
                kind="approval.pending", compose=lambda: (_("Pending"), "Q-1")))
        assert enqueue_pending(ctx) == 1
        [msg] = mail_server.messages
        assert msg["To"] == "rep@example.com" and msg["Auto-Submitted"] == "auto-generated"
        with ctx.engine.connect() as conn:
            assert not sa.inspect(conn).has_table(email_deliveries.name)
    finally:
        ctx.dispose()
