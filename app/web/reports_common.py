"""What the report pages and the dashboards share: finding a report by its reference, running
it as the signed-in user, drawing its chart with drill-down links, and the table of a result.

A report's reference (`ref`) is the config report's name, or `u<id>` for a report a user built
(`app.reports.store.get_report`). A result row's keys travel in drill-down links as text
(`app.reports.compute.key_param`; `parse_keys` reads them back by the grouping's field).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import abort, url_for
from markupsafe import Markup

from app.i18n import N_, _, format_number, get_locale
from app.meta.listconf import fields_of
from app.meta.types import EntityDef, FieldDef
from app.reports.charts import OTHER, other_row, render_chart
from app.reports.compute import key_param, run_report
from app.reports.types import Measure, ReportDef, ReportResult, ResultRow
from app.textnum import small_int
from app.web.format import display
from app.web.state import actor, meta, records, state

#: names of the charts in the builder and on widgets
CHART_NAMES = {"table": N_("Table"), "bar": N_("Bar"), "line": N_("Line"), "pie": N_("Pie"),
               "funnel": N_("Funnel")}
AGG_NAMES = {"count": N_("Count"), "sum": N_("Sum"), "avg": N_("Average"), "min": N_("Minimum"),
             "max": N_("Maximum")}
BUCKET_NAMES = {"day": N_("Day"), "week": N_("Week"), "month": N_("Month"),
                "quarter": N_("Quarter"), "year": N_("Year")}


def drill_url(ref: str, row: ResultRow) -> str:
    """The drill-down link of one result row ("" for the "Other" row)."""
    if row.keys and row.keys[0] is OTHER:
        return ""
    query = urlencode([("k", key_param(k)) for k in row.keys])
    return url_for("reports.drill", ref=ref) + (f"?{query}" if query else "")


# --- finding and running ------------------------------------------------------------------------
def _user() -> Any:
    from flask_login import current_user

    return current_user._get_current_object()


def find_report(ref: str) -> ReportDef:
    """The report `ref` the signed-in user may run, else 404."""
    from app.reports.store import get_report

    st = state()
    if st.meta is None:
        abort(503)
    if ref[:1] == "u" and ref[1:].isdigit() and small_int(ref[1:]) is None:
        abort(404)  # beyond an SQL integer: no such report (PostgreSQL would refuse the id)
    with st.ctx.engine.connect() as conn:
        r = get_report(st.meta, conn, _user(), ref)
    if r is None:
        abort(404)
    return r


def report_ref(r: ReportDef) -> str:
    return f"u{r.ref}" if r.origin == "user" and r.ref is not None else r.name


def problems_of(r: ReportDef) -> list[str]:
    """What is wrong with `r` in the live config as the user sees it (hidden fields are
    unknown to them)."""
    from app.reports.definition import check_report

    return check_report(meta(), r, records().registry)


def run(r: ReportDef) -> ReportResult:
    """`r` computed as the signed-in user (their records only). RecordError (a bad filter
    value: 400, a field they may not see: 403) is left to the caller or the error pages."""
    return run_report(records(), r, me=actor().id, locale=get_locale())


# --- showing ------------------------------------------------------------------------------------
def entity_of(r: ReportDef) -> EntityDef | None:
    return meta().entities.get(r.entity)


def field_of(r: ReportDef, name: str | None) -> FieldDef | None:
    """A field of the report's entity (owner, created_at and updated_at included)."""
    e = entity_of(r)
    return fields_of(e).get(name) if e is not None and name else None


def measure_label(r: ReportDef, m: Measure) -> str:
    """`Sum of Amount`, unless the report names the measure itself."""
    locale = get_locale()
    if m.label:
        return m.label_for(locale)
    if m.agg == "count":
        return _("Count")
    f = field_of(r, m.field)
    return _("%(agg)s of %(field)s", agg=_(AGG_NAMES.get(m.agg, m.agg)),
             field=f.label_for(locale) if f is not None else (m.field or ""))


def grouping_labels(r: ReportDef) -> list[str]:
    locale = get_locale()
    out = []
    for g in r.group_by:
        f = field_of(r, g.field)
        name = f.label_for(locale) if f is not None else g.field
        out.append(f"{name} ({_(BUCKET_NAMES[g.bucket])})" if g.bucket in BUCKET_NAMES
                   else name)
    return out


def value_formatter(r: ReportDef) -> Callable[[str, Any], str]:
    """Measure key, value -> text: money as money, percentages with %, counts as numbers."""
    by_key = {m.key: m for m in r.measures}
    currency = state().ctx.settings.currency

    def fmt(key: str, value: Any) -> str:
        if value is None:
            return "–"
        m = by_key.get(key)
        f = field_of(r, m.field) if m is not None else None
        if isinstance(value, float | Decimal) and not isinstance(value, bool):
            value = round(Decimal(str(value)), 2)
        if f is None or m is None or m.agg == "count":
            return format_number(value, get_locale()) if isinstance(
                value, int | Decimal) else str(value)
        return display(f, value, currency=currency, meta=state().meta) or str(value)

    return fmt


def with_labels(r: ReportDef) -> ReportDef:
    """`r` with each measure labelled for the page (the chart's tooltips and legend)."""
    from dataclasses import replace

    locale = get_locale()
    measures = tuple(m if m.label else replace(m, label={locale.split("_")[0]: measure_label(
        r, m)}) for m in r.measures)
    return replace(r, measures=measures)


def chart_svg(ref: str, result: ReportResult, chart: str | None = None, *,
              width: int = 720, height: int = 320, links: bool = True) -> Markup:
    r = result.report
    labelled = ReportResult(with_labels(r), result.rows, result.totals, result.truncated)
    titles = grouping_labels(r)
    return render_chart(labelled, chart or r.chart, locale=get_locale(),
                        drill_url=(lambda row: drill_url(ref, row)) if links else None,
                        width=width, height=height, x_title=titles[0] if titles else "",
                        format_value=value_formatter(r))


@dataclass(frozen=True)
class Cell:
    text: str
    href: str = ""


@dataclass(frozen=True)
class Table:
    """A result as the page's table: one header per grouping and measure, a row per group
    (each value links to the records behind it) and the totals."""

    headers: list[str]
    groups: int
    rows: list[list[Cell]]
    totals: list[Cell]
    truncated: bool


def table_of(ref: str, result: ReportResult, *, links: bool = True) -> Table:
    """The table of `result`; its values link to the records behind them (`links`)."""
    r = result.report
    fmt = value_formatter(r)
    keys = [m.key for m in r.measures]
    rows: list[list[Cell]] = []
    extra = other_row(result, get_locale())
    for row in [*result.rows, *([extra] if extra is not None else [])]:
        href = drill_url(ref, row) if links else ""
        cells = [Cell(label or _("(empty)")) for label in row.labels]
        cells += [Cell(fmt(k, row.values.get(k)), href) for k in keys]
        rows.append(cells)
    totals = [Cell(_("Total"))] + [Cell("") for _g in r.group_by[1:]] if r.group_by else []
    totals += [Cell(fmt(k, result.totals.get(k)),
                    drill_url(ref, ResultRow((), (), {})) if links and not r.group_by else "")
               for k in keys]
    return Table(grouping_labels(r) + [measure_label(r, m) for m in r.measures],
                 len(r.group_by), rows if r.group_by else [], totals, result.truncated)


def labels_of(r: ReportDef, keys: Sequence[str]) -> list[str]:
    """Measure labels by key, for headers outside the table."""
    return [measure_label(r, m) for m in r.measures if m.key in keys]
