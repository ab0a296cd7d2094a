"""`POST /api/v1/<entity>/<id>/convert/<name>`: convert a record (a qualified lead, an
accepted quote) into the records its conversion creates (app/workflow/convert.py). Body
(optional): `{"include": {"opportunity": false}, "overrides": {"opportunity": {"name": "..."}}}`.
201 with `{"ids": {target: id or null}, "lines": {target: {line entity: count}}}`; 404 (no such
record or conversion), 403 (may not edit it), 409 (converted already), 422 (a value refused,
a line refused: `contract.contract_line[3].quantity`, `when` fails)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest

from app.api.auth import api_actor
from app.i18n import _
from app.web.detail import check_id
from app.web.state import entity_or_404, records
from app.workflow.convert import run_conversion

bp = Blueprint("api_convert", __name__)
KEYS = ("include", "overrides")


@bp.post("/<entity>/<int:id>/convert/<name>")
def convert_record(entity: str, id: int, name: str) -> tuple[Response, int]:
    entity_or_404(entity)
    check_id(id)
    body: Any = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be one JSON object."))
    unknown = sorted(set(body) - set(KEYS))
    if unknown:
        raise BadRequest(_("Unknown key '%(name)s'.", name=str(unknown[0])[:60]))
    include = body.get("include") or {}
    overrides = body.get("overrides") or {}
    if not isinstance(include, dict) or not all(isinstance(v, bool) for v in include.values()):
        raise BadRequest(_("`include` must map target names to true or false."))
    if not isinstance(overrides, dict):
        raise BadRequest(_("`overrides` must map target names to objects of values."))
    done = run_conversion(records(), name, id, api_actor(), include=include,
                          overrides=overrides, entity=entity)
    return jsonify({"ids": done.ids, "lines": done.lines}), 201
