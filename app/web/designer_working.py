"""What the permission and workflow pages of the designer edit: the config as the admin's
draft makes it (the live config plus the changes not applied yet), and the live YAML preview
of one more change on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, jsonify, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.designer import history
from app.designer.changes import Change, ChangeError, apply_change
from app.designer.drafts import Draft
from app.i18n import _
from app.meta.errors import ConfigErrors
from app.meta.files import ConfigFiles
from app.meta.types import Meta
from app.web.designer_common import admin_only, author, designer
from app.web.designer_formbits import yaml_text
from app.web.state import state


@dataclass(frozen=True)
class Working:
    """The admin's working config: `meta` and `files` with their draft's changes made (the
    live config when the draft holds none, or when it does not load: `problem` says so)."""

    draft: Draft
    files: ConfigFiles
    meta: Meta
    problem: str | None = None


def guard() -> ResponseReturnValue | None:
    """Before every request of a designer blueprint: sign in first, then admins only (403)."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    admin_only()
    return None


def working() -> Working:
    d = designer()
    draft = d.draft(author())
    live = state().meta
    with d.engine.connect() as conn:
        base = d.files_of(conn, draft.base_version)
        if not draft.changes:
            if live is None:
                abort(503)
            return Working(draft, base, live)
        try:
            _base, files = d.candidate(conn, draft)
        except ChangeError as exc:
            return _fallback(draft, base, live, str(exc))
    try:
        meta = state().ctx.yaml_meta(files)
    except ConfigErrors as exc:
        return _fallback(draft, files, live, _("%(n)s error(s) in the config", n=len(exc.errors)))
    return Working(draft, files, meta)


def _fallback(draft: Draft, files: ConfigFiles, live: Meta | None, why: str) -> Working:
    if live is None:
        abort(503)
    problem = _("Your draft does not load (%(why)s): this page shows the live config; fix "
                "the draft first.", why=why)
    return Working(draft, files, live, problem)


def draft_url() -> str:
    """Where a saved change sends the admin: their draft."""
    return url_for("designer.draft")


def preview_response(change: Change | None, snippet: Mapping[str, Any] | None,
                     errors: Mapping[str, Any] | None = None) -> ResponseReturnValue:
    """The live YAML preview of a form: `snippet` (what will be written, as YAML) and the diff
    of the files the change makes on the admin's draft; with `errors`, those instead."""
    if errors:
        return jsonify({"ok": False, "errors": {k: [str(m) for m in v] if isinstance(
            v, list) else [str(v)] for k, v in errors.items()}})
    out: dict[str, Any] = {"ok": True, "yaml": yaml_text(snippet) if snippet else "",
                           "diff": ""}
    if change is not None:
        files = working().files
        try:
            after = apply_change(files, change)
        except ChangeError as exc:
            return jsonify({"ok": False, "errors": {"": [str(exc)]}})
        out["diff"] = "\n".join(d.unified for d in history.file_diffs(
            files, after, label_a="draft", label_b="with this change"))
    return jsonify(out)
