"""The communication centre's API (mounted under /api/v1 through `crm_api_blueprints` by
app/web/email.py):

- `POST /<entity>/<id>/emails`: send an email from the record. Body: `{"to": [...], "cc":
  [...], "subject", "body_text", "body_html", "attachment_ids": [...], "purpose", "kind"}`;
  201 `{"email_ids", "blocked", "mail_ids"}`, 422 with the problems by field.
- `GET /<entity>/<id>/emails`: the emails logged on the record, newest first, with status.
- `GET /activities/overdue?scope=mine|team`: the caller's overdue follow-ups, or their
  reports', grouped by the person responsible.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound

from app.api.auth import api_actor, api_user_id
from app.api.comms_openapi import PURPOSES
from app.api.serialize import to_json
from app.comms.email import EMAIL, OutgoingEmail, send_email
from app.comms.followups import SCOPES, overdue, responsible
from app.comms.links import link_fields
from app.i18n import _
from app.records.mywork import ACTIVITY
from app.web.detail import check_id
from app.web.state import entity_or_404, records, state

bp = Blueprint("api_comms", __name__)
#: the keys a POST may send, and their types
KEYS: dict[str, type | tuple[type, ...]] = {
    "to": list, "cc": list, "subject": str, "body_text": str, "body_html": (str, type(None)),
    "attachment_ids": list, "purpose": str, "kind": str}
MAX_LIST = 200


def _body() -> dict[str, Any]:
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be one JSON object."))
    unknown = sorted(set(body) - set(KEYS))
    if unknown:
        raise BadRequest(_("Unknown key '%(name)s'.", name=str(unknown[0])[:60]))
    for key, kind in KEYS.items():
        if key in body and not isinstance(body[key], kind):
            raise BadRequest(_("'%(name)s' has the wrong type.", name=key))
        if isinstance(body.get(key), list) and len(body[key]) > MAX_LIST:
            raise BadRequest(_("'%(name)s' has too many items.", name=key))
    if body.get("purpose", "service") not in PURPOSES:
        raise BadRequest(_("purpose must be service or marketing."))
    return body


@bp.post("/<entity>/<int:id>/emails")
def send(entity: str, id: int) -> tuple[Response, int]:
    entity_or_404(entity)
    check_id(id)
    body = _body()
    out = OutgoingEmail(
        to=tuple(body.get("to") or ()), cc=tuple(body.get("cc") or ()),
        subject=body.get("subject", ""), body_text=body.get("body_text", ""),
        body_html=body.get("body_html"), attachment_ids=tuple(body.get("attachment_ids") or ()),
        entity=entity, record_id=id, purpose=body.get("purpose", "service"),
        kind=body.get("kind", "email"))
    sent = send_email(records(), api_actor(), out, settings=state().ctx.settings)
    if sent.mail_ids:
        from app.notify import enqueue_pending

        enqueue_pending(state().ctx)
    return jsonify({"email_ids": list(sent.email_ids), "blocked": dict(sent.blocked),
                    "mail_ids": list(sent.mail_ids)}), 201


@bp.get("/<entity>/<int:id>/emails")
def list_emails(entity: str, id: int) -> Response:
    entity_or_404(entity)
    check_id(id)
    rs = records()
    rs.get(entity, id)  # 404 when they may not see it
    if EMAIL not in rs.meta.entities:
        raise NotFound()
    field = link_fields(rs, EMAIL).get(entity)
    if field is None:
        return jsonify({"data": []})
    table = rs.table(EMAIL)
    col = table.c[rs.spec(EMAIL).columns[field]]
    stmt = (rs.select(EMAIL).where(col == id, table.c.deleted_at.is_(None))
            .order_by(table.c.id.desc()).limit(500))
    with rs.engine.connect() as conn:
        rows = [rs.to_record(r) for r in conn.execute(stmt)]
    e = rs.visible_entity(EMAIL)
    return jsonify({"data": [to_json(rs, e, row) for row in rows]})


@bp.get("/activities/overdue")
def overdue_activities() -> Response:
    unknown = sorted(set(request.args) - {"scope"})
    if unknown:
        raise BadRequest(_("Unknown parameter '%(name)s'.", name=unknown[0][:60]))
    scope = request.args.get("scope", "mine")
    if scope not in SCOPES:
        raise BadRequest(_("scope must be mine or team."))
    rs = records()
    found = overdue(rs, api_user_id(), scope=scope)
    if found.shape is None:
        return jsonify({"scope": scope, "count": 0, "groups": []})
    e = rs.visible_entity(ACTIVITY)
    names = _names(rs, [uid for uid, _rows in found.groups])
    return jsonify({"scope": scope, "count": found.total, "groups": [
        {"user": uid, "name": names.get(uid) if uid is not None else None,
         "data": [{**to_json(rs, e, row),
                   "responsible": responsible(found.shape, row)} for row in rows]}
        for uid, rows in found.groups]})


def _names(rs: Any, ids: list[int | None]) -> dict[int, str]:
    from app.model.system import users

    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    with rs.engine.connect() as conn:
        return {r.id: r.full_name or r.username for r in conn.execute(
            sa.select(users.c.id, users.c.full_name, users.c.username)
            .where(users.c.id.in_(wanted)))}
