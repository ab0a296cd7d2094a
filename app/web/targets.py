"""`/targets/`: attainment of reps and teams against their sales targets, and the leaderboard;
`/targets/set`: a manager enters a period's targets for a team and its members in one form.

The work is app/targets (no Flask): this module reads the request, calls it and renders. The
bars are drawn with width classes of static/targets.css (the page's CSP allows no style
attributes). `targets_in_nav()` puts "Targets" in the navigation bar for users who may read
sales targets; `targets_card(dashboard)` is the attainment card on the sales dashboard (its
widgets are reports, which cannot compute attainment).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app import clock
from app.i18n import _, format_money, format_number, get_locale, ngettext
from app.meta.targets import TARGET_ENTITY, MetricDef
from app.records import RecordError
from app.targets.periods import Period
from app.targets.service import (
    Board,
    Line,
    attainment,
    may_set,
    metric_named,
    metrics_of,
    period_from,
)
from app.targets.setting import (
    TEAM_ROW,
    Outcome,
    form_text,
    save_sheet,
    sheet_for,
    team_choices,
)
from app.web.state import actor, records, state

bp = Blueprint("targets", __name__)
#: config dashboards that show the attainment card
CARD_DASHBOARDS = ("sales",)
#: the widest bar; attainment beyond it is drawn full
FULL = 100


# --- showing numbers --------------------------------------------------------------------------
def currency_of(metric: MetricDef) -> str:
    """The currency of a money metric: its summed field's, else the deployment's."""
    st = state()
    default = st.ctx.settings.currency
    e = st.meta.entities.get(metric.entity) if st.meta is not None else None
    f = e.fields.get(metric.field or "") if e is not None else None
    return str(f.opt("currency") or default) if f is not None else default


def amount_text(metric: MetricDef, value: Any) -> str:
    if value is None:
        return ""
    if metric.money:
        return format_money(value, currency_of(metric), get_locale())
    return format_number(value, get_locale())


def percent_text(value: Decimal | None) -> str:
    return "" if value is None else f"{format_number(value, get_locale())}%"


def bar_class(value: Decimal | None) -> str:
    """`crm-w-<0..100 by 5>` for the bar's width, and its colour."""
    if value is None:
        return "crm-w-0"
    width = max(0, min(FULL, int(value) // 5 * 5))
    tone = "bg-success" if value >= 100 else ("bg-warning" if value >= 50 else "bg-danger")
    return f"crm-w-{width} {tone}"


@dataclass(frozen=True)
class Shown:
    """A line of the board as the page shows it."""

    line: Line
    percent: str
    bar: str
    target: str
    actual: str
    href: str | None


def shown(metric: MetricDef, ln: Line) -> Shown:
    href = f"/{TARGET_ENTITY}/{ln.target_id}" if ln.target_id is not None else None
    return Shown(ln, percent_text(ln.percent), bar_class(ln.percent),
                 amount_text(metric, ln.target), amount_text(metric, ln.actual), href)


def quick_periods(today: Any) -> list[tuple[str, str]]:
    """(period key, label) of the buttons: this and last month and quarter."""
    month, quarter = Period.month_of(today), Period.quarter_of(today)
    return [(quarter.key, _("This quarter")), (quarter.shifted(-1).key, _("Last quarter")),
            (month.key, _("This month")), (month.shifted(-1).key, _("Last month"))]


# --- navigation and the dashboard card --------------------------------------------------------
def _may_read() -> bool:
    user: Any = current_user
    st = state()
    if not getattr(user, "is_authenticated", False) or st.meta is None or st.models is None:
        return False
    if TARGET_ENTITY not in st.meta.entities or not st.meta.feature("targets"):
        return False
    return records().access().allows(TARGET_ENTITY, "read")


@bp.app_context_processor
def targets_globals() -> dict[str, Any]:
    def targets_in_nav() -> bool:
        return _may_read()

    def targets_card(dashboard: Any) -> dict[str, Any] | None:
        if getattr(dashboard, "origin", None) != "config" \
                or getattr(dashboard, "name", None) not in CARD_DASHBOARDS or not _may_read():
            return None
        return card()

    return {"targets_in_nav": targets_in_nav, "targets_card": targets_card}


def card() -> dict[str, Any] | None:
    """This quarter per metric: the viewer's own attainment when they have a target, else
    the teams' (a manager's view)."""
    rec = records()
    who = actor()
    period = Period.quarter_of(clock.now().date())
    items = []
    try:
        for metric in metrics_of(rec).values():
            board = attainment(rec, who, period, metric)
            mine = [ln for ln in board.reps if ln.user_id == who.id]
            lines = mine or list(board.teams[:3])
            items.append((metric, [shown(metric, ln) for ln in lines]))
    except RecordError:
        return None
    return {"period": period, "period_label": period.label(get_locale()), "items": items}


# --- pages ------------------------------------------------------------------------------------
@bp.get("/targets/")
@login_required
def index() -> ResponseReturnValue:
    rec = records()
    today = clock.now().date()
    period = period_from(request.args.get("period"), today)
    metric = metric_named(rec, request.args.get("metric"))
    board: Board = attainment(rec, actor(), period, metric)
    locale = get_locale()
    tabs = [(m.name, m.label_for(locale)) for m in metrics_of(rec).values()]
    return render_template(
        "targets/index.html", board=board, metric=metric, period=period,
        period_label=period.label(locale), metric_label=metric.label_for(locale), tabs=tabs,
        reps=[shown(metric, ln) for ln in board.reps],
        teams=[shown(metric, ln) for ln in board.teams],
        quick=quick_periods(today), previous=period.shifted(-1).key,
        following=period.shifted(1).key, may_set=may_set(rec, actor()))


def _sheet_args(source: Any) -> tuple[Period, MetricDef, str]:
    rec = records()
    period = period_from(source.get("period"), clock.now().date())
    metric = metric_named(rec, source.get("metric"))
    teams = team_choices(rec)
    team = source.get("team") or (teams[0][0] if teams else "")
    return period, metric, str(team)


def _render_sheet(period: Period, metric: MetricDef, team: str, typed: dict[str, str],
                  outcome: Outcome | None, status: int = 200) -> ResponseReturnValue:
    rec = records()
    sheet = sheet_for(rec, actor(), period, metric, team)
    locale = get_locale()
    today = clock.now().date()
    choices = [Period.quarter_of(today).shifted(i).key for i in (-1, 0, 1, 2)] + \
        [Period.month_of(today).shifted(i).key for i in (-1, 0, 1, 2)]
    rows = [(row, typed.get(row.key, form_text(row.current)),
             (outcome.errors.get(row.key, []) if outcome is not None else []))
            for row in sheet.rows]
    return render_template(
        "targets/set.html", sheet=sheet, rows=rows, period=period, metric=metric,
        period_label=period.label(locale), metric_label=metric.label_for(locale),
        metrics=[(m.name, m.label_for(locale)) for m in metrics_of(rec).values()],
        teams=team_choices(rec), team=team, choices=choices, team_row=TEAM_ROW,
        failed=bool(outcome and outcome.errors)), status


@bp.get("/targets/set")
@login_required
def set_form() -> ResponseReturnValue:
    period, metric, team = _sheet_args(request.args)
    return _render_sheet(period, metric, team, {}, None)


@bp.post("/targets/set")
@login_required
def set_save() -> ResponseReturnValue:
    period, metric, team = _sheet_args(request.form)
    typed = {key[2:]: value for key, value in request.form.items() if key.startswith("t_")}
    outcome = save_sheet(records(), actor(), period, metric, team, typed)
    if not outcome.ok:
        flash(_("Nothing was saved: correct the rows marked below."), "danger")
        return _render_sheet(period, metric, team, typed, outcome, 422)
    saved = outcome.created + outcome.updated
    if saved:
        flash(ngettext("%(num)s target saved.", "%(num)s targets saved.", saved),
              "success")
    else:
        flash(_("No target was entered."), "info")
    return redirect(url_for("targets.index", period=period.key, metric=metric.name), 303)
