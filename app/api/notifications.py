"""`/api/v1/notifications`: the caller's own notifications (app/notify), newest first, and
marking them read. Another user's notification is a 404, an id that is not one a 400."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from app.api.auth import api_user_id
from app.i18n import _
from app.notify import service
from app.records import query as q
from app.textnum import SQL_INT_MAX, small_int
from app.web.state import state

bp = Blueprint("api_notifications", __name__)
PARAMS = frozenset({"unread", "limit", "cursor"})
DEFAULT_LIMIT = 50


def as_json(n: service.Notification) -> dict[str, Any]:
    return {"id": n.id, "kind": n.kind, "subject": n.subject, "body": n.body, "link": n.link,
            "entity": n.entity, "record_id": n.record_id, "unread": n.unread,
            "created_at": n.created_at.isoformat(),
            "read_at": n.read_at.isoformat() if n.read_at is not None else None}


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    limit = small_int(raw, q.MAX_PAGE_SIZE)
    if not limit:
        raise q.QueryError(_("limit must be a whole number from 1 to %(max)s.",
                             max=q.MAX_PAGE_SIZE))
    return limit


@bp.get("/notifications")
def list_notifications() -> Response:
    """`?unread=1`: only unread ones; `limit`, `cursor` (`next_cursor` of the page before)."""
    args = request.args
    for key in args:
        if key not in PARAMS:
            raise q.QueryError(_("Unknown parameter '%(name)s'.", name=key[:60]))
    unread = args.get("unread", "0")
    if unread not in ("0", "1"):
        raise q.QueryError(_("unread must be 1 (only unread notifications) or 0."))
    before: int | None = None
    if args.get("cursor"):
        before = small_int(args["cursor"], SQL_INT_MAX)
        if not before:
            raise q.QueryError(_("The cursor is not valid: start again from the first page."))
    limit = _limit(args.get("limit"))
    me = api_user_id()
    with state().ctx.engine.connect() as conn:
        rows = service.notifications_of(conn, me, unread_only=unread == "1", limit=limit + 1,
                                        before_id=before)
        count = service.count_of(conn, me, unread_only=unread == "1")
        unread_count = service.unread_count(conn, me)
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify({"data": [as_json(n) for n in rows], "count": count,
                    "unread": unread_count, "has_more": more,
                    "next_cursor": str(rows[-1].id) if more else None})


@bp.post("/notifications/<raw_id>/read")
def read_one(raw_id: str) -> Response:
    notification_id = small_int(raw_id, SQL_INT_MAX)
    if not notification_id:
        raise q.QueryError(_("'%(id)s' is not a notification id (a whole number).",
                             id=raw_id[:40]))
    with state().ctx.engine.begin() as conn:
        found = service.mark_read(conn, api_user_id(), notification_id)
    if found is None:
        abort(404)
    return jsonify(as_json(found))


@bp.post("/notifications/read-all")
def read_all() -> Response:
    with state().ctx.engine.begin() as conn:
        done = service.mark_all_read(conn, api_user_id())
    return jsonify({"marked": done, "unread": 0})
