"""The REST API, `/api/v1`: records of every entity, the live config's metadata, its OpenAPI
document and a docs page. Thin: every read and write goes through the records service.

`init_api(app, limiter)` mounts it on one config version's Flask app, with the API routes of
plugins (`crm_api_blueprints`) nested under it so they share its sign-in and JSON errors.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from app import i18n
from app.api import approvals, auth, convert, notifications, privacy, reports, resources, shares
from app.api import designer as config_designer
from app.api.metadata import describe, describe_entity
from app.api.serialize import to_json
from app.meta.access import ADMIN
from app.meta.types import freeze
from app.records import Conflict, ItemFailed, RecordError, ValidationFailed
from app.web.state import entity_or_404, meta, records, state

PREFIX = "/api/v1"


def init_api(app: Flask, limiter: Limiter) -> None:
    api = Blueprint("api", __name__, url_prefix=PREFIX)
    api.before_request(_sign_in)
    api.register_error_handler(RecordError, _record_error)
    api.register_error_handler(HTTPException, _http_error)
    api.add_url_rule("/", "index", _index)
    api.add_url_rule("/me", "me", _me)
    api.add_url_rule("/meta", "meta", _meta)
    api.add_url_rule("/meta/<entity>", "meta_entity", _meta_entity)
    api.add_url_rule("/openapi.json", "openapi", _openapi)
    nested = [resources.bp, privacy.bp, shares.bp, convert.bp, notifications.bp, approvals.bp,
              config_designer.bp, reports.bp]
    for blueprints in state_plugins(app).hook.crm_api_blueprints():
        nested += list(blueprints or ())
    csrf: CSRFProtect = app.extensions["csrf"]
    for bp in (api, *nested):
        if bp is not api:
            api.register_blueprint(bp)
        csrf.exempt(bp)  # the API checks the CSRF header itself for session callers
    # one budget per caller across every API route (a per-route limit would multiply it)
    limiter.shared_limit(app.extensions["crm"].ctx.settings.api_rate_limit, scope="api",
                         key_func=auth.rate_limit_key)(api)
    app.register_blueprint(api)


def state_plugins(app: Flask) -> Any:
    return app.extensions["crm"].plugins


def _sign_in() -> None:
    auth.authenticate()
    user = auth.api_user()
    if not request.headers.get("Accept-Language") and getattr(user, "locale", None):
        i18n.set_locale(str(user.locale))


def _index() -> Response:
    return jsonify({"openapi": f"{PREFIX}/openapi.json", "docs": f"{PREFIX}/docs",
                    "meta": f"{PREFIX}/meta", "version": state().version})


def _me() -> Response:
    user = auth.api_user()
    return jsonify({"id": int(user.id), "username": user.username,
                    "full_name": user.full_name, "roles": list(user.roles),
                    "locale": user.locale})


def _meta() -> Response:
    return jsonify(describe(meta(), records(), state().version))


def _meta_entity(entity: str) -> Response:
    return jsonify(describe_entity(records(), entity_or_404(entity)))


def _openapi() -> Response:
    """The document of this app's config version, built once per version (each version has
    its own app)."""
    from flask import current_app

    from app.api.approvals_openapi import approval_paths
    from app.api.openapi import document
    from app.api.openapi_extra import notification_paths

    # one document per set of roles: the entities they may read, without their hidden fields
    docs: dict[tuple[str, ...], Any] = current_app.extensions.setdefault("crm_openapi", {})
    rec = records()
    key = tuple(sorted(set(rec.actor.roles)))
    doc = docs.get(key)
    if doc is None:
        st = state()
        seen = meta()
        readable = {n: e for n, e in seen.entities.items() if rec.access().allows(n, "read")}
        doc = document(replace(seen, entities=freeze(readable)), rec, version=st.version,
                       title=st.ctx.settings.name, admin=ADMIN in key)
        doc["paths"].update(notification_paths())  # the caller's own, whatever their role
        doc["tags"].append({"name": "notifications", "description": "Your notifications"})
        from app.api.reports_openapi import report_paths, report_schemas

        doc["paths"].update(report_paths())  # which reports they may run: per request
        doc["components"]["schemas"].update(report_schemas())
        doc["tags"].append({"name": "reports", "description": "Reports and dashboards"})
        from app.api.comms_openapi import comms_paths, comms_schemas

        doc["paths"].update(comms_paths(rec, list(readable)))  # emails, overdue follow-ups
        doc["components"]["schemas"].update(comms_schemas())
        from app.api.modules_openapi import module_paths, module_schemas

        doc["paths"].update(module_paths(rec))  # targets, knowledge base search, duplicates
        doc["components"]["schemas"].update(module_schemas())
        doc["tags"].append({"name": "targets", "description": "Sales targets"})
        if seen.approvals:  # the caller's inbox, decisions, delegation (and statistics)
            doc["paths"].update(approval_paths(seen, key))
            doc["tags"].append({"name": "approvals", "description": "Approvals"})
        if ADMIN in key:  # the designer: drafts, versions, revert (administrators only)
            from app.api.designer_openapi import designer_paths, designer_schemas

            doc["paths"].update(designer_paths())
            doc["components"]["schemas"].update(designer_schemas())
            doc["tags"].append({"name": "config", "description": "Config designer"})
        docs[key] = doc
    return jsonify(doc)


# --- errors: always JSON -------------------------------------------------------------------
def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"status": status, "message": message, **extra}}


def _record_error(exc: RecordError) -> ResponseReturnValue:
    from app.web.errors import log_denial

    if exc.status == 403:
        log_denial(exc)
    extra: dict[str, Any] = {}
    inner = exc.error if isinstance(exc, ItemFailed) else exc
    if isinstance(exc, ItemFailed):
        extra["index"] = exc.index
    if isinstance(inner, ValidationFailed):
        extra["fields"] = inner.errors
    entity = str((request.view_args or {}).get("entity"))
    if isinstance(inner, Conflict) and entity in meta().entities:
        extra["current"] = to_json(records(), meta().entities[entity], inner.current)
    return error_body(exc.status, exc.message, **extra), exc.status


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    from app.web.errors import MESSAGES

    status = exc.code or 500
    message = exc.description if exc.description and exc.description != type(
        exc).description else i18n.gettext(MESSAGES.get(status, "Something went wrong."))
    response = exc.get_response()
    headers = {k: v for k, v in response.headers.items()
               if k in ("WWW-Authenticate", "Allow", "Retry-After")}
    return error_body(status, str(message)), status, headers

