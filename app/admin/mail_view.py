"""The back office's "Mail log": every mail of `sys_mail` (app/notify) with its status,
attempts and last error, filters by status and kind, and a "send again" action for mails that
failed or were skipped."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash
from flask_admin.actions import action
from markupsafe import Markup

from app.admin.common import EqualsFilter, Lazy, Row, when
from app.admin.system_views import ReadOnlyView
from app.i18n import _, ngettext
from app.model.notify import mails
from app.model.system import users
from app.textnum import small_int
from app.web.state import state

STATUSES = {
    "pending": lambda: _("Pending"),
    "sent": lambda: _("Sent"),
    "failed": lambda: _("Failed"),
    "skipped": lambda: _("Skipped"),
}
BADGES = {"pending": "warning", "sent": "success", "failed": "danger", "skipped": "secondary"}


class MailLogView(ReadOnlyView):
    """sys_mail, newest first."""

    column_list = ["id", "created_at", "to_address", "username", "kind", "subject", "status",
                   "attempts", "last_error", "next_attempt_at", "sent_at"]
    column_details_list = [*column_list, "notification_id", "body_text"]
    column_sortable_list = ["id", "created_at", "to_address", "kind", "status", "attempts"]
    search_columns = ("to_address", "subject", "kind", "last_error")

    def __init__(self, category: Lazy) -> None:
        self.column_labels = {
            "id": Lazy(lambda: _("Mail")), "created_at": Lazy(lambda: _("When")),
            "to_address": Lazy(lambda: _("To")), "username": Lazy(lambda: _("User")),
            "kind": Lazy(lambda: _("Kind")), "subject": Lazy(lambda: _("Subject")),
            "status": Lazy(lambda: _("Status")), "attempts": Lazy(lambda: _("Attempts")),
            "last_error": Lazy(lambda: _("Last error")),
            "next_attempt_at": Lazy(lambda: _("Next attempt")),
            "sent_at": Lazy(lambda: _("Sent")),
            "notification_id": Lazy(lambda: _("Notification")),
            "body_text": Lazy(lambda: _("Text")),
        }
        self.column_formatters = {
            "created_at": lambda v, c, m, n: when(m.created_at),
            "sent_at": lambda v, c, m, n: when(m.sent_at),
            "next_attempt_at": lambda v, c, m, n: when(m.next_attempt_at)
            if m.status == "pending" else "",
            "status": lambda v, c, m, n: Markup('<span class="badge badge-{}">{}</span>').format(
                BADGES.get(m.status, "secondary"),
                STATUSES[m.status]() if m.status in STATUSES else m.status),
            "body_text": lambda v, c, m, n: Markup("<pre class='small mb-0'>{}</pre>").format(
                m.body_text),
        }
        self.column_filters = [
            EqualsFilter("status", Lazy(lambda: _("Status")),
                         [(k, Lazy(v)) for k, v in STATUSES.items()]),
            EqualsFilter("kind", Lazy(lambda: _("Kind"))),
            EqualsFilter("to_address", Lazy(lambda: _("To"))),
        ]
        super().__init__(Row, name=Lazy(lambda: _("Mail log")), category=category,
                         endpoint="admin_sys_mail", url="/admin/system/mail")

    def query(self) -> sa.Select[Any]:
        c = mails.c
        return sa.select(c.id, c.created_at, c.to_address, c.to_user_id, users.c.username,
                         c.kind, c.subject, c.status, c.attempts, c.last_error,
                         c.next_attempt_at, c.sent_at, c.notification_id, c.body_text
                         ).select_from(mails.outerjoin(users, users.c.id == c.to_user_id))

    @action("send_again", Lazy(lambda: _("Send again")),
            Lazy(lambda: _("Send the selected mails again?")))
    def action_send_again(self, ids: list[str]) -> None:
        from app.notify import mail
        from app.tasks.queue import queue_of

        engine = state().ctx.engine
        wanted = [n for n in map(small_int, ids) if n is not None]
        done = [i for i in wanted if mail.retry(engine, i)]
        queue = queue_of(engine)
        if queue is not None:  # else the worker's sweep sends them within a minute
            for mail_id in done:
                queue.enqueue_task(mail.SEND_TASK, mail_id)
        flash(ngettext("%(num)d mail queued again.", "%(num)d mails queued again.", len(done)),
              "success")
