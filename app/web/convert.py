"""Converting a record (a qualified lead, an accepted quote) from its detail page: a page
showing what would be created or reused (and how many lines each new record gets), with the
optional targets to untick and their names to edit, and its POST (CSRF) doing it through
app/workflow/convert.py, then going to the first record made."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.i18n import _, get_locale
from app.records import RecordError, ValidationFailed
from app.web.detail import check_id, detail_url, record_title
from app.web.state import actor, entity_or_404, records
from app.workflow.convert import (
    ConversionPlan,
    conversion,
    conversion_label,
    conversions_of,
    plan_conversion,
    refusal,
    run_conversion,
)

bp = Blueprint("convert", __name__)


@bp.app_template_global()
def conversion_buttons(entity: str, rec: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, label) of the conversions the detail page of `rec` offers: those of its entity
    whose `when` holds, when the user may edit it and it was not converted yet."""
    rs = records()
    found = [c for c in conversions_of(rs, entity) if refusal(rs, c, rec) is None]
    if not found or not rs.permits(entity, int(rec["id"]), "edit"):
        return []
    return [(c.name, conversion_label(c)) for c in found]


def _title_field(rs: Any, entity: str) -> str | None:
    """The target's title field when the user may type it (the name offered for editing)."""
    e = rs.entity(entity)
    f = e.fields.get(e.title or "")
    return f.name if f is not None and f.type == "string" else None


def _form(plan: ConversionPlan) -> tuple[dict[str, bool], dict[str, dict[str, Any]]]:
    """The include ticks and the edited names of the POSTed form."""
    include: dict[str, bool] = {}
    overrides: dict[str, dict[str, Any]] = {}
    rs = records()
    for t in plan.targets:
        if t.optional and t.matched is None:  # a matched record is linked, never left out
            include[t.name] = request.form.get(f"include_{t.name}") == "1"
        title = _title_field(rs, t.entity)
        key = f"title_{t.name}"
        if t.matched is None and title is not None and key in request.form:
            value = request.form[key].strip()
            if value != str(t.values.get(title) or ""):
                overrides[t.name] = {title: value}
    return include, overrides


@bp.route("/<entity>/<int:record_id>/convert/<name>", methods=["GET", "POST"])
@login_required
def convert_page(entity: str, record_id: int, name: str) -> ResponseReturnValue:
    check_id(record_id)
    e = entity_or_404(entity)
    rs = records()
    conv = conversion(rs, name, entity)
    plan = plan_conversion(rs, name, record_id, actor())
    status = 200
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        include, overrides = _form(plan)
        try:
            done = run_conversion(rs, name, record_id, actor(), include=include,
                                  overrides=overrides, entity=entity)
            ids = done.ids
        except ValidationFailed as exc:
            errors, status = exc.errors, exc.status
            flash(exc.message, "danger")
        except RecordError as exc:
            if exc.status in (403, 404):
                raise
            flash(exc.message, "danger")
            status = exc.status
        else:
            first = next((t for t in conv.targets if ids.get(t.name) is not None), None)
            flash(_("%(title)s was converted.", title=record_title(e, plan.record)), "success")
            for counts in done.lines.values():
                for copies, n in counts.items():
                    flash(_("%(entities)s copied: %(count)s", count=n,
                            entities=rs.entity(copies).plural_for(get_locale())), "success")
            if first is None:
                return redirect(detail_url(entity, record_id), 303)
            return redirect(detail_url(first.entity, int(ids[first.name] or 0)), 303)
    titles = {t.name: _title_field(rs, t.entity) for t in plan.targets}
    entities = {t.name: rs.entity(t.entity) for t in plan.targets}
    return render_template("convert/convert.html", e=e, rec=plan.record, plan=plan,
                           label_text=conversion_label(conv), titles=titles, errors=errors,
                           entities=entities, title=record_title(e, plan.record)), status
