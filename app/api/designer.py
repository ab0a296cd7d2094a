"""The designer in the REST API, for administrators (everyone else gets a 403): the caller's
draft of config changes, its preview, applying it as a new config version, the version history,
the differences between versions, a version's YAML files, and reverting to a version.
app/designer/service.py does the work; these routes read the request, call it and answer JSON
(app/designer/serialize.py shapes the answers, app/api/designer_openapi.py documents them).

- `GET|DELETE /config/draft`, `POST /config/draft/changes`, `DELETE /config/draft/changes/<n>`,
  `POST /config/draft/rebase`, `GET /config/draft/preview`, `POST /config/draft/apply`;
- `GET /config/versions`, `GET /config/versions/<a>/diff/<b>`,
  `GET /config/versions/<id>/files`, `POST /config/versions/<id>/revert`;
- `GET|POST /config/purge`: the hidden columns and tables, and dropping them.

A change that cannot be made is a 400 naming why; a draft made on a version that is no longer
live a 409 naming what was published since; a draft that cannot be applied as it is (errors,
data that would be lost, hidden data not confirmed) a 422 listing the reasons in
`error.blockers`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from app.api.auth import api_actor, api_user
from app.designer import history, serialize
from app.designer.changes import ChangeError
from app.designer.service import Conflict, Designer, Refused
from app.i18n import _
from app.meta.access import ADMIN
from app.migrate.publish import PublishError, active_version
from app.records import NotFound
from app.records import query as q
from app.records.errors import Forbidden
from app.textnum import SQL_INT_MAX, small_int
from app.web.state import state

bp = Blueprint("api_designer", __name__)
#: versions listed per page by default, and at most
PAGE, MAX_PAGE = 50, 500
MAX_MESSAGE = 500


@bp.url_value_preprocessor
def _ids_in_range(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A version or change number beyond what the database holds is not found (not a 500)."""
    if values and any(isinstance(v, int) and v > SQL_INT_MAX for v in values.values()):
        raise NotFound(_("There is no such version or change."))


@bp.before_request
def _admins_only() -> None:
    if ADMIN not in api_actor().roles:
        raise Forbidden(_("Only administrators may change the configuration."))


# --- helpers ---------------------------------------------------------------------------------
def _designer() -> Designer:
    return Designer.of(state().ctx)


def _author() -> str:
    return str(api_user().username)


def _root() -> Path:
    return Path(state().ctx.settings.config_file).parent


def _live() -> int | None:
    with state().ctx.engine.connect() as conn:
        return active_version(conn)[0]


def _problem(status: int, message: str, **extra: Any) -> ResponseReturnValue:
    """The API's error shape, `{"error": {"status", "message", ...}}`, with details."""
    return jsonify({"error": {"status": status, "message": message, **extra}}), status


def _params(*allowed: str) -> None:
    for key in request.args:
        if key not in allowed:
            raise q.QueryError(_("Unknown parameter '%(name)s'.", name=key[:60]))


def _object(keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The JSON object sent (an empty body: `{}`); with `keys`, no other key."""
    body: Any = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be one JSON object."))
    unknown = sorted(set(body) - set(keys)) if keys is not None else []
    if unknown:
        raise BadRequest(_("Unknown key '%(name)s'.", name=str(unknown[0])[:60]))
    return body


def _number(raw: str | None, name: str, default: int, limit: int) -> int:
    if raw in (None, ""):
        return default
    found = small_int(raw, limit)
    if found is None:
        raise q.QueryError(_("%(name)s must be a whole number from 0 to %(max)s.", name=name,
                             max=limit))
    return found


def _version(conn: Any, version_id: int) -> history.Version:
    found = history.version(conn, version_id) if 0 < version_id <= SQL_INT_MAX else None
    if found is None:
        raise NotFound(_("There is no config version %(id)s.", id=version_id))
    return found


def _draft_answer(designer: Designer, status: int = 200) -> ResponseReturnValue:
    return jsonify(serialize.draft_json(designer.draft(_author()), _live())), status


# --- the draft -------------------------------------------------------------------------------
@bp.get("/config/draft")
def get_draft() -> ResponseReturnValue:
    """The caller's draft (empty when they have none), on the version it was started from."""
    _params()
    return _draft_answer(_designer())


@bp.post("/config/draft/changes")
def add_change() -> ResponseReturnValue:
    """Body: one change, e.g. `{"op": "field", "entity": "account", "field": "tier",
    "definition": {...}}` (docs/api.md lists the operations); 201 with the draft, 400 when the
    change cannot be made (nothing is saved then)."""
    body = _object()
    if not isinstance(body.get("op"), str):
        raise BadRequest(_("Send the change as a JSON object with its 'op'."))
    designer = _designer()
    try:
        designer.add(_author(), body)
    except ChangeError as exc:
        return _problem(400, _("The change could not be made: %(why)s", why=str(exc)),
                        reason=str(exc))
    return _draft_answer(designer, 201)


@bp.delete("/config/draft/changes/<int:number>")
def remove_change(number: int) -> ResponseReturnValue:
    """Take change `number` (from 1, as listed) out of the draft."""
    designer = _designer()
    try:
        if not 0 < number <= SQL_INT_MAX:
            raise ChangeError(f"the draft has no change number {number}")
        designer.remove(_author(), number - 1)
    except ChangeError:
        raise NotFound(_("Your draft has no change number %(n)s.", n=number)) from None
    return _draft_answer(designer)


@bp.delete("/config/draft")
def discard_draft() -> tuple[str, int]:
    _designer().discard(_author())
    return "", 204


@bp.post("/config/draft/rebase")
def rebase_draft() -> ResponseReturnValue:
    """Move the draft onto the live version (after reviewing what was published meanwhile)."""
    designer = _designer()
    designer.rebase(_author())
    return _draft_answer(designer)


@bp.get("/config/draft/preview")
def preview_draft() -> Response:
    """What applying the draft would do: the YAML it writes, the config's errors, the plan for
    the database, the config checks, a conflict with a newer version, and what blocks it."""
    _params()
    return jsonify(serialize.preview_json(_designer().preview(_author()), _root()))


@bp.post("/config/draft/apply")
def apply_draft() -> ResponseReturnValue:
    """Body (optional): `{"message": text, "confirm": true}` (confirm: hide fields or entities,
    their data kept, and apply despite failing config checks). 200 with the new version."""
    body = _object(("message", "confirm"))
    message, confirm = body.get("message"), body.get("confirm", False)
    if message is not None and (not isinstance(message, str) or len(message) > MAX_MESSAGE):
        raise BadRequest(_("'message' must be text of at most %(n)s characters.",
                           n=MAX_MESSAGE))
    if not isinstance(confirm, bool):
        raise BadRequest(_("'confirm' must be true or false."))
    designer, who = _designer(), _author()
    try:
        applied = designer.apply(who, confirm=confirm, message=message or None)
    except Conflict as exc:
        return _conflict(exc)
    except Refused as exc:
        preview = designer.preview(who)
        if preview.conflict is not None:
            return _conflict(preview.conflict)
        return _problem(422, _("The draft cannot be applied: %(why)s", why=str(exc)),
                        blockers=preview.blockers or [str(exc)],
                        hides=[serialize.step_json(s) for s in preview.hides],
                        failed_checks=len(preview.failed_checks))
    except PublishError as exc:
        plan = serialize.plan_json(exc.plan) if exc.plan is not None else None
        return _problem(422, _("The draft cannot be applied: %(why)s", why=str(exc)),
                        blockers=[str(exc)], plan=plan)
    return jsonify(serialize.applied_json(applied, _root()))


def _conflict(exc: Conflict) -> ResponseReturnValue:
    details = serialize.conflict_json(exc)
    return _problem(409, _("The configuration changed since your draft was started (version "
                           "%(base)s, now %(live)s): review the other change, rebase your "
                           "draft and apply it again.", base=exc.base, live=exc.live),
                    newer=details["newer"], differences=details["differences"],
                    base_version=exc.base, live_version=exc.live)


# --- history ---------------------------------------------------------------------------------
@bp.get("/config/versions")
def list_versions() -> Response:
    """Published versions, newest first; `limit` (1-500, default 50) and `offset`."""
    _params("limit", "offset")
    limit = _number(request.args.get("limit"), "limit", PAGE, MAX_PAGE)
    if not limit:
        raise q.QueryError(_("limit must be a whole number from 1 to %(max)s.", max=MAX_PAGE))
    offset = _number(request.args.get("offset"), "offset", 0, SQL_INT_MAX)
    with state().ctx.engine.connect() as conn:
        live = active_version(conn)[0]
        found = history.versions(conn, limit=limit + 1, offset=offset)
    return jsonify({"data": [serialize.version_json(v, live) for v in found[:limit]],
                    "live_version": live, "limit": limit, "offset": offset,
                    "has_more": len(found) > limit})


@bp.get("/config/versions/<int:a>/diff/<int:b>")
def compare_versions(a: int, b: int) -> Response:
    """What changed from version `a` to `b`: by meaning, and by file when both recorded their
    YAML files."""
    _params()
    ctx = state().ctx
    with ctx.engine.connect() as conn:
        _version(conn, a)
        _version(conn, b)
        differences = history.compare(history.snapshot(conn, a), history.snapshot(conn, b))
        dirs = ctx.yaml_files().dirs
        files_a, files_b = history.files_of(conn, a, dirs), history.files_of(conn, b, dirs)
    files = [] if files_a is None or files_b is None else history.file_diffs(
        files_a, files_b, label_a=f"v{a}", label_b=f"v{b}")
    return jsonify({"from": a, "to": b,
                    "differences": [serialize.difference_json(d) for d in differences],
                    "files_recorded": files_a is not None and files_b is not None,
                    "files": [serialize.file_diff_json(f, _root()) for f in files]})


@bp.get("/config/versions/<int:version_id>/files")
def version_files(version_id: int) -> Response:
    """The YAML files recorded with a version (404 when it kept none)."""
    _params()
    ctx = state().ctx
    with ctx.engine.connect() as conn:
        _version(conn, version_id)
        files = history.files_of(conn, version_id, ctx.yaml_files().dirs)
    if files is None:
        raise NotFound(_("Config version %(id)s has no recorded YAML files (it was published "
                         "before versions kept them).", id=version_id))
    root, keys = _root(), sorted(files.texts, key=str)
    return jsonify({"version": version_id,
                    "files": {str(k): files.texts[k] for k in keys},
                    "paths": {str(k): serialize.relative(files.path_of(k), root) for k in keys}})


@bp.post("/config/versions/<int:version_id>/revert")
def revert_version(version_id: int) -> ResponseReturnValue:
    """Replace the caller's draft with one that brings back the version's files; preview and
    apply it as any draft."""
    with state().ctx.engine.connect() as conn:
        _version(conn, version_id)
    designer = _designer()
    try:
        designer.revert_to(_author(), version_id)
    except ChangeError as exc:
        return _problem(422, _("Config version %(id)s cannot be restored: %(why)s",
                               id=version_id, why=str(exc)))
    return _draft_answer(designer)


# --- purge -----------------------------------------------------------------------------------
@bp.get("/config/purge")
def purge_plan() -> ResponseReturnValue:
    """The columns and tables of removed fields and entities, kept until a purge."""
    _params()
    try:
        plan = _designer().purge_plan()
    except Refused as exc:
        return _problem(422, str(exc))
    return jsonify(serialize.plan_json(plan))


@bp.post("/config/purge")
def purge() -> ResponseReturnValue:
    """Body: `{"confirm": true, "version": N}`: drop them (a backup copy of each is kept).
    `version`, the live version whose purge plan was read, refuses the purge (409) when
    another version went live since."""
    body = _object(("confirm", "version"))
    if body.get("confirm") is not True:
        return _problem(422, _("Purging deletes the hidden data: send 'confirm': true."))
    designer = _designer()
    try:
        if not designer.purge_plan().steps:
            return _problem(422, _("Nothing is hidden: there is nothing to purge."))
        seen = body.get("version")
        if seen is not None and small_int(seen) is None:
            return _problem(400, _("%(name)s must be a whole number from 0 to %(max)s.",
                                   name="version", max=SQL_INT_MAX))
        applied = designer.purge(_author(), confirm=True, seen_version=seen)
    except Conflict as exc:
        return _conflict(exc)
    except Refused as exc:
        return _problem(422, str(exc))
    except PublishError as exc:
        return _problem(422, str(exc))
    return jsonify(serialize.applied_json(applied, _root()))
