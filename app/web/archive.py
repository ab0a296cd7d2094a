"""The Archive page (administrators): choose an entity the config lets be archived and an age,
preview how many records that archives (and the first few), archive them (CSRF), follow a run
on the task queue, restore a run. On an archived record's page, an "Archived on ..." card
(crm_record_panels) with "Unarchive" for administrators; the lists' "Show archived" toggle asks
`archive_toggle`. Thin: app/archive does the work."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app.archive import (
    ArchiveError,
    declared,
    parse_age,
    preview,
    restore_record,
    restore_run,
    run_of,
    runs,
    start,
)
from app.i18n import N_, _, get_locale
from app.model.archive import DONE, FAILED, QUEUED, RESTORED, RUNNING
from app.plugins import hookimpl
from app.records import related as rel
from app.records.archived import any_archived, info
from app.web.detail import check_id, detail_url
from app.web.recordext import RecordPanel
from app.web.seclog import who
from app.web.state import actor, records, state

bp = Blueprint("archive", __name__)

UNITS = ("d", "w", "m", "y")
STATUS_LABELS = {QUEUED: N_("Queued"), RUNNING: N_("Running"), DONE: N_("Done"),
                 FAILED: N_("Failed"), RESTORED: N_("Restored")}


@bp.app_template_global()
def archive_status(status: str) -> str:
    """A run's status in the user's language."""
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def _admin() -> None:
    if not getattr(current_user, "is_admin", False):
        abort(403)


@bp.app_template_global()
def archive_toggle(entity: str) -> bool:
    """Whether a list of `entity` offers "Show archived" (administrators; an entity the config
    lets be archived, or one that has archived records)."""
    if not getattr(current_user, "is_admin", False):
        return False
    rs = records()
    return entity in declared(rs) or any_archived(rs, entity)


@hookimpl
def crm_record_panels(entity: str, record: dict[str, Any]) -> list[RecordPanel] | None:
    rs = records()
    found = info(rs, entity, int(record["id"]))
    if found is None:
        return None
    names = rel.user_names(rs.engine, [found.archived_by_id])
    return [RecordPanel("record-archived", _("Archived"), "archive/_panel.html", {
        "info": found, "by": names.get(found.archived_by_id or 0),
        "admin": bool(getattr(current_user, "is_admin", False)),
        "restore_url": f"/archive/record/{entity}/{int(record['id'])}/restore"}, order=0)]


def _age_text(args: Any) -> str:
    amount = str(args.get("amount", "")).strip()
    unit = str(args.get("unit", "")).strip()
    return f"{amount}{unit}" if amount else ""


@bp.route("/archive/")
@login_required
def index() -> ResponseReturnValue:
    _admin()
    rs = records()
    entities = [(name, rs.entity(name)) for name in declared(rs)]
    entity = request.args.get("entity", "").strip()
    age_text = _age_text(request.args)
    found = None
    error = None
    if entity and age_text:
        try:
            found = preview(rs, actor(), entity, parse_age(age_text))
        except ArchiveError as exc:
            error = exc.message
    status = 400 if error else 200
    return render_template("archive/index.html", entities=entities, entity=entity,
                           amount=request.args.get("amount", ""),
                           unit=request.args.get("unit", "m"), units=UNITS, preview=found,
                           error=error, runs=runs(rs.engine, 30), active=(QUEUED, RUNNING),
                           age_text=age_text, entity_labels={
                               e.name: e.plural_for(get_locale()) for e in rs.meta}), status


@bp.route("/archive/run", methods=["POST"])
@login_required
def run() -> ResponseReturnValue:
    _admin()
    rs = records()
    entity = request.form.get("entity", "").strip()
    try:
        run_id = start(rs, actor(), entity, parse_age(request.form.get("age", "")),
                       queue=state().ctx.queue, who=who())
    except ArchiveError as exc:
        flash(exc.message, "danger")
        return redirect(f"/archive/?entity={entity}", 303)
    return redirect(f"/archive/runs/{run_id}", 303)


@bp.route("/archive/runs/<int:run_id>")
@login_required
def show_run(run_id: int) -> ResponseReturnValue:
    _admin()
    check_id(run_id)
    found = run_of(state().ctx.engine, run_id)
    names = rel.user_names(state().ctx.engine, [found["created_by_id"],
                                                found["restored_by_id"]])
    rs = records()
    e = rs.meta.entities.get(found["entity"])
    return render_template("archive/run.html", run=found, names=names, e=e,
                           active=found["status"] in (QUEUED, RUNNING))


@bp.route("/archive/runs/<int:run_id>/restore", methods=["POST"])
@login_required
def restore(run_id: int) -> ResponseReturnValue:
    _admin()
    check_id(run_id)
    try:
        n = restore_run(records(), actor(), run_id, who=who())
    except ArchiveError as exc:
        flash(exc.message, "danger")
    else:
        flash(_("%(n)s records were restored.", n=n), "success")
    return redirect(f"/archive/runs/{run_id}", 303)


@bp.route("/archive/record/<entity>/<int:record_id>/restore", methods=["POST"])
@login_required
def restore_one(entity: str, record_id: int) -> ResponseReturnValue:
    _admin()
    check_id(record_id)
    if entity not in records().meta.entities:
        abort(404)
    restore_record(records(), actor(), entity, record_id, who=who())
    flash(_("The record is no longer archived."), "success")
    return redirect(detail_url(entity, record_id), 303)
