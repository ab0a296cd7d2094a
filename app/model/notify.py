"""Tables of the notification service (app/notify): what each user is told in the app, and the
mails sent about it (or to test the mail server).

`sys_notification` rows belong to their user (deleted with them). `sys_mail` is the outbox and
log of mails: written `pending` in the caller's transaction, then sent by the task queue
(`notify.send_mail`), which records `sent`, a retry at `next_attempt_at`, `failed` after
`mail_max_attempts` tries, or `skipped` when no mail server is configured. `claimed_until` and
`claim` keep two workers from sending one mail at the same time (as in the event outbox).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import system_metadata

#: statuses of a mail: waiting (first try or a retry), sent, given up, not sent (no server)
PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
MAIL_STATUSES = (PENDING, SENT, FAILED, SKIPPED)

notifications = sa.Table(
    "sys_notification",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="CASCADE"),
              nullable=False),
    #: what happened, for programs and filters: "approval.pending", "case.escalated" ...
    sa.Column("kind", sa.String(60), nullable=False),
    #: subject and text in the recipient's language, as they were when it was sent
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("body", sa.Text, nullable=False, default=""),
    #: a path on this site ("/quote/12"), opened when the user clicks the notification
    sa.Column("link", sa.String(500)),
    sa.Column("entity", sa.String(63)),
    sa.Column("record_id", sa.Integer),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("read_at", sa.DateTime(timezone=True)),
    sa.Index("ix_sys_notification_unread", "user_id", "read_at"),
    sa.Index("ix_sys_notification_user", "user_id", "id"),
)

mails = sa.Table(
    "sys_mail",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("to_address", sa.String(254), nullable=False),
    sa.Column("to_user_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("notification_id", sa.Integer,
              sa.ForeignKey("sys_notification.id", ondelete="SET NULL")),
    sa.Column("status", sa.String(10), nullable=False, default=PENDING),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_until", sa.DateTime(timezone=True)),
    #: the token of the worker sending the mail (its outcome is recorded only with it)
    sa.Column("claim", sa.String(32)),
    sa.Index("ix_sys_mail_due", "status", "next_attempt_at"),
)
