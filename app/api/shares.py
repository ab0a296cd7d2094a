"""`/api/v1/<entity>/<id>/shares`: a record's manual shares (app/access/shares.py). Reading
them needs read access to the record; sharing and unsharing need edit access."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest

from app.access.shares import Share, share, shares_of, unshare
from app.api.auth import api_actor
from app.i18n import _
from app.records.attachments import aware
from app.web.detail import MAX_ID, check_id
from app.web.state import entity_or_404, records

bp = Blueprint("api_shares", __name__)
KEYS = ("user", "team", "access")


def _json(s: Share) -> dict[str, Any]:
    return {"id": s.id, "user": s.user_id, "username": s.username, "team": s.team,
            "access": s.access, "created_by": s.created_by,
            "created_at": aware(s.created_at).isoformat() if s.created_at else None}


@bp.get("/<entity>/<int:id>/shares")
def list_shares(entity: str, id: int) -> Response:
    e = entity_or_404(entity)
    records().get(e.name, id)  # 404 unless the caller may read the record
    return jsonify({"data": [_json(s) for s in shares_of(records(), e.name, id)]})


@bp.post("/<entity>/<int:id>/shares")
def add_share(entity: str, id: int) -> tuple[Response, int]:
    """Body: `{"user": <id>}` or `{"team": "<name>"}`, with `"access": "read" | "edit"`
    (default read). Sharing again with the same user or team changes the access."""
    e = entity_or_404(entity)
    check_id(id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be one JSON object."))
    unknown = sorted(set(body) - set(KEYS))
    if unknown:
        raise BadRequest(_("Unknown key '%(name)s'.", name=str(unknown[0])[:60]))
    user, team, access = body.get("user"), body.get("team"), body.get("access", "read")
    if user is not None and (not isinstance(user, int) or isinstance(user, bool)
                             or not 0 < user <= MAX_ID):
        raise BadRequest(_("'user' must be a user id (a whole number)."))
    if team is not None and not isinstance(team, str):
        raise BadRequest(_("'team' must be a team's name."))
    if not isinstance(access, str):
        raise BadRequest(_("Access must be read or edit."))
    share_id = share(records(), e.name, id, api_actor(), user_id=user, team=team,
                     access=access)
    found = next(s for s in shares_of(records(), e.name, id) if s.id == share_id)
    return jsonify(_json(found)), 201


@bp.delete("/<entity>/<int:id>/shares/<int:share_id>")
def delete_share(entity: str, id: int, share_id: int) -> tuple[str, int]:
    e = entity_or_404(entity)
    check_id(id, share_id)
    unshare(records(), e.name, id, share_id, api_actor())
    return "", 204
