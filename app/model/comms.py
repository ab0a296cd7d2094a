"""Tables of the communication centre (app/comms): which `sys_mail` rows deliver which logged
`email` record, the files each such mail carries, and the follow-up reminders already sent.

`sys_mail` itself (app/model/notify.py) is not changed: system tables are created, not migrated,
so what an email adds to a mail lives here, one row per mail, written in the same transaction as
the mail and its `email` record (app/comms/email.py). `sys_reminder_sent` remembers each
(activity, reminder time) that was notified, so a reminder fires once and a new reminder time
arms it again (app/comms/reminders.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import system_metadata

#: one mail (one recipient) of a logged email: the headers the whole message shows (every To
#: and Cc address), who sends it, and the `email` record whose status it feeds
email_deliveries = sa.Table(
    "sys_email_delivery",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("mail_id", sa.Integer, sa.ForeignKey("sys_mail.id", ondelete="CASCADE"),
              nullable=False, unique=True),
    #: the entity of the log record (`email`) and its id (None: a config without it)
    sa.Column("entity", sa.String(63)),
    sa.Column("email_record_id", sa.Integer),
    #: "to" or "cc": how this mail's recipient is addressed
    sa.Column("role", sa.String(2), nullable=False, default="to"),
    #: the To and Cc headers of the message (comma separated addresses)
    sa.Column("to_header", sa.Text, nullable=False),
    sa.Column("cc_header", sa.Text),
    #: Reply-To: the sending user's address (None: the user has none)
    sa.Column("reply_to", sa.String(254)),
    #: the display name in From (the sending user's name), the address stays mail_from's
    sa.Column("from_name", sa.String(120)),
    sa.Column("sender_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.Index("ix_sys_email_delivery_record", "entity", "email_record_id"),
)

#: a file a mail carries: a copy of the attachment's facts when the email was written, so
#: removing the attachment from its record later does not change what is sent
mail_attachments = sa.Table(
    "sys_mail_attachment",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("mail_id", sa.Integer, sa.ForeignKey("sys_mail.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("attachment_id", sa.Integer, nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(120), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    #: the sha256 key of the bytes in the attachment store
    sa.Column("key", sa.String(64), nullable=False),
    sa.Index("ix_sys_mail_attachment_mail", "mail_id"),
)

#: a reminder that was sent: (entity, record, the reminder time it was for)
reminders_sent = sa.Table(
    "sys_reminder_sent",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    sa.Column("reminder_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    #: whom it went to (None: nobody could be told, e.g. the assignee is inactive)
    sa.Column("user_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.UniqueConstraint("entity", "record_id", "reminder_at", name="uq_sys_reminder_sent"),
)
