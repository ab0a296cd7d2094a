"""The designer's history of the config: every published version (who, when, why, what the
plan did), the difference between any two versions (by meaning, and the YAML files' text),
and revert: a draft that brings a version's files back, previewed and applied like any
other change (its plan says what it hides; the data stays).

- `/designer/history`: versions, newest first, 50 a page;
- `/designer/history/diff?a=N&b=M`: what changed from version N to version M;
- `POST /designer/history/<N>/revert`: the admin's draft becomes "restore version N".
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.designer import history
from app.designer.changes import ChangeError
from app.i18n import _
from app.migrate.publish import current_version_id
from app.textnum import SQL_INT_MAX, small_int
from app.web.designer_common import author, designer, designer_context
from app.web.designer_draft import relative
from app.web.designer_formbits import yaml_text
from app.web.designer_work import guard
from app.web.designer_working import draft_url

bp = Blueprint("designer_history", __name__, url_prefix="/designer")
bp.context_processor(designer_context)
bp.before_request(guard)

PAGE = 50
#: longest value shown in a difference (the file diff has the rest)
LONGEST = 300


def _int_arg(name: str) -> int:
    value = small_int(request.args.get(name, ""))
    if value is None:
        abort(404)
    return value


def short(value: Any) -> str:
    """A value of a difference on one line."""
    if value is None:
        return "—"
    found = value if isinstance(value, str) else yaml_text(value).strip().replace("\n", " ")
    return found if len(found) <= LONGEST else found[:LONGEST - 1] + "…"


@bp.get("/history")
@login_required
def index() -> ResponseReturnValue:
    page = _int_arg("page") if "page" in request.args else 1
    if page < 1:
        abort(404)
    with designer().engine.connect() as conn:
        found = history.versions(conn, limit=PAGE + 1, offset=(page - 1) * PAGE)
        live = current_version_id(conn)
    if page > 1 and not found:
        abort(404)
    shown = found[:PAGE]
    return render_template(
        "designer/history.html", versions=shown, live=live, page=page,
        more=len(found) > PAGE,
        pick_a=shown[1].id if len(shown) > 1 else (shown[0].id if shown else None),
        pick_b=shown[0].id if shown else None)


@bp.get("/history/diff")
@login_required
def diff() -> ResponseReturnValue:
    a, b = _int_arg("a"), _int_arg("b")
    d = designer()
    with d.engine.connect() as conn:
        old, new = history.version(conn, a), history.version(conn, b)
        if old is None or new is None:
            abort(404)
        differences = history.compare(history.snapshot(conn, a), history.snapshot(conn, b))
        files = None
        if old.has_files and new.has_files:
            files = history.file_diffs(d.files_of(conn, a), d.files_of(conn, b),
                                       label_a=f"v{a}", label_b=f"v{b}")
    shown = {f.path: relative(f.path) for f in files or ()}  # never the server's own paths
    return render_template("designer/history_diff.html", old=old, new=new,
                           differences=differences, files=files, short=short, shown=shown)


@bp.post("/history/<int:version>/revert")
@login_required
def revert(version: int) -> ResponseReturnValue:
    if version > SQL_INT_MAX:
        abort(404)
    d = designer()
    with d.engine.connect() as conn:
        found = history.version(conn, version)
    if found is None:
        abort(404)
    draft = d.draft(author())
    if draft.changes and not request.form.get("replace"):
        return render_template("designer/history_revert.html", version=found, draft=draft)
    try:
        d.revert_to(author(), version)
    except ChangeError as exc:
        flash(_("Version %(v)s cannot be restored: %(why)s", v=version, why=str(exc)), "danger")
        return redirect(url_for(".index"))
    flash(_("Your draft now restores version %(v)s. Check its plan (what it hides or brings "
            "back), then apply it.", v=version), "success")
    return redirect(draft_url())
