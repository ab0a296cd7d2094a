"""`archive.run` on the task queue: a large archiving run (app/archive), on the live config
version, as the system (the run records who started it)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.archive import execute
from app.tasks.queue import task

if TYPE_CHECKING:
    from app.context import Context

log = logging.getLogger(__name__)


@task("archive.run")
def run_task(ctx: Context, run_id: int) -> None:
    from app.workflow.approvals.tasks import live_records

    rs = live_records(ctx)
    if rs is None:
        log.warning("archiving run %s: no config version is live", run_id)
        return
    execute(rs, run_id)
