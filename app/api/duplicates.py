"""Duplicates in the REST API (app/dedupe, docs/duplicates.md), for callers with the `merge`
grant on the entity:

- `GET /api/v1/<entity>/duplicates?rule=&limit=`: groups of duplicates, each
  `{"rule", "key", "ids", "records": [record, ...]}`;
- `POST /api/v1/<entity>/merge` `{"survivor": 5, "losers": [7], "choices": {"email": 7},
  "versions": {"5": 3, "7": 1}}`: 200 `{"data": survivor record, "merged": [7], "taken": {...},
  "moved": {"activity": 2}, "attachments": 0}`; 403, 404, 409 (a stale version), 422 (bad
  choices: `fields`; or why the merge is refused);
- `POST /api/v1/<entity>/duplicates/dismiss` `{"ids": [5, 7]}`: "not duplicates".

Registered as a built-in plugin (`crm_api_blueprints`), nested under /api/v1.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from app import dedupe
from app.api import serialize
from app.api.auth import api_actor
from app.i18n import _
from app.plugins import hookimpl
from app.records import query as q
from app.textnum import small_int
from app.web.state import entity_or_404, records

bp = Blueprint("api_duplicates", __name__)
MERGE_KEYS = ("survivor", "losers", "choices", "versions")


@hookimpl
def crm_api_blueprints() -> list[Blueprint]:
    return [bp]


def _body(keys: tuple[str, ...]) -> dict[str, Any]:
    if not request.is_json:
        raise UnsupportedMediaType(_("Send the request as JSON (Content-Type: "
                                     "application/json)."))
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be one JSON object."))
    unknown = sorted(set(body) - set(keys))
    if unknown:
        raise BadRequest(_("Unknown key '%(name)s'.", name=str(unknown[0])[:60]))
    return body


@bp.get("/<entity>/duplicates")
def duplicates(entity: str) -> Response:
    e = entity_or_404(entity)
    for key in request.args:
        if key not in ("rule", "limit"):
            raise q.QueryError(_("Unknown parameter '%(name)s'.", name=key[:60]))
    limit = small_int(request.args.get("limit") or "50", 500)
    if not limit:
        raise BadRequest(_("`limit` must be a whole number from 1 to 500."))
    rs = records()
    groups = dedupe.find(rs, api_actor(), entity, rule=request.args.get("rule") or None,
                         limit=limit)
    fields = serialize.api_fields(rs, e)
    return jsonify({"data": [
        {"rule": g.rule, "key": [_plain(k) for k in g.key], "ids": list(g.ids),
         "records": [serialize.to_json(rs, e, r, fields=fields) for r in g.records]}
        for g in groups]})


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


@bp.post("/<entity>/merge")
def merge(entity: str) -> Response:
    e = entity_or_404(entity)
    body = _body(MERGE_KEYS)
    if "survivor" not in body or "losers" not in body:
        raise BadRequest(_("Name the `survivor` and the `losers` (a list of ids)."))
    losers = body["losers"]
    if not isinstance(losers, list):
        raise BadRequest(_("`losers` must be a list of record ids."))
    choices = body.get("choices") or {}
    versions = body.get("versions") or {}
    if not isinstance(choices, dict) or not isinstance(versions, dict):
        raise BadRequest(_("`choices` and `versions` must be objects."))
    rs = records()
    done = dedupe.merge(rs, api_actor(), entity, _ref(body["survivor"]),
                        [_ref(r) for r in losers], choices=choices, versions=versions)
    out = done.as_dict()
    out["data"] = serialize.to_json(rs, e, rs.get(entity, int(done.survivor["id"])))
    return jsonify(out)


def _ref(value: Any) -> Any:
    """An id, or `{"entity": ..., "id": ...}` (another entity's record is refused)."""
    if isinstance(value, dict):
        if set(value) != {"entity", "id"}:
            raise BadRequest(_("A record is an id or {\"entity\": ..., \"id\": ...}."))
        return (value["entity"], value["id"])
    return value


@bp.post("/<entity>/duplicates/dismiss")
def dismiss(entity: str) -> Response:
    entity_or_404(entity)
    body = _body(("ids",))
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                            for i in ids):
        raise BadRequest(_("`ids` must be a list of record ids."))
    made = dedupe.dismiss(records(), api_actor(), entity, ids)
    return jsonify({"dismissed_pairs": made})
