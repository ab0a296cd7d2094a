"""The workflow timer on the task queue: `workflow.tick` every minute (reminders, escalations,
SLA escalations at `app.clock.now()`), on the live config version."""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any

from huey import crontab

from app.tasks.queue import task
from app.workflow.approvals.timers import tick

if TYPE_CHECKING:
    from app.context import Context
    from app.records.service import Records

log = logging.getLogger(__name__)
_LIVE: weakref.WeakKeyDictionary[Any, tuple[int | None, Records]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def live_records(ctx: Context) -> Records | None:
    """A system records service of the live config version (rebuilt when it changes)."""
    from app.migrate.publish import active_version, current_version_id
    from app.model.build import build_models
    from app.records import Records

    with ctx.engine.connect() as conn:
        version = current_version_id(conn)
        with _LOCK:
            cached = _LIVE.get(ctx.engine)
            if cached is not None and cached[0] == version:
                return cached[1]
            version, meta = active_version(conn)
        if meta is None:
            return None
    rs = Records(ctx.engine, build_models(meta, orm_classes=False), plugins=ctx.plugins)
    with _LOCK:
        _LIVE[ctx.engine] = (version, rs)
    return rs


@task("workflow.tick", periodic=crontab(minute="*"))
def tick_task(ctx: Context) -> None:
    rs = live_records(ctx)
    if rs is None:
        return
    report = tick(rs, ctx.settings)
    if report.reminded or report.escalated or report.fired or report.problems:
        log.info("workflow tick: %s", report.as_json())
