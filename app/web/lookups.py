"""Search-as-you-type for lookup inputs: `/lookup/<entity>?q=text&limit=20` answers
`{"results": [{"id": 1, "text": "title"}]}`, records whose title contains the text (any case),
not deleted, ordered by title. `/lookup/_user?q=` searches the users (username and full name)
for fields of type `user`. Lookups never load a whole table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.i18n import _
from app.model.system import users
from app.records.archived import excluded
from app.records.errors import Forbidden
from app.textnum import small_int
from app.web.state import meta, records, state

bp = Blueprint("lookups", __name__)

#: the pseudo-entity of users in lookup URLs (entity names start with a letter)
USERS = "_user"
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
MAX_QUERY = 100


def _error(status: int, message: str) -> ResponseReturnValue:
    return {"error": {"status": status, "message": message}}, status


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's wildcards in `text` escaped (escape character `\\`)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _limit() -> int | None:
    raw = request.args.get("limit", "")
    if raw == "":
        return DEFAULT_LIMIT
    number = small_int(raw)
    if not number:
        return None
    return min(number, MAX_LIMIT)


def user_text(full_name: str | None, username: str) -> str:
    """How a user is shown in lookups: `Full Name (username)`, or the username alone."""
    if full_name and full_name != username:
        return f"{full_name} ({username})"
    return username


def user_titles(ids: Iterable[int]) -> dict[int, str]:
    """id -> how each user is shown (inactive users included: old records name them)."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    stmt = sa.select(users.c.id, users.c.username, users.c.full_name).where(
        users.c.id.in_(wanted))
    with state().ctx.engine.connect() as conn:
        return {r.id: user_text(r.full_name, r.username) for r in conn.execute(stmt)}


def _users(q: str, limit: int) -> list[dict[str, Any]]:
    stmt = sa.select(users.c.id, users.c.username, users.c.full_name).where(
        users.c.active.is_(True))
    if q:
        pattern = like_pattern(q)
        stmt = stmt.where(sa.or_(users.c.username.ilike(pattern, escape="\\"),
                                 users.c.full_name.ilike(pattern, escape="\\")))
    stmt = stmt.order_by(sa.func.coalesce(users.c.full_name, users.c.username),
                         users.c.id).limit(limit)
    with state().ctx.engine.connect() as conn:
        return [{"id": r.id, "text": user_text(r.full_name, r.username)}
                for r in conn.execute(stmt)]


def _records(entity: str, q: str, limit: int) -> list[dict[str, Any]]:
    rec = records()
    table = rec.table(entity)
    title = sa.cast(rec.title_column(entity), sa.String)
    stmt = sa.select(table.c.id, title.label("title")).where(table.c.deleted_at.is_(None),
                                                             *excluded(rec, entity))
    access = rec.readable(entity)  # only records the user may see (Forbidden: none)
    if access is not None:
        stmt = stmt.where(access)
    if q:
        stmt = stmt.where(title.ilike(like_pattern(q), escape="\\"))
    stmt = stmt.order_by(title, table.c.id).limit(limit)
    label = rec.entity(entity).label_for(_locale())
    with rec.engine.connect() as conn:
        return [{"id": r.id, "text": r.title if r.title not in (None, "") else f"{label} #{r.id}"}
                for r in conn.execute(stmt)]


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()


@bp.route("/lookup/<entity>")
@login_required
def lookup(entity: str) -> ResponseReturnValue:
    limit = _limit()
    if limit is None:
        return _error(400, _("The limit must be a whole number from 1 to %(max)s.",
                             max=MAX_LIMIT))
    q = request.args.get("q", "").replace("\x00", "").strip()[:MAX_QUERY]
    if entity == USERS:
        return {"results": _users(q, limit)}
    if entity not in meta().entities:
        return _error(404, _("There is no entity '%(name)s'.", name=entity))
    try:
        return {"results": _records(entity, q, limit)}
    except Forbidden as exc:
        return _error(403, str(exc))
