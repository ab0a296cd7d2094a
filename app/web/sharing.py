"""Sharing one record by hand, on its detail page: list the shares, share with a user or a
team (read or edit), take a share back. Whoever may edit the record may share it; the rules
live in app/access/shares.py."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, request
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.access.shares import Share, ShareNotFound, share, shares_of, unshare
from app.i18n import _, get_locale
from app.meta.types import label_text
from app.model.system import users
from app.records.errors import RecordError, ValidationFailed
from app.textnum import small_int
from app.web.state import actor, entity_or_404, meta, records, state

bp = Blueprint("sharing", __name__)
#: at most this many users are offered in the share form's list
MAX_USERS = 500


def _back(entity: str, record_id: int) -> ResponseReturnValue:
    return redirect(f"/{entity}/{record_id}#sharing")


@bp.post("/<entity>/<int:record_id>/shares")
@login_required
def add(entity: str, record_id: int) -> ResponseReturnValue:
    e = entity_or_404(entity)
    target = request.form.get("with", "")
    access = request.form.get("access", "read")
    kind, _sep, value = target.partition(":")
    user_id = small_int(value) if kind == "user" else None
    team = value if kind == "team" else None
    if user_id is None and team is None:
        flash(_("Choose a user or a team to share with."), "error")
        return _back(e.name, record_id)
    try:
        share(records(), e.name, record_id, actor(), user_id=user_id, team=team, access=access)
    except ValidationFailed as exc:
        flash("; ".join(m for ms in exc.errors.values() for m in ms), "error")
        return _back(e.name, record_id)
    except RecordError as exc:
        if exc.status == 404:
            raise
        flash(str(exc), "error")
        return _back(e.name, record_id)
    flash(_("Shared."), "success")
    return _back(e.name, record_id)


@bp.post("/<entity>/<int:record_id>/shares/<int:share_id>/delete")
@login_required
def remove(entity: str, record_id: int, share_id: int) -> ResponseReturnValue:
    e = entity_or_404(entity)
    try:
        unshare(records(), e.name, record_id, share_id, actor())
    except ShareNotFound as exc:  # taken back meanwhile (a missing record is a 404 page)
        flash(str(exc), "error")
        return _back(e.name, record_id)
    except RecordError as exc:
        if exc.status == 404:
            raise
        flash(str(exc), "error")
        return _back(e.name, record_id)
    flash(_("The share was removed."), "success")
    return _back(e.name, record_id)


def sharing_panel(entity: str, record_id: int) -> dict[str, Any] | None:
    """What the detail page's Sharing card shows (None: the user may not share it)."""
    if not records().permits(entity, record_id, "edit"):
        return None
    found: list[Share] = shares_of(records(), entity, record_id)
    with state().ctx.engine.connect() as conn:
        people = conn.execute(
            sa.select(users.c.id, users.c.username, users.c.full_name)
            .where(users.c.active.is_(True), users.c.id != actor().id)
            .order_by(sa.func.coalesce(users.c.full_name, users.c.username))
            .limit(MAX_USERS)).all()
    access = meta().access
    teams = [(t.name, label_text(t.label, get_locale(), t.name))
             for t in (access.teams.values() if access is not None else ())]
    return {"shares": found, "teams": teams, "team_labels": dict(teams),
            "users": [(p.id, p.full_name or p.username) for p in people]}
