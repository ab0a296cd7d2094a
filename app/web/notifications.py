"""`/notifications/`: the signed-in user's notifications (app/notify), newest first, and the bell
in the navigation bar with the number of unread ones.

Reading a page changes nothing: opening a notification is a POST (with the CSRF token every
form carries) that marks it read and goes to its link; "mark all read" is a POST too. A user
only ever sees and changes their own notifications: another user's id is a 404.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app.i18n import ngettext
from app.notify import service
from app.textnum import SQL_INT_MAX, small_int
from app.web.security import safe_next
from app.web.state import state

log = logging.getLogger(__name__)
bp = Blueprint("notifications", __name__)
#: notifications per page
PAGE = 50


def _me() -> int:
    return int(current_user.id)


@bp.app_context_processor
def bell() -> dict[str, Any]:
    """`notification_count()` for the navigation bar (asked only where it is shown)."""

    def notification_count() -> int:
        user: Any = current_user
        if not getattr(user, "is_authenticated", False):
            return 0
        try:
            with state().ctx.engine.connect() as conn:
                return service.unread_count(conn, int(user.id))
        except sa.exc.DBAPIError as exc:  # no sys_notification yet (`crm migrate` not run):
            log.warning("the notification bell cannot count: %s", exc.orig)  # pages still work
            return 0

    return {"notification_count": notification_count}


@bp.get("/notifications/")
@login_required
def index() -> ResponseReturnValue:
    unread_only = request.args.get("unread") == "1"
    before: int | None = None
    if request.args.get("before"):
        before = small_int(request.args["before"], SQL_INT_MAX)
        if before is None:
            abort(400)
    with state().ctx.engine.connect() as conn:
        rows = service.notifications_of(conn, _me(), unread_only=unread_only,
                                        limit=PAGE + 1, before_id=before)
        unread = service.unread_count(conn, _me())
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    args: dict[str, Any] = {"unread": "1"} if unread_only else {}
    older = url_for(".index", before=rows[-1].id, **args) if more else None
    return render_template("notifications/index.html", rows=rows, unread=unread,
                           unread_only=unread_only, older=older, first_page=before is None)


@bp.post("/notifications/<int:notification_id>/open")
@login_required
def open_one(notification_id: int) -> ResponseReturnValue:
    """Mark it read and go to its link (back to the list when it has none)."""
    with state().ctx.engine.begin() as conn:
        found = service.mark_read(conn, _me(), notification_id)
    if found is None:
        abort(404)
    return redirect(safe_next(found.link) or url_for(".index"))


@bp.post("/notifications/read-all")
@login_required
def read_all() -> ResponseReturnValue:
    with state().ctx.engine.begin() as conn:
        done = service.mark_all_read(conn, _me())
    flash(ngettext("%(num)d notification marked read.", "%(num)d notifications marked read.",
                   done), "success")
    return redirect(url_for(".index"))
