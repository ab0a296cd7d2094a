"""Tasks of the notification service: send one mail, and sweep what is due.

Each takes the deployment `Context` first (the queue binds it, see app/tasks/queue.py). A failed
try is recorded on the mail and scheduled again on the queue after the backoff; the sweep (every
minute) picks up mails that were never queued (a crash between commit and `enqueue_pending`, a
caller that did not call it) or whose scheduled retry was lost.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa
from huey import crontab

from app.notify import mail
from app.tasks.queue import queue_of, task

if TYPE_CHECKING:
    from app.context import Context

log = logging.getLogger(__name__)


@task(mail.SEND_TASK)
def send_mail(ctx: Context, mail_id: int, force: bool = False) -> mail.Outcome | None:
    """Try one mail (when it is due and no other worker holds it); queue the retry."""
    outcome = mail.send_one(ctx.engine, ctx.settings, mail_id, force=force)
    if outcome is not None and outcome.retry_in is not None:
        queue = queue_of(ctx.engine)
        if queue is not None:
            queue.enqueue_task(mail.SEND_TASK, mail_id, delay=outcome.retry_in)
    if outcome is not None:
        _record_outcome(ctx, mail_id)
    return outcome


def _record_outcome(ctx: Context, mail_id: int) -> None:
    """The status of the logged email a mail belongs to (app/comms), after each attempt. Its
    failure is logged: the mail's own outcome is recorded already."""
    from app.comms.delivery import record_outcome

    try:
        record_outcome(ctx, mail_id)
    except Exception:
        log.exception("mail #%s: the status of its email record was not updated", mail_id)


@task("notify.sweep", periodic=crontab(minute="*"))
def sweep(ctx: Context) -> int:
    """Queue (or, without a queue in this process, send) every pending mail that is due."""
    try:
        ids = mail.due(ctx.engine)
    except sa.exc.OperationalError:  # the system tables are not there yet
        return 0
    queue = queue_of(ctx.engine)
    for mail_id in ids:
        if queue is not None:
            queue.enqueue_task(mail.SEND_TASK, mail_id)
        else:
            send_mail(ctx, mail_id)
    return len(ids)
