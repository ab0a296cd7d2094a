"""The task behind the back office's "Create backup now" (app/admin/backups_view.py): a backup
into instance/backups on the task queue, so a large database does not hold a web request. A
failure (BackupError) is the task's error: the worker logs it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app import seclog
from app.backup.dump import backups_dir, create_backup, default_path
from app.tasks.queue import task

if TYPE_CHECKING:
    from app.context import Context

CREATE_TASK = "backup.create"


@task(CREATE_TASK)
def create(ctx: Context, user_id: int | None = None, username: str | None = None,
           ip: str | None = None) -> str:
    """Write a backup to instance/backups, as the admin who asked; its path."""
    made = create_backup(ctx.engine, default_path(backups_dir(ctx.settings.instance_dir)),
                         ctx.settings.attachments_dir,
                         who=seclog.Who(user_id, username, ip, via="back office"))
    return str(made.path)
