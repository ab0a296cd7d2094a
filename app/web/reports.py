"""Report pages: `/reports/` (the reports the user may run), `/reports/<ref>` (chart, table with
totals, drill-down links, exports, "Add to dashboard"), `/reports/<ref>/drill` (to the entity's
list filtered to one result row), and the builder `/reports/new`, `/reports/<ref>/edit`.

Reports run as the signed-in user through the records service (`app.reports.compute`): records
they may not read are not counted and fields hidden from them cannot be used. Only the owner of
a user report (or an admin) may change or delete it; config reports are changed in
`reports/*.yaml` (the builder copies them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app.i18n import _, get_locale
from app.meta.types import label_text
from app.records import RecordError
from app.records.errors import Forbidden, NotFound
from app.reports import store
from app.reports.compute import drill_params, parse_keys
from app.reports.types import ReportDef, Widget
from app.textnum import small_int
from app.web import reports_builder as builder
from app.web.lists import list_url
from app.web.reports_common import (
    CHART_NAMES,
    chart_svg,
    find_report,
    grouping_labels,
    labels_of,
    problems_of,
    report_ref,
    run,
    table_of,
)
from app.web.state import may, meta, records, state

bp = Blueprint("reports", __name__)

#: widths a widget may take (twelfths of the row)
WIDTHS = (4, 6, 12)


def _uid() -> int:
    return int(current_user.id)


def _is_admin() -> bool:
    return bool(getattr(current_user, "is_admin", False))


@dataclass(frozen=True)
class Listed:
    ref: str
    label: str
    entity: str
    chart: str
    owner: str = ""


def _listed(r: ReportDef, owner: str = "") -> Listed:
    locale = get_locale()
    e = meta().entities.get(r.entity)
    return Listed(report_ref(r), r.label_for(locale), e.plural_for(locale) if e else r.entity,
                  _(CHART_NAMES.get(r.chart, r.chart)), owner)


def editable(r: ReportDef) -> bool:
    """Whether the signed-in user may change `r`: their own report (admins: any user
    report); config reports are changed in reports/*.yaml."""
    if r.origin != "user" or r.ref is None:
        return False
    return _is_admin() or store.owner_of_report(state().ctx.engine, r.ref) == _uid()


@bp.route("/reports/")
@login_required
def index() -> ResponseReturnValue:
    m = meta()
    config = [_listed(r) for r in m.reports.values()
              if r.entity in m.entities and may(r.entity) and not problems_of(r)]
    with state().ctx.engine.connect() as conn:
        mine, shared = store.reports_visible_to(conn, _uid())
    own = [_listed(r) for r in mine if r.entity in m.entities and may(r.entity)]
    others = [_listed(r, owner) for r, owner in shared
              if r.entity in m.entities and may(r.entity)]
    groups = [(_("My reports"), own, "mine"), (_("Shared with me"), others, "shared"),
              (_("Standard reports"), sorted(config, key=lambda x: x.label), "config")]
    empty_text = {"mine": _("You have not built a report yet."),
                  "shared": _("Nobody has shared a report with you yet."),
                  "config": _("There are no standard reports you may run.")}
    return render_template("reports/index.html", groups=groups, empty_text=empty_text)


def _about(r: ReportDef) -> str:
    e = meta().entities.get(r.entity)
    things = e.plural_for(get_locale()) if e else r.entity
    groups = grouping_labels(r)
    measures = ", ".join(labels_of(r, [m.key for m in r.measures]))
    if groups:
        return _("%(measures)s of %(things)s by %(groups)s", measures=measures, things=things,
                 groups=_(" and ").join(groups))
    return _("%(measures)s of %(things)s", measures=measures, things=things)


@bp.route("/reports/<ref>")
@login_required
def show(ref: str) -> ResponseReturnValue:
    r = find_report(ref)
    result = run(r)
    chart = chart_svg(ref, result) if r.chart != "table" and r.group_by else None
    return render_template(
        "reports/show.html", ref=ref, r=r, title=r.label_for(get_locale()),
        description=label_text(r.description, get_locale(), ""),
        about=_about(r), chart=chart, table=table_of(ref, result), editable=editable(r),
        exports=may(r.entity, "export"), my_dashboards=_my_dashboards())


@bp.route("/reports/<ref>/drill")
@login_required
def drill(ref: str) -> ResponseReturnValue:
    """The entity's list page with the filters of one result row (`k` per grouping)."""
    r = find_report(ref)
    keys = parse_keys(records(), r, request.args.getlist("k"))  # QueryError: 400
    return redirect(list_url(r.entity, drill_params(records(), r, keys, me=_uid())))


# --- exports ----------------------------------------------------------------------------------
@bp.route("/reports/<ref>/export.<fmt>")
@login_required
def export(ref: str, fmt: str) -> ResponseReturnValue:
    """Every group of the report (not only the first `limit`) with its totals, as CSV (UTF-8
    with a byte order mark, like list exports) or XLSX; only for those who may export the
    entity's records."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    r = find_report(ref)
    e = meta().entities.get(r.entity)
    if e is None:  # a user report on an entity the config removed since
        raise NotFound(_("There is no entity '%(name)s'.", name=r.entity))
    if not may(r.entity, "export"):
        raise Forbidden(_("You may not export %(entities)s.",
                          entities=e.plural_for(get_locale())))
    from app import seclog
    from app.reports.export import report_csv, report_xlsx
    from app.web.export import xlsx_response
    from app.web.seclog import record as log_security

    locale = get_locale()
    name = f"{re.sub(r'[^A-Za-z0-9_-]+', '-', r.name)}-{datetime.now(UTC):%Y%m%d}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":  # the report runs here: one that cannot is a 4xx before anything is sent
        chunks = report_csv(records(), r, me=_uid(), locale=locale)
        log_security(seclog.EXPORT, entity=r.entity, detail={"format": fmt, "report": ref})
        return Response(stream_with_context(chunks), mimetype="text/csv", headers=disposition)
    stream = report_xlsx(records(), r, me=_uid(), locale=locale)  # a temporary file
    log_security(seclog.EXPORT, entity=r.entity, detail={"format": fmt, "report": ref})
    return xlsx_response(stream, name)  # streamed; the file is deleted when it is closed


# --- the builder ------------------------------------------------------------------------------
@bp.route("/reports/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    if request.method == "GET":
        source = request.args.get("from", "")
        if source:
            draft = builder.draft_of_report(find_report(source), copy=True)
        else:
            draft = builder.Draft(entity=request.args.get("entity", "")[:80])
        return _builder_page(draft, None)
    return _builder_post(None)


@bp.route("/reports/<ref>/edit", methods=["GET", "POST"])
@login_required
def edit(ref: str) -> ResponseReturnValue:
    r = find_report(ref)
    if not editable(r):
        raise Forbidden(_("Only the owner may change this report; copy it to make your own."))
    if request.method == "GET":
        with state().ctx.engine.connect() as conn:
            shared = store.is_shared(conn, r.ref or 0)
        return _builder_page(builder.draft_of_report(r, shared=shared), r)
    return _builder_post(r)


@dataclass(frozen=True)
class Preview:
    chart: Any
    table: Any


def _builder_page(draft: builder.Draft, existing: ReportDef | None, *,
                  checked: builder.Checked | None = None, preview: Preview | None = None,
                  status: int = 200) -> ResponseReturnValue:
    m = meta()
    entity = m.entities.get(draft.entity)
    if entity is not None and not may(entity.name):
        entity = None
    options = builder.options_for(m, entity, records().registry, may)
    if existing is not None:
        heading = _("Edit report %(name)s", name=existing.label_for(get_locale()))
        cancel = url_for("reports.show", ref=report_ref(existing))
    else:
        heading, cancel = _("New report"), url_for("reports.index")
    return render_template("reports/builder.html", draft=draft, options=options,
                           heading=heading, cancel_url=cancel, preview=preview,
                           problems=checked.problems if checked else {}), status


def _builder_post(existing: ReportDef | None) -> ResponseReturnValue:
    draft = builder.draft_from_form(request.form)
    action = request.form.get("action", "")
    if action not in ("preview", "save"):
        return _builder_page(draft, existing)  # choose, add_filter, add_measure
    m = meta()
    checked = builder.check_draft(m, draft, records().registry)
    if draft.entity in m.entities and not may(draft.entity):
        checked.add("entity", _("You may not read these records."))
    result = None
    if checked.ok and checked.report is not None:
        try:
            result = run(checked.report)
        except RecordError as exc:
            checked.add(builder.problem_where(exc.message, draft, m), exc.message)
    if not checked.ok or checked.report is None or result is None:
        return _builder_page(draft, existing, checked=checked, status=422)
    r = checked.report
    if action == "preview":
        chart = chart_svg("", result, links=False, width=960, height=340) \
            if r.chart != "table" and r.group_by else None
        return _builder_page(draft, existing, checked=checked,
                             preview=Preview(chart, table_of("", result, links=False)))
    engine = state().ctx.engine
    with engine.begin() as conn:
        if existing is not None and existing.ref is not None:
            r = replace(r, name=existing.name, origin="user", ref=existing.ref)
            store.update_report(conn, existing.ref, r, shared=draft.shared)
            ref_id = existing.ref
        else:
            ref_id = store.save_report(conn, _uid(), r, shared=draft.shared)
    flash(_("The report %(name)s is saved.", name=r.label_for(get_locale())), "success")
    return redirect(url_for("reports.show", ref=f"u{ref_id}"))


@bp.route("/reports/<ref>/delete", methods=["POST"])
@login_required
def delete(ref: str) -> ResponseReturnValue:
    r = find_report(ref)
    if not editable(r) or r.ref is None:
        raise Forbidden(_("Only the owner may delete this report."))
    with state().ctx.engine.begin() as conn:
        store.delete_report(conn, r.ref)
    flash(_("The report %(name)s is deleted.", name=r.label_for(get_locale())), "success")
    return redirect(url_for("reports.index"))


# --- dashboards -------------------------------------------------------------------------------
def _my_dashboards() -> list[tuple[str, str]]:
    """(ref, label) of the dashboards the user may add widgets to: their own."""
    from app.web.dashboards import own_dashboards

    locale = get_locale()
    return [(ref, d.label_for(locale)) for ref, d in own_dashboards()]


@bp.route("/reports/<ref>/widget", methods=["POST"])
@login_required
def add_widget(ref: str) -> ResponseReturnValue:
    """Add the report to one of the user's dashboards (or to a new one named in the form)."""
    from app.web.dashboards import create_dashboard, own_dashboards

    r = find_report(ref)
    width = small_int(request.form.get("width", "6"))
    if width not in WIDTHS:
        abort(400)
    target = request.form.get("dashboard", "")
    if target:
        if target not in {d_ref for d_ref, _d in own_dashboards()}:
            raise Forbidden(_("You may add widgets only to your own dashboards."))
    else:
        name = request.form.get("new_name", "").strip()[:120]
        if not name:
            flash(_("Name the new dashboard."), "danger")
            return redirect(url_for("reports.show", ref=ref))
        target = create_dashboard(name)
    with state().ctx.engine.begin() as conn:
        store.add_widget(conn, _uid(), target, Widget(report=report_ref(r), width=width))
    flash(_("%(report)s is on the dashboard.", report=r.label_for(get_locale())), "success")
    return redirect(url_for("dashboards.show", ref=target))
