"""The webhook delivery log of the back office: every delivery with its status, attempts, last
answer and payload, filters by status and webhook, and a "redeliver" action."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import flash
from flask_admin.actions import action
from markupsafe import Markup

from app.admin.common import EqualsFilter, Lazy, Row, when
from app.admin.system_views import ReadOnlyView
from app.i18n import _, ngettext
from app.model.system_events import webhook_deliveries
from app.textnum import small_int
from app.web.state import state

STATUSES = {
    "pending": lambda: _("Pending"),
    "delivered": lambda: _("Delivered"),
    "failed": lambda: _("Failed"),
}
BADGES = {"pending": "warning", "delivered": "success", "failed": "danger"}


class WebhookDeliveriesView(ReadOnlyView):
    """sys_webhook_delivery, newest first."""

    column_list = ["id", "created_at", "webhook", "event", "record_id", "status", "attempts",
                   "last_status_code", "last_error", "next_attempt_at"]
    column_details_list = [*column_list, "finished_at", "payload"]
    column_sortable_list = ["id", "created_at", "webhook", "status", "attempts"]
    search_columns = ("webhook", "event", "last_error")

    def __init__(self, category: Lazy) -> None:
        self.column_labels = {
            "id": Lazy(lambda: _("Delivery")), "created_at": Lazy(lambda: _("When")),
            "webhook": Lazy(lambda: _("Webhook")), "event": Lazy(lambda: _("Event")),
            "record_id": Lazy(lambda: _("Record")), "status": Lazy(lambda: _("Status")),
            "attempts": Lazy(lambda: _("Attempts")),
            "last_status_code": Lazy(lambda: _("Last HTTP status")),
            "last_error": Lazy(lambda: _("Last error")),
            "next_attempt_at": Lazy(lambda: _("Next attempt")),
            "finished_at": Lazy(lambda: _("Finished")), "payload": Lazy(lambda: _("Payload")),
        }
        self.column_formatters = {
            "created_at": lambda v, c, m, n: when(m.created_at),
            "finished_at": lambda v, c, m, n: when(m.finished_at),
            "next_attempt_at": lambda v, c, m, n: when(m.next_attempt_at)
            if m.status == "pending" else "",
            "status": lambda v, c, m, n: Markup('<span class="badge badge-{}">{}</span>').format(
                BADGES.get(m.status, "secondary"),
                STATUSES[m.status]() if m.status in STATUSES else m.status),
            "payload": lambda v, c, m, n: Markup("<pre class='small mb-0'>{}</pre>").format(
                json.dumps(_loaded(m.payload), ensure_ascii=False, indent=2)),
        }
        self.column_filters = [
            EqualsFilter("status", Lazy(lambda: _("Status")),
                         [(k, Lazy(v)) for k, v in STATUSES.items()]),
            EqualsFilter("webhook", Lazy(lambda: _("Webhook"))),
        ]
        super().__init__(Row, name=Lazy(lambda: _("Webhook deliveries")), category=category,
                         endpoint="admin_sys_webhook_delivery", url="/admin/system/webhooks")

    def query(self) -> sa.Select[Any]:
        c = webhook_deliveries.c
        return sa.select(c.id, c.created_at, c.webhook, c.event, c.entity, c.record_id,
                         c.status, c.attempts, c.last_status_code, c.last_error,
                         c.next_attempt_at, c.finished_at, c.payload)

    @action("redeliver", Lazy(lambda: _("Redeliver")),
            Lazy(lambda: _("Send the selected deliveries again?")))
    def action_redeliver(self, ids: list[str]) -> None:
        from app.events import outbox
        from app.tasks.queue import queue_of

        engine = state().ctx.engine
        wanted = [n for n in map(small_int, ids) if n is not None]
        done = [i for i in wanted if outbox.redeliver(engine, i)]
        queue = queue_of(engine)
        if queue is not None:  # else the worker's sweep sends them within a minute
            for delivery_id in done:
                queue.enqueue_task("events.deliver", delivery_id)
        flash(ngettext("%(num)d delivery queued again.", "%(num)d deliveries queued again.",
                       len(done)), "success")


def _loaded(payload: Any) -> Any:
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except ValueError:
            return payload
    return payload
