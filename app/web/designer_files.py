"""The designer's YAML tab: the deployment's own config files as text, for what the forms do not
cover (rules, list views, automations, comments). Saving a file adds a `file` change to the
admin's draft, previewed and applied like any other: the loader's errors (with line numbers),
the plan and the config checks show on the draft page before anything is published. Files of
the base pack are shown read-only: an overlay changes them by adding its own file.

Blueprint "designer_files" under /designer/files; administrators only.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.i18n import _
from app.meta.files import KINDS, FileKey, valid_name
from app.web.designer_common import designer_context
from app.web.designer_draft import relative
from app.web.designer_work import add, guard, working
from app.web.designer_working import draft_url

bp = Blueprint("designer_files", __name__, url_prefix="/designer/files")
bp.before_request(guard)
bp.context_processor(designer_context)

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,80}\.ya?ml$")
#: the largest file the YAML tab accepts (the config's files are a few kilobytes)
MAX_TEXT = 512 * 1024


def _key(kind: str, layer: int, name: str) -> FileKey:
    if kind not in KINDS or not valid_name(name):
        abort(404)
    return FileKey(kind, layer, name)


@bp.get("/")
def index() -> ResponseReturnValue:
    files = working().files
    rows = []
    for kind in KINDS:
        top = files.top(kind)
        for key in files.keys(kind):
            rows.append({"key": key, "own": key.layer == top, "lines":
                         files.texts[key].count("\n") + 1,
                         "path": relative(str(files.path_of(key)))})
    return render_template("designer/files.html", rows=rows, kinds=KINDS,
                           tops={k: files.top(k) for k in KINDS})


@bp.route("/<kind>/<int:layer>/<name>", methods=["GET", "POST"])
def edit(kind: str, layer: int, name: str) -> ResponseReturnValue:
    files = working().files
    key = _key(kind, layer, name)
    own = layer == files.top(kind)
    exists = key in files.texts
    creating = own and (request.args.get("new") == "1" or request.method == "POST")
    if not exists and not creating:
        abort(404)
    text = files.texts.get(key, "")
    problem = None
    if request.method == "POST":
        if not own:
            abort(403)
        if request.form.get("delete") == "1":
            new_text: str | None = None
        else:
            new_text = request.form.get("text", "").replace("\r\n", "\n")
            if len(new_text) > MAX_TEXT:
                problem = _("The file is too large (at most %(n)s KB).", n=MAX_TEXT // 1024)
            elif new_text == text and exists:
                problem = _("Nothing changed.")
        if problem is None and add({"op": "file", "file": str(key), "text": new_text}):
            return redirect(draft_url())
        text = new_text if new_text is not None else text
    return render_template("designer/file_edit.html", key=key, own=own, exists=exists,
                           text=text, problem=problem, path=relative(str(files.path_of(key))))


@bp.post("/new")
def new() -> ResponseReturnValue:
    kind = request.form.get("kind", "")
    name = request.form.get("name", "").strip()
    if name and not name.endswith((".yaml", ".yml")):
        name += ".yaml"
    files = working().files
    top = files.top(kind) if kind in KINDS else None
    if top is None or not valid_name(name) or not NAME.match(name):
        flash(_("Give the file a plain name like projects.yaml (letters, digits, _ and -), "
                "in schemas or workflows."), "danger")
        return redirect(url_for(".index"))
    if FileKey(kind, top, name) in files.texts:
        return redirect(url_for(".edit", kind=kind, layer=top, name=name))
    return redirect(url_for(".edit", kind=kind, layer=top, name=name, new=1))
