"""The mails of logged emails on their way: what a mail adds to the message (headers, Reply-To,
files) and the `email` record's status after each attempt.

`extras_of` is read by the mail sender (app/notify/mail.py `send_one`) for every mail: None for
a notification mail, else the message's To/Cc headers, the sender's name and address and the
files' bytes from the attachment store. `record_outcome` runs in the send task after each
attempt (app/notify/tasks.py) and sets the email record's `status`, `sent_at` and `error` from
all its mails (one per recipient), through the records service as the system.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.model.comms import email_deliveries, mail_attachments
from app.model.notify import FAILED, PENDING, SENT, SKIPPED, mails
from app.notify.mail import Extras, MailError
from app.records import SYSTEM, NotFound, Records
from app.records.attachments import AttachmentStore

if TYPE_CHECKING:
    from app.context import Context
    from app.settings import Settings

log = logging.getLogger(__name__)

#: the email record's status for its mails' statuses (the first that applies)
QUEUED, STATUS_SENT, STATUS_FAILED, STATUS_SKIPPED = "queued", "sent", "failed", "skipped"
MAX_ERROR = 2000


def extras_of(engine: sa.Engine, settings: Settings, mail_id: int) -> Extras | None:
    """What the mail `mail_id` of a logged email adds to its message (None: a notification
    mail). MailError (permanent) when one of its files is no longer in the store."""
    with engine.connect() as conn:
        row = _delivery(conn, mail_id)
        if row is None:
            return None
        files = conn.execute(sa.select(mail_attachments).where(
            mail_attachments.c.mail_id == mail_id).order_by(mail_attachments.c.id)).all()
    store = AttachmentStore(engine, settings.attachments_dir)
    loaded: list[tuple[str, str, bytes]] = []
    for f in files:
        try:
            with store.open_key(f.key) as stream:
                loaded.append((f.filename, f.content_type, stream.read()))
        except NotFound:
            raise MailError(f"the file {f.filename!r} of this email is missing from the "
                            "attachment store", permanent=True) from None
    return Extras(to_header=row.to_header, cc_header=row.cc_header, reply_to=row.reply_to,
                  from_name=row.from_name, files=tuple(loaded),
                  personal=row.sender_id is not None)


def _delivery(conn: sa.Connection, mail_id: int) -> Any:
    """The delivery row of a mail (None: a notification mail, or a database from before the
    communication centre, whose notification mails must go on)."""
    try:
        return conn.execute(sa.select(email_deliveries)
                            .where(email_deliveries.c.mail_id == mail_id)).first()
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):
        conn.rollback()
        if sa.inspect(conn).has_table(email_deliveries.name):
            raise
        return None


@dataclass(frozen=True)
class EmailState:
    """An email record's delivery, from its mails."""

    status: str
    sent_at: datetime | None
    error: str | None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def email_state(conn: sa.Connection, entity: str, record_id: int) -> EmailState | None:
    """The status of an email record's mails together (None: it has none): queued while any
    waits, failed when any failed, skipped when all were skipped, else sent."""
    d, m = email_deliveries.c, mails.c
    rows = conn.execute(sa.select(m.to_address, m.status, m.sent_at, m.last_error)
                        .select_from(email_deliveries.join(mails, mails.c.id == d.mail_id))
                        .where(d.entity == entity, d.email_record_id == record_id)
                        .order_by(m.id)).all()
    if not rows:
        return None
    statuses = {r.status for r in rows}
    if PENDING in statuses:
        status = QUEUED
    elif FAILED in statuses:
        status = STATUS_FAILED
    elif statuses == {SKIPPED}:
        status = STATUS_SKIPPED
    else:
        status = STATUS_SENT
    errors = [f"{r.to_address}: {' '.join(str(r.last_error).split())}" for r in rows
              if r.last_error and r.status != SENT]
    error = "; ".join(errors)[:MAX_ERROR] or None
    sent = [_aware(r.sent_at) for r in rows if r.status == SENT and r.sent_at is not None]
    return EmailState(status, max(t for t in sent if t is not None) if sent else None, error)


def update_status(rs: Records, entity: str, record_id: int) -> str | None:
    """Set the email record's status, sent_at and error from its mails (as the system;
    nothing changes when they are already right). Returns the status (None: no such record
    or mails)."""
    if entity not in rs.meta.entities:
        return None
    columns = rs.spec(entity).columns
    with rs.transaction() as conn:
        state = email_state(conn, entity, record_id)
        if state is None:
            return None
        values: dict[str, Any] = {k: v for k, v in (
            ("status", state.status), ("sent_at", state.sent_at), ("error", state.error))
            if k in columns}
        try:
            change = rs._update(conn, entity, record_id, values, SYSTEM, None)
        except NotFound:  # the log record was deleted: its mails go on
            return state.status
    rs._after_commit(change)
    return state.status


def record_outcome(ctx: Context, mail_id: int) -> str | None:
    """After an attempt to send `mail_id`: update its email record, if it has one."""
    with ctx.engine.connect() as conn:
        row = _delivery(conn, mail_id)
    if row is None or row.email_record_id is None or row.entity is None:
        return None
    from app.workflow.approvals.tasks import live_records

    rs = live_records(ctx)
    if rs is None:
        return None
    return update_status(rs, str(row.entity), int(row.email_record_id))
