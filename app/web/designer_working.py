"""What the permission and workflow pages of the designer edit: the config as the admin's
draft makes it (the live config plus the changes not applied yet), and the live YAML preview
of one more change on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import abort, jsonify, url_for
from flask.typing import ResponseReturnValue

from app.designer import history
from app.designer.changes import Change, ChangeError, apply_change
from app.designer.drafts import Draft
from app.i18n import _
from app.meta.files import ConfigFiles
from app.meta.types import Meta
from app.web import designer_work
from app.web.designer_formbits import yaml_text


@dataclass(frozen=True)
class Working:
    """The admin's working config: `meta` and `files` with their draft's changes made (the
    live config when the draft holds none, or when it does not load: `problem` says so)."""

    draft: Draft
    files: ConfigFiles
    meta: Meta
    problem: str | None = None


def working() -> Working:
    """The admin's working config for the permission and workflow pages: the draft's config
    (`designer_work.working`, made once per request), or the live one when it does not load."""
    found = designer_work.working()
    if found.meta is not None and found.problem is None:
        return Working(found.draft, found.files, found.meta)
    if found.live is None:
        abort(503)
    problem = _("Your draft does not load (%(why)s): this page shows the live config; fix "
                "the draft first.", why=found.problem or "")
    return Working(found.draft, found.files, found.live, problem)


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
