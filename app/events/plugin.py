"""The built-in events plugin: record hooks -> outbox rows (in the transaction) -> the task
queue (after commit). Listed in `app.plugins.BUILTIN_PLUGINS`."""

from __future__ import annotations

import logging
from typing import Any

from app.actions import Action
from app.events import outbox
from app.plugins import hookimpl
from app.records.change import Change
from app.tasks.queue import queue_of

log = logging.getLogger(__name__)
EVENT_OF = {"create": "created", "update": "updated", "restore": "restored"}


@hookimpl
def crm_actions() -> list[Action]:
    from app.events.actions import CALL_WEBHOOK

    return [CALL_WEBHOOK]


@hookimpl
def crm_record_after_save(change: Change) -> None:
    event = EVENT_OF.get(change.action)
    if event is None:
        return
    diff = {k: [old, new] for k, (old, new) in change.changed().items()} \
        if change.action == "update" else {}
    outbox.record_event(change, event, diff)


@hookimpl
def crm_record_after_delete(change: Change) -> None:
    outbox.record_event(change, "deleted")


@hookimpl
def crm_record_after_transition(change: Change, field: str, old: Any, new: Any) -> None:
    if change.action == "create":  # a new record is one `created` event, its picklists in it
        return
    outbox.record_event(change, "transition", {field: [old, new]},
                        transition={"field": field, "from": old, "to": new})


@hookimpl
def crm_record_after_commit(change: Change) -> None:
    rows: list[tuple[str, int]] = change.__dict__.pop(outbox.STASH, [])
    if not rows:
        return
    queue = queue_of(change.conn.engine)
    if queue is None:  # no queue in this process: a worker's sweep will pick them up
        log.debug("no task queue for this engine; %s outbox row(s) wait for the sweep",
                  len(rows))
        return
    from app.events.tasks import TASK_FOR

    for kind, row_id in rows:
        queue.enqueue_task(TASK_FOR[kind], row_id)
