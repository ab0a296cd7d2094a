"""`POST /api/v1/campaign/<id>/email`: marketing email to a campaign's members, through the
consent gate (app/consent/campaign.py). Body: `{"subject": "...", "body": "...",
"dry_run": false}`. 201 with who was sent the message and who was blocked and why (200 and
nothing written with `dry_run: true`); 403 (may not edit the campaign), 404, 422 (subject or
text missing or too long)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest

from app.api.auth import api_actor
from app.consent.campaign import CAMPAIGN, Recipient, send
from app.i18n import _
from app.web.detail import check_id
from app.web.state import entity_or_404, records, state

bp = Blueprint("api_campaign_mail", __name__)
KEYS = ("subject", "body", "dry_run")


def _person(r: Recipient) -> dict[str, Any]:
    out: dict[str, Any] = {"member": r.member_id, "name": r.name, "entity": r.entity,
                           "record_id": r.record_id, "address": r.address}
    if r.reason is not None:
        out["reason"] = r.reason
    return out


@bp.post("/campaign/<int:id>/email")
def email_members(id: int) -> tuple[Response, int]:
    entity_or_404(CAMPAIGN)
    check_id(id)
    body: Any = request.get_json(silent=True) if request.data else None
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be one JSON object."))
    unknown = sorted(set(body) - set(KEYS))
    if unknown:
        raise BadRequest(_("Unknown key '%(name)s'.", name=str(unknown[0])[:60]))
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadRequest(_("`dry_run` must be true or false."))
    done = send(records(), api_actor(), id, body.get("subject"), body.get("body"),
                settings=state().ctx.settings, dry_run=dry_run)
    if done.sent and not dry_run:
        from app.notify import enqueue_pending

        enqueue_pending(state().ctx)
    return jsonify({"dry_run": dry_run, "sent": [_person(r) for r in done.sent],
                    "blocked": [_person(r) for r in done.blocked],
                    "email_ids": done.email_ids}), 200 if dry_run else 201
