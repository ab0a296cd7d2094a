"""Follow-up reminders: at an activity's `reminder_at`, tell the person responsible (its
assignee, else its owner) in the app and by email, once.

The task `comms.reminders` runs every minute (and `crm reminders run` on demand): each open
activity (not done or cancelled) whose reminder time has come, within the last LOOKBACK, and
that was not reminded for that time yet, gets one notification (kind `activity.reminder`, a
link to the activity) through app/notify. `sys_reminder_sent` keeps (activity, reminder time):
a second run, or a second worker, sends nothing again (its unique key), and a new reminder time
arms the reminder again. Time is `app.clock.now()`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from huey import crontab

from app import clock
from app.comms.followups import responsible
from app.i18n import _, format_datetime
from app.model.comms import reminders_sent
from app.notify import Notice, enqueue_pending, notify
from app.records import Records
from app.records.attachments import aware
from app.records.mywork import ACTIVITY, activity_shape
from app.tasks.queue import task

if TYPE_CHECKING:
    from app.context import Context
    from app.settings import Settings

log = logging.getLogger(__name__)

KIND = "activity.reminder"
REMINDER = "reminder_at"
#: reminders older than this when first seen are not sent (a worker that was down for a week
#: does not send a week of stale reminders at once)
LOOKBACK = timedelta(days=7)
#: reminders handled per run
BATCH = 500


@dataclass(frozen=True)
class Reminded:
    """One reminder sent: the activity, its reminder time and whom it went to."""

    record_id: int
    reminder_at: datetime
    user_id: int | None


def due_reminders(rs: Records, now: datetime, limit: int = BATCH) -> list[dict[str, Any]]:
    """Open activities whose reminder time has come and that were not reminded for it."""
    shape = activity_shape(rs)
    e = rs.meta.entities.get(ACTIVITY)
    if shape is None or e is None or REMINDER not in rs.spec(ACTIVITY).columns \
            or e.fields[REMINDER].type != "datetime":
        return []
    table = rs.table(ACTIVITY)
    columns = rs.spec(ACTIVITY).columns
    at = table.c[columns[REMINDER]]
    status = table.c[columns[shape.status.name]]
    r = reminders_sent.c
    done = sa.exists().where(r.entity == ACTIVITY, r.record_id == table.c.id,
                             r.reminder_at == at)
    stmt = (rs.full_select(ACTIVITY)
            .where(table.c.deleted_at.is_(None), at.is_not(None), at <= now,
                   at > now - LOOKBACK, sa.or_(status.is_(None), status.not_in(shape.closed)),
                   ~done)
            .order_by(at, table.c.id).limit(limit))
    with rs.engine.connect() as conn:
        return [rs.to_record(row) for row in conn.execute(stmt)]


def _compose(title: str, due: datetime | None) -> Any:
    def compose() -> tuple[str, str]:
        subject = _("Reminder: %(title)s", title=title)
        if due is None:
            return subject, _("It is time for your follow-up \"%(title)s\".", title=title)
        return subject, _("Your follow-up \"%(title)s\" is due %(due)s.", title=title,
                          due=format_datetime(aware(due)))
    return compose


def send_due_reminders(rs: Records, settings: Settings, now: datetime | None = None
                       ) -> list[Reminded]:
    """Send every due reminder (see the module's docstring), each in its own transaction;
    the caller hands the mails to the queue (`enqueue_pending`) afterwards."""
    now = now or clock.now()
    shape = activity_shape(rs)
    if shape is None:
        return []
    due_name = shape.due.name
    out: list[Reminded] = []
    for row in due_reminders(rs, now):
        record_id = int(row["id"])
        title = str(row.get(rs.entity(ACTIVITY).title or "") or f"#{record_id}")
        uid = responsible(shape, row)
        try:
            with rs.engine.begin() as conn:
                conn.execute(reminders_sent.insert().values(
                    entity=ACTIVITY, record_id=record_id, reminder_at=row[REMINDER],
                    sent_at=now, user_id=uid))
                if uid is not None:
                    notify(conn, settings, [uid], Notice(
                        kind=KIND, compose=_compose(title, row.get(due_name)),
                        link=f"/{ACTIVITY}/{record_id}", entity=ACTIVITY,
                        record_id=record_id))
        except sa.exc.IntegrityError:  # another worker sent it in the meantime
            continue
        out.append(Reminded(record_id, row[REMINDER], uid))
    return out


def run(ctx: Context, now: datetime | None = None) -> list[Reminded]:
    """Send the due reminders of the live config and queue their mails."""
    from app.workflow.approvals.tasks import live_records

    rs = live_records(ctx)
    if rs is None:
        return []
    sent = send_due_reminders(rs, ctx.settings, now)
    if sent:
        enqueue_pending(ctx)
    return sent


@task("comms.reminders", periodic=crontab(minute="*"))
def reminders_task(ctx: Context) -> int:
    """Every minute: the follow-up reminders whose time has come."""
    try:
        sent = run(ctx)
    except sa.exc.OperationalError:  # the system tables are not there yet
        return 0
    if sent:
        log.info("sent %s follow-up reminder(s)", len(sent))
    return len(sent)
