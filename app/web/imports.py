"""Import pages: `/imports/` (history, undo), `/imports/new` (upload), `/imports/<id>/map`
(columns -> fields, options, templates), `/imports/<id>` (dry run and run results, errors,
duplicates, progress polled from `/imports/<id>/status.json`), `/imports/<id>/errors.csv` and
`/imports/<id>/undo`. Thin: app/imports does the work, as the signed-in user."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.i18n import _, get_locale
from app.imports import (
    FileProblem,
    ImportOptions,
    SetupProblem,
    configure,
    jobs,
    may_import,
    start,
    store_of,
    undo,
    upload,
)
from app.imports import mapping as import_mapping
from app.imports.options import DEDUPE_MATCHES, DEDUPE_MODES, ON_DUPLICATE
from app.model.imports import DUPLICATE, ERROR
from app.records.attachments import AttachmentStore
from app.records.errors import RecordError
from app.web.state import actor, records, state

bp = Blueprint("imports", __name__)
#: errors and duplicates shown on the result page (all of them are in the CSV)
SHOWN = 100


def store() -> AttachmentStore:
    st = state()
    return store_of(st.ctx.engine, st.ctx.settings.attachments_dir)


def importable() -> list[Any]:
    """The entities the signed-in user may import into."""
    rs = records()
    return [e for e in rs.meta if rs.access().allows(e.name, "import")]


def job_of(import_id: int) -> jobs.ImportJob:
    """The import, if the signed-in user may see it (404 else)."""
    return jobs.get(records().engine, import_id, actor())


@bp.app_template_global()
def may_import_any() -> bool:
    """For the user menu, which every page shows (also the "no config yet" page)."""
    return state().models is not None and bool(importable())


@bp.get("/imports/")
@login_required
def index() -> ResponseReturnValue:
    found = jobs.history(records().engine, actor())
    return render_template("imports/index.html", found=found, entities=records().meta.entities,
                           may_new=bool(importable()))


@bp.route("/imports/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    choices = importable()
    if not choices:
        abort(403)
    entity = request.values.get("entity") or ""
    error = None
    if request.method == "POST":
        upload_file = request.files.get("file")
        try:
            if entity not in {e.name for e in choices}:
                may_import(records(), entity, actor())  # 404 / 403 with the reason
            if upload_file is None or not upload_file.filename:
                raise FileProblem(_("Choose a CSV or Excel (.xlsx) file."))
            job = upload(records(), store(), actor(), entity, upload_file.filename,
                         upload_file.stream)
        except (FileProblem, SetupProblem) as exc:
            error = exc.message
        else:
            return redirect(f"/imports/{job.id}/map", 303)
    status = 400 if error else 200
    return render_template("imports/new.html", choices=choices, entity=entity,
                           error=error), status


def _form_options(job: jobs.ImportJob) -> tuple[dict[str, Any], ImportOptions]:
    """The mapping and options sent by the mapping form."""
    form = request.form
    fields = {column: (form.get(f"col-{index}") or None)
              for index, column in enumerate(job.columns)}
    keys = {name.removeprefix("key-"): value for name, value in form.items()
            if name.startswith("key-") and value}
    header_row = form.get("header_row", "").strip()
    options = ImportOptions.from_json({
        "date_order": form.get("date_order") or None,
        "dedupe": form.getlist("dedupe"),
        "dedupe_mode": form.get("dedupe_mode") or "normalised",
        "dedupe_match": form.get("dedupe_match") or "any",
        "on_duplicate": form.get("on_duplicate") or "skip",
        "upsert_key": form.get("upsert_key") or None,
        "lookup_keys": keys,
        "sheet": form.get("sheet") or job.options_obj.sheet,
        "header_row": int(header_row) if header_row.isdigit() and int(header_row) > 0
        else job.options_obj.header_row,
    })
    return fields, options


@bp.route("/imports/<int:import_id>/map", methods=["GET", "POST"])
@login_required
def map_columns(import_id: int) -> ResponseReturnValue:
    job = job_of(import_id)
    rs, who = records(), actor()
    may_import(rs, job.entity, who)
    error = None
    fields, options = job.fields, job.options_obj
    template_name = request.args.get("template")
    if template_name and request.method == "GET":
        with rs.engine.connect() as conn:
            try:
                template = import_mapping.load_template(conn, job.entity, template_name, who.id)
            except SetupProblem as exc:
                error = exc.message
            else:
                found = import_mapping.targets(rs, job.entity, who)
                fields = import_mapping.apply_template(job.columns, template, found)
                options = ImportOptions.from_json({**options.to_json(), **{
                    k: v for k, v in template["options"].items() if k in (
                        "date_order", "dedupe", "dedupe_mode", "dedupe_match", "on_duplicate",
                        "upsert_key", "lookup_keys")}})
    if request.method == "POST":
        try:
            fields, options = _form_options(job)
            job = configure(rs, store(), who, import_id, fields, options)
            save_as = request.form.get("save_template", "").strip()
            if save_as:
                with rs.engine.begin() as conn:
                    import_mapping.save_template(conn, save_as, job.entity, job.fields,
                                                 job.options_obj, who.id)
                flash(_("The mapping was saved as the template %(name)s.", name=save_as),
                      "success")
            if request.form.get("action") == "reread":
                return redirect(f"/imports/{import_id}/map", 303)
            start(rs, store(), who, import_id, dry_run=True, queue=state().ctx.queue)
        except (SetupProblem, FileProblem) as exc:
            error = exc.message
        else:
            return redirect(f"/imports/{import_id}", 303)
    return _mapping_page(job, fields, options, error)


def _mapping_page(job: jobs.ImportJob, fields: dict[str, Any], options: ImportOptions,
                  error: str | None) -> ResponseReturnValue:
    rs, who = records(), actor()
    found = import_mapping.targets(rs, job.entity, who)
    with rs.engine.connect() as conn:
        saved = import_mapping.templates(conn, job.entity, who.id)
    columns = [(index, column, fields.get(column), [
        sample[index] for sample in job.samples if index < len(sample) and sample[index]])
        for index, column in enumerate(job.columns)]
    missing = import_mapping.missing_required(rs, job.entity, [f for f in fields.values() if f])
    e = rs.entity(job.entity)
    return render_template(
        "imports/map.html", job=job, e=e, columns=columns, targets=list(found.values()),
        references=[t for t in found.values() if t.is_reference], options=options,
        templates=saved, error=error, missing=missing, on_duplicate=ON_DUPLICATE,
        dedupe_modes=DEDUPE_MODES, dedupe_matches=DEDUPE_MATCHES,
        sheets=(job.mapping or {}).get("sheets") or [], key_label=_key_label,
    ), 400 if error else 200


def _key_label(target: import_mapping.Target, key: str) -> str:
    """A lookup key choice in the user's language."""
    if key == "id":
        return _("Record id")
    if target.to == "user":
        return {"username": _("Username"), "full_name": _("Full name"),
                "email": _("Email")}.get(key, key)
    f = records().entity(str(target.to)).fields.get(key)
    return f.label_for(get_locale()) if f is not None else key


@bp.get("/imports/<int:import_id>")
@login_required
def show(import_id: int) -> ResponseReturnValue:
    job = job_of(import_id)
    engine = records().engine
    e = records().meta.entities.get(job.entity)
    return render_template(
        "imports/show.html", job=job, e=e,
        errors=jobs.problems(engine, import_id, ERROR, limit=SHOWN),
        duplicates=jobs.problems(engine, import_id, DUPLICATE, limit=SHOWN), shown=SHOWN,
        busy=job.status in ("validating", "running"))


@bp.get("/imports/<int:import_id>/status.json")
@login_required
def status(import_id: int) -> ResponseReturnValue:
    return jsonify(job_of(import_id).status_json())


@bp.get("/imports/<int:import_id>/errors.csv")
@login_required
def errors_csv(import_id: int) -> Response:
    job = job_of(import_id)
    name = f"import-{job.id}-errors.csv"
    return Response(jobs.report_csv(records().engine, job.id), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


@bp.post("/imports/<int:import_id>/run")
@login_required
def run(import_id: int) -> ResponseReturnValue:
    job_of(import_id)
    dry_run = request.form.get("dry_run") == "1"
    try:
        start(records(), store(), actor(), import_id, dry_run=dry_run, queue=state().ctx.queue)
    except SetupProblem as exc:
        flash(exc.message, "danger")
    return redirect(f"/imports/{import_id}", 303)


@bp.route("/imports/<int:import_id>/undo", methods=["GET", "POST"])
@login_required
def undo_page(import_id: int) -> ResponseReturnValue:
    job = job_of(import_id)
    may_import(records(), job.entity, actor())
    if request.method == "POST" and request.form.get("confirm") == "1":
        try:
            done = undo(records(), actor(), import_id)
        except RecordError as exc:
            flash(exc.message, "danger")
            return redirect(f"/imports/{import_id}", 303)
        flash((done.undo_report or [_("Undone.")])[0], "success")
        return redirect(f"/imports/{import_id}", 303)
    if not job.written:
        flash(_("Only an import that wrote records can be undone."), "warning")
        return redirect(f"/imports/{import_id}", 303)
    return render_template("imports/undo.html", job=job,
                           e=records().meta.entities.get(job.entity))
