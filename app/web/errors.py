"""Error pages: a sentence in the user's language, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.i18n import N_, gettext
from app.records import Locked, RecordError

log = logging.getLogger(__name__)

MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("You do not have permission to do this."),
    404: N_("This page or record does not exist."),
    405: N_("This action is not allowed here."),
    409: N_("This record was changed by someone else."),
    413: N_("The upload is too large."),
    422: N_("Some values are not valid."),
    423: N_("This record is locked while it waits for an approval."),
    429: N_("Too many attempts. Wait a minute and try again."),
    503: N_("No configuration is live yet: an administrator must run `crm migrate`."),
}


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" or request.path.startswith("/api/")


def render_error(status: int, detail: str | None = None) -> ResponseReturnValue:
    message = gettext(MESSAGES.get(status, N_("Something went wrong.")))
    if wants_json():
        return {"error": {"status": status, "message": detail or message}}, status
    return render_template("error.html", status=status, message=message, detail=detail), status


def log_denial(exc: RecordError) -> None:
    """A refusal of the permission layer goes to the security log (at most once a minute for
    the same user, address and record)."""
    from app.web.seclog import denied

    args = request.view_args or {}
    record_id = args.get("record_id", args.get("id"))
    denied(entity=args.get("entity"), record_id=record_id if isinstance(record_id, int) else None,
           action=request.method, reason=exc.message)


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        return render_error(400, gettext("The form expired or was sent from another site. "
                                         "Reload the page and try again."))

    @app.errorhandler(Locked)
    def locked(exc: Locked) -> ResponseReturnValue:
        from app.web.approvals_lock import locked_response

        page = locked_response(exc, wants_json())
        return page if page is not None else render_error(exc.status, exc.message)

    @app.errorhandler(RecordError)
    def record_error(exc: RecordError) -> ResponseReturnValue:
        if exc.status == 403:
            log_denial(exc)
        return render_error(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        return render_error(exc.code or 500)

    if app.testing:  # tests see the exception itself
        return

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return render_error(500, gettext("An unexpected error happened; it was logged. "
                                         "Nothing was saved."))
