"""The back office's "Backups" page (admin role only): the archives in instance/backups with
what each holds, a "Create backup now" button (a task on the queue: app/backup/tasks.py) and
download links. Downloads are logged in the security log (`backup.downloaded`): an archive
holds every record and every password hash."""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from flask import abort, flash, redirect, send_file, url_for
from flask_admin import BaseView, expose

from app.admin.common import AdminAccess, Lazy
from app.backup import BackupError, backups_dir, list_backups, peek
from app.backup.tasks import CREATE_TASK
from app.fields.special import size_text
from app.i18n import _, format_datetime
from app.web.seclog import record, who
from app.web.state import state

DOWNLOADED = "backup.downloaded"
#: the names this page serves (no folders, no hidden files)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.tar\.gz$")


class BackupsView(AdminAccess, BaseView):
    def __init__(self, category: Lazy) -> None:
        super().__init__(name=Lazy(lambda: _("Backups")), category=category,
                         endpoint="admin_sys_backups", url="/admin/system/backups")

    @expose("/")
    def index(self) -> Any:
        folder = backups_dir(state().ctx.settings.instance_dir)
        rows: list[dict[str, Any]] = []
        for path in list_backups(folder):
            if not NAME.match(path.name):
                continue
            stat = path.stat()
            row: dict[str, Any] = {
                "name": path.name, "size": size_text(stat.st_size),
                "when": format_datetime(datetime.fromtimestamp(stat.st_mtime, UTC)),
                "manifest": None}
            with suppress(BackupError):  # else listed as not readable
                row["manifest"] = peek(path)
            rows.append(row)
        return self.render("crm_admin/backups.html", rows=rows, folder=str(folder))

    @expose("/create", methods=("POST",))
    def create(self) -> Any:
        by = who()
        try:
            state().ctx.queue.enqueue_task(CREATE_TASK, by.user_id, by.username, by.ip)
        except BackupError as exc:  # an immediate queue ran it here
            flash(_("The backup failed: %(why)s", why=str(exc)), "error")
        else:
            flash(_("The backup was started on the task queue; it appears here when it is "
                    "written (reload the page)."), "success")
        return redirect(url_for(".index"))

    @expose("/download/<file>")
    def download(self, file: str) -> Any:
        folder = backups_dir(state().ctx.settings.instance_dir)
        path = folder / file
        if not NAME.match(file) or not path.is_file() or path.is_symlink():
            abort(404)
        record(DOWNLOADED, detail={"file": file, "bytes": path.stat().st_size})
        return send_file(path, mimetype="application/gzip", as_attachment=True,
                         download_name=file, max_age=0)
