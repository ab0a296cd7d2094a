"""`/api/v1/<entity>/<id>/personal-data` and `/api/v1/<entity>/<id>/erase`: personal data
requests for admins (see app/records/privacy.py). Erasing needs a token with the write scope (or a
signed-in admin's session with its CSRF header, like every API write)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, Forbidden

from app import seclog
from app.api.auth import api_actor, api_user
from app.i18n import _
from app.records import privacy
from app.web.attachments import store
from app.web.detail import check_id
from app.web.seclog import client_ip
from app.web.state import entity_or_404, records

bp = Blueprint("api_privacy", __name__)


def _admin(entity: str, id: int) -> None:
    if not getattr(api_user(), "is_admin", False):
        raise Forbidden(_("Only administrators may export or erase personal data."))
    entity_or_404(entity)
    check_id(id)


@bp.get("/<entity>/<int:id>/personal-data")
def personal_data(entity: str, id: int) -> Response:
    _admin(entity, id)
    rs = records()
    data = privacy.personal_data(rs, entity, id, store=store())
    privacy.record_export(rs, entity, id, api_actor(), who=_who())
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<entity>/<int:id>/erase")
def erase(entity: str, id: int) -> Response:
    """Body (optional): `{"mode": "erase" | "anonymise"}`."""
    _admin(entity, id)
    body: Any = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be one JSON object."))
    unknown = sorted(set(body) - {"mode"})
    if unknown:
        raise BadRequest(_("Unknown key '%(name)s'.", name=str(unknown[0])[:60]))
    mode = body.get("mode", "erase")
    if mode not in privacy.MODES:
        raise BadRequest(_("Unknown erase mode '%(mode)s' (use %(modes)s).",
                           mode=str(mode)[:40], modes=", ".join(privacy.MODES)))
    done = privacy.erase(records(), entity, id, api_actor(), mode, store=store(), who=_who())
    return jsonify(done.as_dict())


def _who() -> seclog.Who:
    user = api_actor()
    return seclog.Who(user.id, user.username, client_ip(), via="api")
