"""`/api/v1/<entity>`: list, get, create, update (PATCH), delete and bulk writes of records,
all through the records service (its validation, hooks, audit and locking)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from werkzeug.exceptions import BadRequest, PreconditionFailed, UnsupportedMediaType

from app.api import serialize
from app.api.auth import api_actor, api_user_id
from app.i18n import _
from app.meta.types import EntityDef
from app.records import Conflict, NotFound, RecordError, queryparams
from app.records import query as q
from app.textnum import small_int
from app.web.state import entity_or_404, records

bp = Blueprint("api_records", __name__)
#: most records one bulk request may write
MAX_BULK = 200
#: list parameters besides the `f.<field>.<op>` filters
LIST_PARAMS = frozenset({"q", "sort", "limit", "cursor", "fields", "expand", "owner",
                         "archived"})


@bp.get("/<entity>")
def list_records(entity: str) -> Response:
    e = entity_or_404(entity)
    rec = records()
    args = request.args
    for key in args:
        if key not in LIST_PARAMS and not key.startswith("f."):
            raise q.QueryError(_("Unknown parameter '%(name)s'.", name=key[:60]))
    params: dict[str, list[str]] = {k: args.getlist(k) for k in args if k.startswith("f.")}
    for key in ("q", "sort", "owner", "archived"):
        if key in args:
            params[key] = [args[key]]
    query = queryparams.from_params(rec, e, params, me=api_user_id())
    limit = _limit(args.get("limit"))
    query = replace(query, page_size=limit, cursor=args.get("cursor") or None, backward=False)
    only = serialize.parse_names(args.get("fields"), _field_names(e), "fields")
    expand = serialize.parse_names(args.get("expand"), serialize.expandable(rec, e), "expand")
    if only:
        only += [n for n in expand if n not in only]  # an expanded link keeps its id
    page = q.run(rec, entity, query, with_count=True)
    fields = serialize.api_fields(rec, e)
    rows = [serialize.to_json(rec, e, r, only, fields) for r in page.rows]
    serialize.expand(rec, e, rows, expand)
    return jsonify({"data": rows, "count": page.count, "count_is_estimate": page.count_capped,
                    "has_more": page.has_more,
                    "next_cursor": page.next_cursor if page.has_more else None})


@bp.post("/<entity>")
def create_record(entity: str) -> tuple[Response, int, dict[str, str]]:
    e = entity_or_404(entity)
    rec = records()
    made = rec.create(entity, _body(), api_actor())
    out = serialize.to_json(rec, e, made)
    return jsonify(out), 201, {"Location": url_for(".get_record", entity=entity, id=made["id"]),
                               "ETag": _etag(made["version"])}


@bp.get("/<entity>/<int:id>")
def get_record(entity: str, id: int) -> Response:
    e = entity_or_404(entity)
    rec = records()
    only = serialize.parse_names(request.args.get("fields"), _field_names(e), "fields")
    expand = serialize.parse_names(request.args.get("expand"), serialize.expandable(rec, e),
                                   "expand")
    for key in request.args:
        if key not in ("fields", "expand"):
            raise q.QueryError(_("Unknown parameter '%(name)s'.", name=key[:60]))
    if only:
        only += [n for n in expand if n not in only]  # an expanded link keeps its id
    found = rec.get(entity, id)
    row = serialize.to_json(rec, e, found, only)
    serialize.expand(rec, e, [row], expand)
    response = jsonify(row)
    response.headers["ETag"] = _etag(found["version"])
    return response


@bp.get("/<entity>/<int:id>/moves")
def record_moves(entity: str, id: int) -> Response:
    """Where the caller may move the record along a stage machine: `{"field", "from", "to"}`
    (`?field=` picks the machine when the entity has several); 404 when none governs it."""
    from app.workflow.machine import allowed_moves, machines_for

    entity_or_404(entity)
    rec = records()
    for key in request.args:
        if key != "field":
            raise q.QueryError(_("Unknown parameter '%(name)s'.", name=key[:60]))
    field = request.args.get("field") or None
    found = rec.get(entity, id)
    moves = allowed_moves(rec, entity, found, api_actor(), field)
    if moves is None:
        names = ", ".join(machines_for(rec.meta, entity))
        if not names:
            raise NotFound(_("No stage machine governs %(entity)s.", entity=entity))
        raise NotFound(_("No stage machine governs %(field)s; the stage fields are: "
                         "%(names)s.", field=str(field)[:60], names=names))
    return jsonify(moves.as_json())


@bp.patch("/<entity>/<int:id>")
def update_record(entity: str, id: int) -> Response:
    e = entity_or_404(entity)
    rec = records()
    values = _body()
    expected = _if_match()
    try:
        saved = rec.update(entity, id, values, api_actor(), version=expected)
    except Conflict as exc:
        raise _precondition(exc) from None
    response = jsonify(serialize.to_json(rec, e, saved))
    response.headers["ETag"] = _etag(saved["version"])
    return response


@bp.delete("/<entity>/<int:id>")
def delete_record(entity: str, id: int) -> tuple[str, int]:
    entity_or_404(entity)
    try:
        records().delete(entity, id, api_actor(), version=_if_match())
    except Conflict as exc:
        raise _precondition(exc) from None
    return "", 204


@bp.post("/<entity>/bulk")
def bulk_write(entity: str) -> Response:
    """`{"records": [{...}, {"id": 5, "version": 3, ...}]}`: items without `id` are created,
    items with one are updated (checking `version` when given); all or nothing."""
    e = entity_or_404(entity)
    rec = records()
    body = _body()
    items = body.get("records")
    if set(body) != {"records"} or not isinstance(items, list) or not items:
        raise q.QueryError(_("Send {\"records\": [...]} with 1 to %(max)s records.",
                             max=MAX_BULK))
    if len(items) > MAX_BULK:
        raise q.QueryError(_("At most %(max)s records per request.", max=MAX_BULK))
    plan: list[tuple[int | None, dict[str, Any], int | None]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise q.QueryError(_("Record %(n)s is not a JSON object.", n=index))
        values = dict(item)
        rid, version = values.pop("id", None), values.pop("version", None)
        if rid is not None and (not isinstance(rid, int) or isinstance(rid, bool)
                                or not 1 <= rid <= 2**31 - 1):
            raise q.QueryError(_("Record %(n)s: id must be a record id.", n=index))
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)
                                    or rid is None):
            raise q.QueryError(_("Record %(n)s: version must be a whole number, given with "
                                 "an id.", n=index))
        plan.append((rid, values, version))
    saved = rec.write_many(entity, plan, api_actor())
    return jsonify({"data": [serialize.to_json(rec, e, r) for r in saved]})


# --- helpers -------------------------------------------------------------------------------
def _field_names(e: EntityDef) -> list[str]:
    return [*serialize.SYSTEM_KEYS, *(f.name for f in serialize.api_fields(records(), e))]


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return q.DEFAULT_PAGE_SIZE
    limit = small_int(raw, q.MAX_PAGE_SIZE)
    if not limit:
        raise q.QueryError(_("limit must be a whole number from 1 to %(max)s.",
                             max=q.MAX_PAGE_SIZE))
    return limit


def _body() -> dict[str, Any]:
    if not request.is_json:
        raise UnsupportedMediaType(_("Send the record as JSON (Content-Type: "
                                     "application/json)."))
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be one JSON object."))
    return body


def _etag(version: int) -> str:
    return f'"{version}"'


def _if_match() -> int | None:
    """The version the client read (`If-Match: "3"`), or None without the header."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    version = small_int(raw.strip().removeprefix("W/").strip('"'))
    if version is None:
        raise BadRequest(_("If-Match must be the record's ETag, for example \"3\"."))
    return version


def _precondition(exc: Conflict) -> RecordError:
    """A conflict found through If-Match is 412 Precondition Failed (with the record as it is
    now); the same refusal without If-Match stays 409."""
    exc.status = PreconditionFailed.code
    return exc
