"""`imports.run` on the task queue: a dry run or a run of a large import, on the live config
version, as the user who started it (their permissions, their language)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa

from app.imports import jobs
from app.imports.run import DRY_RUN, execute, store_of
from app.model.system import users
from app.records.change import SYSTEM, Actor
from app.tasks.queue import task

if TYPE_CHECKING:
    from app.context import Context

log = logging.getLogger(__name__)


@task("imports.run")
def run_task(ctx: Context, import_id: int, mode: str) -> None:
    from app.records import Records
    from app.workflow.approvals.tasks import live_records

    rs = live_records(ctx)
    if rs is None:
        log.warning("import %s: no config version is live", import_id)
        return
    job = jobs.get(ctx.engine, import_id, SYSTEM)
    actor = actor_of(ctx.engine, job.created_by_id)
    records = Records(rs.engine, rs.models, plugins=rs.plugins, actor=actor)
    execute(records, store_of(ctx.engine, ctx.settings.attachments_dir), import_id, actor,
            dry_run=mode == DRY_RUN)


def actor_of(engine: sa.Engine, user_id: int | None) -> Actor:
    """The user who started an import, as an Actor (the system when there is none)."""
    if user_id is None:
        return SYSTEM
    with engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.username, users.c.roles,
                                     users.c.locale, users.c.active)
                           .where(users.c.id == user_id)).first()
    if row is None or not row.active:  # nobody may act for a removed or blocked user
        return Actor(0, "anonymous", ())
    return Actor(int(row.id), row.username, tuple(row.roles or ()), row.locale or "en")
