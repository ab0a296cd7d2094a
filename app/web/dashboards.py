"""Dashboards: `/dashboards/` (the role dashboards of the config the user's roles see, and
their own), `/dashboards/<ref>` (each widget's chart or table in a Bootstrap grid, linking to
its report), creating a personal dashboard, and removing and reordering the widgets of one's
own dashboards. A config dashboard's reference is its name, a user's `u<id>`.

Each widget runs its report as the signed-in user: a report they may not run (a field hidden
from them, an entity they may not read, a report deleted since) shows why in its place instead
of failing the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from app.i18n import _, get_locale
from app.records import RecordError
from app.records.errors import Forbidden
from app.reports import store
from app.reports.types import DashboardDef, ReportDef, Widget
from app.textnum import small_int
from app.web.reports_common import Table, chart_svg, find_report, run, table_of
from app.web.state import meta, state

bp = Blueprint("dashboards", __name__)

#: a widget's chart size by its width (twelfths of the row)
CHART_SIZES = {12: (960, 300), 6: (640, 320), 4: (480, 320)}
MAX_NAME = 120


def _uid() -> int:
    return int(current_user.id)


def _user() -> Any:
    return current_user._get_current_object()


def dashboard_ref(d: DashboardDef) -> str:
    return f"u{d.ref}" if d.origin == "user" and d.ref is not None else d.name


def all_dashboards() -> list[DashboardDef]:
    """The config dashboards of the user's roles, then their own."""
    st = state()
    if st.meta is None:
        abort(503)
    with st.ctx.engine.connect() as conn:
        return list(store.dashboards_for(st.meta, conn, _user()))


def own_dashboards() -> list[tuple[str, DashboardDef]]:
    """(ref, dashboard) of the user's own dashboards (the ones they may change)."""
    return [(dashboard_ref(d), d) for d in all_dashboards()
            if d.origin == "user" and d.ref is not None]


def find_dashboard(ref: str) -> DashboardDef:
    if ref[:1] == "u" and ref[1:].isdigit() and small_int(ref[1:]) is None:
        abort(404)
    found = next((d for d in all_dashboards() if dashboard_ref(d) == ref), None)
    if found is None:
        abort(404)
    return found


def create_dashboard(name: str) -> str:
    """A new personal dashboard named `name`; its ref."""
    d = DashboardDef(name="mine", label={"en": name, "zh": name}, origin="user")
    with state().ctx.engine.begin() as conn:
        new_id = store.save_dashboard(conn, _uid(), d)
    return f"u{new_id}"


@dataclass(frozen=True)
class Shown:
    """One widget as the page shows it."""

    index: int
    width: int
    title: str
    report_ref: str
    chart: Markup | None = None
    table: Table | None = None
    problem: str = ""


def _shown(i: int, w: Widget) -> Shown:
    locale = get_locale()
    width = w.width if 1 <= w.width <= 12 else 6
    try:
        r: ReportDef = find_report(w.report)
        result = run(r)
    except HTTPException:
        return Shown(i, width, w.report, w.report,
                     problem=_("This report does not exist any more, or you may not run it."))
    except RecordError as exc:
        return Shown(i, width, w.report, w.report, problem=exc.message)
    title = w.title.get(locale.split("_")[0]) if w.title else None
    title = title or r.label_for(locale)
    chart_type = w.chart or r.chart
    if chart_type == "table" or not r.group_by:
        return Shown(i, width, title, w.report, table=table_of(w.report, result))
    size = CHART_SIZES.get(width, CHART_SIZES[6])
    return Shown(i, width, title, w.report,
                 chart=chart_svg(w.report, result, chart_type, width=size[0], height=size[1]))


@bp.route("/dashboards/")
@login_required
def index() -> ResponseReturnValue:
    locale = get_locale()
    items = [(dashboard_ref(d), d.label_for(locale), d.origin, len(d.widgets))
             for d in all_dashboards()]
    return render_template("dashboards/index.html", items=items)


@bp.route("/dashboards/new", methods=["POST"])
@login_required
def new() -> ResponseReturnValue:
    name = request.form.get("name", "").strip()[:MAX_NAME]
    if not name:
        flash(_("Name the new dashboard."), "danger")
        return redirect(url_for("dashboards.index")), 303
    ref = create_dashboard(name)
    flash(_("The dashboard %(name)s is made: add reports to it from their pages.", name=name),
          "success")
    return redirect(url_for("dashboards.show", ref=ref))


@bp.route("/dashboards/<ref>")
@login_required
def show(ref: str) -> ResponseReturnValue:
    d = find_dashboard(ref)
    widgets = [_shown(i, w) for i, w in enumerate(d.widgets)]
    locale = get_locale()
    others = [(dashboard_ref(o), o.label_for(locale)) for o in all_dashboards()]
    return render_template("dashboards/show.html", d=d, ref=ref, widgets=widgets,
                           title=d.label_for(locale), others=others,
                           own=d.origin == "user" and d.ref is not None)


def _own(ref: str) -> DashboardDef:
    d = find_dashboard(ref)
    if d.origin != "user" or d.ref is None:
        raise Forbidden(_("Only your own dashboards can be changed here; role dashboards "
                          "come from the configuration."))
    return d


def _index(d: DashboardDef, index: int) -> int:
    if not 0 <= index < len(d.widgets):
        abort(404)
    return index


@bp.route("/dashboards/<ref>/widgets/<int:index>/remove", methods=["POST"])
@login_required
def remove_widget(ref: str, index: int) -> ResponseReturnValue:
    d = _own(ref)
    i = _index(d, index)
    widgets = d.widgets[:i] + d.widgets[i + 1:]
    _save_widgets(d, widgets)
    flash(_("The widget is removed."), "success")
    return redirect(url_for("dashboards.show", ref=ref))


@bp.route("/dashboards/<ref>/widgets/<int:index>/move", methods=["POST"])
@login_required
def move_widget(ref: str, index: int) -> ResponseReturnValue:
    """Move a widget one place earlier (`to=up`) or later (`to=down`)."""
    d = _own(ref)
    i = _index(d, index)
    step = {"up": -1, "down": 1}.get(request.form.get("to", ""))
    if step is None:
        abort(400)
    j = i + step
    widgets = list(d.widgets)
    if 0 <= j < len(widgets):
        widgets[i], widgets[j] = widgets[j], widgets[i]
        _save_widgets(d, tuple(widgets))
    return redirect(url_for("dashboards.show", ref=ref))


@bp.route("/dashboards/<ref>/widgets/<int:index>/width", methods=["POST"])
@login_required
def resize_widget(ref: str, index: int) -> ResponseReturnValue:
    d = _own(ref)
    i = _index(d, index)
    width = small_int(request.form.get("width", ""))
    if width not in CHART_SIZES:
        abort(400)
    widgets = list(d.widgets)
    widgets[i] = Widget(widgets[i].report, width, widgets[i].chart, widgets[i].title)
    _save_widgets(d, tuple(widgets))
    return redirect(url_for("dashboards.show", ref=ref))


@bp.route("/dashboards/<ref>/delete", methods=["POST"])
@login_required
def delete(ref: str) -> ResponseReturnValue:
    d = _own(ref)
    with state().ctx.engine.begin() as conn:
        store.delete_dashboard(conn, _uid(), d.ref or 0)
    flash(_("The dashboard %(name)s is deleted.", name=d.label_for(get_locale())), "success")
    return redirect(url_for("dashboards.index"))


def _save_widgets(d: DashboardDef, widgets: tuple[Widget, ...]) -> None:
    with state().ctx.engine.begin() as conn:
        store.set_widgets(conn, _uid(), d.ref or 0, widgets)


def first_dashboard_widgets() -> tuple[DashboardDef, list[Shown]] | None:
    """The first dashboard the user has, with its widgets (for the start page)."""
    if meta() is None:
        return None
    found = all_dashboards()
    if not found or not found[0].widgets:
        return None
    return found[0], [_shown(i, w) for i, w in enumerate(found[0].widgets)]
