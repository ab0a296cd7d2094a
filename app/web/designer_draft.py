"""The draft page and what it does: the admin's changes in plain words, the YAML they write
(per file, as a diff), the plan for the database and its data, the config checks, a conflict
with what another admin published meanwhile, and applying it as a new config version; plus the
zip of the changed YAML (for read-only deployments) and the purge of hidden data.

The views are registered on the `designer` blueprint by `app.web.designer` (endpoints
designer.draft, designer.apply, designer.purge ...).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, session, url_for
from flask.typing import ResponseReturnValue

from app.designer import history
from app.designer.changes import ChangeError
from app.designer.service import HIDING, Conflict, Preview, Refused
from app.i18n import _
from app.migrate.publish import PublishError
from app.migrate.steps import DESTRUCTIVE, UNSUPPORTED, Step
from app.textnum import small_int
from app.web.designer_common import author, designer
from app.web.designer_fields import diff_lines
from app.web.state import state

#: the session key holding what the last apply wrote (shown once on the applied page)
APPLIED = "designer_applied"


def describe(change: Mapping[str, Any]) -> str:
    """A change in plain words, in the user's language."""
    op = change.get("op")
    ent = str(change.get("entity") or "")
    name = str(change.get("field") or "")
    if op == "field":
        return _("Set the field %(field)s of %(entity)s", field=name, entity=ent)
    if op == "remove_field":
        return _("Remove the field %(field)s of %(entity)s (its data is kept)", field=name,
                 entity=ent)
    if op == "add_entity":
        return _("Add the entity %(entity)s", entity=ent)
    if op == "entity":
        keys = ", ".join(sorted((change.get("values") or {}).keys()))
        return _("Change %(what)s of %(entity)s", what=keys, entity=ent)
    if op == "order_fields":
        return _("Reorder the fields of %(entity)s", entity=ent)
    if op == "layout":
        return _("Change the form layout of %(entity)s", entity=ent)
    if op == "permissions":
        return _("Permissions of %(role)s on %(entity)s", role=str(change.get("role")),
                 entity=ent)
    if op == "role":
        return _("Change the role %(role)s", role=str(change.get("role")))
    if op == "preset":
        if change.get("definition") is None:
            return _("Delete the preset %(name)s", name=str(change.get("preset")))
        return _("Set the preset %(name)s", name=str(change.get("preset")))
    if op == "workflow":
        return _("Change %(section)s: %(name)s", section=str(change.get("section")),
                 name=str(change.get("name")))
    if op == "file":
        return _("Edit the file %(file)s", file=str(change.get("file")))
    if op == "restore":
        return _("Bring back the files of version %(version)s", version=change.get("version"))
    return str(op)


def step_kind(step: Step) -> str:
    """How a plan step is shown: safe, hides, deletes or refused."""
    if step.safety == UNSUPPORTED:
        return "refused"
    if step.op in HIDING:
        return "hides"
    if step.safety == DESTRUCTIVE:
        return "deletes"
    return "safe"


def relative(path: str) -> str:
    """A config file's path relative to the folder of config.yaml (its place in the zip)."""
    base = state().ctx.settings.config_file.parent.resolve()
    try:
        return Path(path).resolve().relative_to(base).as_posix()
    except ValueError:
        return Path(path).name


def _history_url() -> str | None:
    from flask import current_app

    if "designer_history.index" in current_app.view_functions:
        return url_for("designer_history.index")
    return None


def draft() -> ResponseReturnValue:
    preview: Preview = designer().preview(author())
    plan = preview.plan
    return render_template(
        "designer/draft.html", preview=preview, describe=describe, step_kind=step_kind,
        diffs=[(d, relative(d.path), diff_lines(d.unified)) for d in preview.diffs],
        steps=plan.steps if plan is not None else [],
        confirm_needed=bool(preview.hides or preview.failed_checks),
        can_apply=not preview.blockers, error_path=_error_path, value_text=value_text,
        history_url=_history_url())


def value_text(value: Any, limit: int = 120) -> str:
    """A value of a config difference, short (— for none)."""
    import json

    if value is None:
        return "—"
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_path(file: str) -> str:
    return relative(file) if file.startswith("/") else file


def remove_change(index: int) -> ResponseReturnValue:
    try:
        designer().remove(author(), index)
    except ChangeError as exc:
        flash(_("The change could not be removed: %(why)s", why=str(exc)), "danger")
    else:
        flash(_("The change was taken out of your draft."), "success")
    return redirect(url_for("designer.draft"))


def discard() -> ResponseReturnValue:
    designer().discard(author())
    flash(_("Your draft was discarded."), "success")
    return redirect(url_for("designer.index"))


def rebase() -> ResponseReturnValue:
    found = designer().rebase(author())
    flash(_("Your changes now start from version %(version)s. Check the preview again "
            "before you apply them.", version=found.base_version), "info")
    return redirect(url_for("designer.draft"))


def apply() -> ResponseReturnValue:
    message = (request.form.get("message") or "").strip()[:500] or None
    confirm = request.form.get("confirm") == "yes"
    try:
        done = designer().apply(author(), confirm=confirm, message=message)
    except Conflict:
        flash(_("Another administrator published a new version meanwhile: review it below, "
                "then re-apply your changes on it."), "warning")
    except Refused as exc:
        flash(_("Not applied: %(why)s", why=str(exc)), "danger")
    except PublishError as exc:
        flash(_("The database refused the change, nothing was applied: %(why)s",
                why=str(exc)), "danger")
    else:
        session[APPLIED] = {"version": done.version, "written": [relative(p) for p in
                                                                 done.written],
                            "skipped": [[relative(p), why] for p, why in done.skipped]}
        return redirect(url_for("designer.applied", version=done.version or 0))
    return redirect(url_for("designer.draft"))


def applied(version: int) -> ResponseReturnValue:
    with state().ctx.engine.connect() as conn:
        found = history.version(conn, version)
    if found is None:
        abort(404)
    written: dict[str, Any] = session.get(APPLIED) or {}
    if written.get("version") != version:
        written = {}
    else:
        session.pop(APPLIED, None)
    return render_template("designer/applied.html", version=found, written=written,
                           history_url=_history_url(),
                           read_only=designer().read_only_reason())


def download() -> ResponseReturnValue:
    """The YAML files the draft changes, in a zip, with their paths under the config folder
    (files the draft deletes are listed in DELETED.txt)."""
    preview = designer().preview(author())
    if preview.files is None or not preview.diffs:
        flash(_("Your draft changes no file yet."), "info")
        return redirect(url_for("designer.draft"))
    buffer = io.BytesIO()
    deleted = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for diff in preview.diffs:
            if diff.after is None:
                deleted.append(relative(diff.path))
            else:
                out.writestr(relative(diff.path), diff.after)
        if deleted:
            out.writestr("DELETED.txt", "Delete these files:\n" + "\n".join(deleted) + "\n")
    buffer.seek(0)
    base = preview.draft.base_version or 0
    return send_file(buffer, mimetype="application/zip", as_attachment=True,
                     download_name=f"config-draft-from-v{base}.zip")


def purge() -> ResponseReturnValue:
    service = designer()
    if request.method == "POST":
        try:
            seen = small_int(request.form.get("version", ""))
            if seen is None:  # the form always says which plan it showed
                raise Conflict(None, None, [], [])
            done = service.purge(author(), confirm=request.form.get("confirm") == "yes",
                                 seen_version=seen)
        except Conflict:
            flash(_("The config changed since this page was shown: nothing was purged. Check "
                    "the list again."), "warning")
        except Refused as exc:
            flash(_("Not purged: %(why)s", why=str(exc)), "danger")
        except PublishError as exc:
            flash(_("The database refused the purge, nothing was deleted: %(why)s",
                    why=str(exc)), "danger")
        else:
            flash(_("Purged: version %(version)s no longer has the hidden data.",
                    version=done.version), "success")
        return redirect(url_for("designer.purge"))
    steps: list[Step] = []
    problem = None
    version = None
    try:
        plan = service.purge_plan()
        steps, version = plan.steps, plan.base_version
    except Refused as exc:
        problem = str(exc)
    return render_template("designer/purge.html", steps=steps, problem=problem,
                           step_kind=step_kind, version=version)
