"""The page /tools/cn-ids (check a number in a form) and the API route
POST /api/v1/cn-ids/check with `{"value": "..."}` (the API blueprint mounts it under /api/v1).
Both take the number in the body: personal ID numbers stay out of URLs and access logs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.i18n import N_, _

from . import checks

#: type name -> its name for people (translated where shown)
KINDS: dict[str, str] = {
    "cn_resident_id": N_("Resident ID"),
    "cn_uscc": N_("Unified social credit code"),
}
#: the longest value checked (longer input is refused, not cut)
MAX_INPUT = 64

page = Blueprint("cn_ids", __name__, template_folder="templates")
api = Blueprint("cn_ids_api", __name__, url_prefix="/cn-ids")


def result(value: str) -> dict[str, Any]:
    """What the page, the API and the command say about one value."""
    number = checks.normalize(value)
    found = checks.check(number)
    born = checks.birth_date(number) if found["cn_resident_id"] is None else None
    return {
        "value": number,
        "valid": any(problem is None for problem in found.values()),
        "checks": {kind: {"valid": problem is None, "problem": problem}
                   for kind, problem in found.items()},
        "birth_date": born.isoformat() if born else None,
    }


@page.route("/tools/cn-ids", methods=["GET", "POST"])
@login_required
def check_page() -> ResponseReturnValue:
    # POST: personal numbers stay out of URLs and server logs
    value = request.form.get("value", "") if request.method == "POST" else ""
    error = None
    checked = None
    if request.method == "POST":
        if not value.strip():
            error = _("Type a resident ID or a unified social credit code.")
        elif len(value) > MAX_INPUT:
            error = _("Use at most %(limit)s characters (this has %(length)s).",
                      limit=MAX_INPUT, length=len(value))
        else:
            checked = result(value)
    status = 422 if error else 200
    return render_template("cn_ids/check.html", value=value, error=error, checked=checked,
                           kinds=KINDS), status


@api.post("/check")
def check_api() -> ResponseReturnValue:
    body = request.get_json(silent=True) if request.is_json else None
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value.strip():
        abort(400, description=_('Send the number to check as JSON: {"value": "..."}.'))
    if len(value) > MAX_INPUT:
        abort(400, description=_("Use at most %(limit)s characters (this has %(length)s).",
                                 limit=MAX_INPUT, length=len(value)))
    return jsonify(result(value))
