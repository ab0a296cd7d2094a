"""Reports, dashboards and alerts as data (the YAML / JSON shape) and their checks.

    report = report_from_data("pipeline_by_stage", {
        "entity": "opportunity", "group_by": ["stage"],
        "measures": ["count", {"agg": "sum", "field": "amount"}], "chart": "funnel"})
    data_of_report(report)                 # the same shape back (round trip)
    check_report(meta, report, registry)   # [] or problems in the user's language

`report_from_data` checks the shape (JSON Schema: `REPORT_SCHEMA`; DefinitionError lists what is
wrong); `check_report` checks the report against a config: entity and fields exist, a bucket is
on a date, sums are of numbers, groupings are of groupable types, filter operators and values
fit their fields, the chart fits. `report_problems` gives the same problems with a stable code
(CRM-E120..E124) and the path of the offending key, which the config loader
(app/meta/reports.py) turns into file:line errors. No Flask, no database.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import jsonschema

from app.i18n import _
from app.meta.listconf import (
    FilterValueError,
    fields_of,
    parse_filter,
    value_field,
)
from app.meta.types import FieldDef, Meta, freeze, thaw
from app.records.ranges import out_of_range
from app.reports.limits import (
    group_text,
    printable,
    unreadable_roles,
    unstorable_at,
)
from app.reports.schemas import (
    ALERT_SCHEMA,
    DASHBOARD_SCHEMA,
    DATE_KINDS,
    DEFAULT_LIMIT,
    MAX_GROUPINGS,
    MAX_LIMIT,
    NUMBER_KINDS,
    ORDERED_KINDS,
    REPORT_SCHEMA,
    UNGROUPABLE_KINDS,
    USER_REF,
)
from app.reports.types import (
    AGGREGATES,
    ALERT_OPS,
    BUCKETS,
    CHART_TYPES,
    AlertDef,
    DashboardDef,
    Grouping,
    Measure,
    ReportDef,
    ReportFilter,
    Widget,
)


class DefinitionError(ValueError):
    """Data that is not a report (dashboard, alert): `problems` are sentences for the user."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a report against a config: a stable code, the path of the key in
    the report's data (`("group_by", 0)`), and a sentence in the user's language."""

    code: str
    path: tuple[str | int, ...]
    message: str


def shape_problems(data: Any, schema: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...],
                                                                        str]]:
    """(path, sentence) for every way `data` does not fit `schema`, and text no database
    stores (NUL, or half of a character: a lone surrogate such as JSON's "\\ud800")."""
    if not isinstance(data, Mapping):
        return [((), _("A definition must be a mapping of keys."))]
    out = []
    bad = unstorable_at(data)
    if bad is not None:
        out.append((bad, _("%(where)s holds a character that cannot be stored (NUL, or half "
                           "of a character such as \\ud800).",
                           where=".".join(printable(p) for p in bad) or _("the definition"))))
    validator = jsonschema.Draft202012Validator(dict(schema))
    for err in sorted(validator.iter_errors(dict(data)), key=lambda e: list(e.absolute_path)):
        path = tuple(err.absolute_path)
        where = ".".join(str(p) for p in path) or _("the definition")
        if err.validator == "additionalProperties":
            known = list(err.schema.get("properties", {}))
            for key in sorted(set(err.instance) - set(known)):
                out.append(((*path, key), _("unknown key '%(key)s' in %(where)s%(hint)s",
                                            key=key, where=where, hint=_hint(key, known))))
        else:
            out.append((path, _("%(where)s: %(problem)s", where=where,
                                problem=_short(err.message))))
    return out


def plain_data(value: Any) -> Any:
    """`value` as JSON holds it: YAML dates and times as ISO text (filters parse text as
    typed, so the meaning stays), mappings as dicts, sequences as lists."""
    if isinstance(value, Mapping):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(v) for v in value]
    if isinstance(value, date | time):  # a datetime is a date
        return value.isoformat()
    return value


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:199] + "…"


def _hint(name: str, options: Sequence[str]) -> str:
    match = difflib.get_close_matches(name, list(options), 1)
    return _(" (did you mean '%(name)s'?)", name=match[0]) if match else ""


def _labels(value: Any) -> Mapping[str, str]:
    return freeze({str(k): str(v) for k, v in (value or {}).items()})


# --- reports ----------------------------------------------------------------------------------
def report_from_data(name: str, data: Mapping[str, Any]) -> ReportDef:
    """A ReportDef from its YAML / JSON shape (see the module docstring). Raises
    DefinitionError when the shape is wrong (unknown keys, wrong types, no entity)."""
    data = plain_data(data)
    problems = [msg for _path, msg in shape_problems(data, REPORT_SCHEMA)]
    if not problems and not data.get("entity"):
        problems.append(_("A report needs an entity."))
    if problems:
        raise DefinitionError(problems)
    filters = []
    for item in data.get("filters") or ():
        values = item.get("values")
        if values is None:
            values = [] if "value" not in item else [item["value"]]
        filters.append(ReportFilter(str(item["field"]), str(item["op"]), tuple(values)))
    groups = [Grouping(g) if isinstance(g, str) else Grouping(str(g["field"]), g.get("bucket"))
              for g in data.get("group_by") or ()]
    measures = [Measure(m) if isinstance(m, str) else
                Measure(str(m["agg"]), m.get("field"), _labels(m.get("label")))
                for m in data.get("measures") or ("count",)]
    return ReportDef(
        name=name, entity=str(data["entity"]), label=_labels(data.get("label")),
        description=_labels(data.get("description")), filters=tuple(filters),
        group_by=tuple(groups), measures=tuple(measures),
        chart=str(data.get("chart") or "table"), mine=bool(data.get("mine", False)),
        limit=int(data.get("limit") or DEFAULT_LIMIT))



def data_of_report(r: ReportDef) -> dict[str, Any]:
    """The YAML / JSON shape of a report (`report_from_data` gives the same report back);
    empty keys are left out."""
    out: dict[str, Any] = {}
    if r.label:
        out["label"] = thaw(r.label)
    if r.description:
        out["description"] = thaw(r.description)
    out["entity"] = r.entity
    if r.filters:
        out["filters"] = [{"field": f.field, "op": f.op, "values": list(f.values)}
                          if f.values else {"field": f.field, "op": f.op} for f in r.filters]
    if r.group_by:
        out["group_by"] = [g.field if g.bucket is None else {"field": g.field,
                                                             "bucket": g.bucket}
                           for g in r.group_by]
    out["measures"] = [m.agg if m.field is None and not m.label else _measure_data(m)
                       for m in r.measures]
    out["chart"] = r.chart
    if r.mine:
        out["mine"] = True
    if r.limit != DEFAULT_LIMIT:
        out["limit"] = r.limit
    return out


def _measure_data(m: Measure) -> dict[str, Any]:
    out: dict[str, Any] = {"agg": m.agg}
    if m.field is not None:
        out["field"] = m.field
    if m.label:
        out["label"] = thaw(m.label)
    return out


def field_of(meta: Meta, entity: str, name: str) -> FieldDef | None:
    """A field of `entity` by name, the system fields (owner, created_at, updated_at)
    included; None when there is none."""
    e = meta.entities.get(entity)
    return None if e is None else fields_of(e).get(name)


def value_kind(f: FieldDef, registry: Any) -> str:
    """The type of the values of `f` (a formula's result, a roll-up's number)."""
    return value_field(f, registry)[1].type


def groupable(f: FieldDef, registry: Any) -> bool:
    """Whether a report may group by `f`: a stored or computed single value that is not long
    text, structured or encrypted."""
    if f.encrypted or f.type not in registry:
        return False
    ftype = registry.get(f.type)
    if not (ftype.has_column or f.type == "formula"):
        return False
    kind = value_kind(f, registry)
    return kind in registry and kind not in UNGROUPABLE_KINDS and kind != "formula"


def measurable(f: FieldDef, agg: str, registry: Any) -> bool:
    """Whether `agg` (sum, avg, min, max) applies to `f`."""
    if f.encrypted or f.type not in registry:
        return False
    ftype = registry.get(f.type)
    if not (ftype.has_column or f.type == "formula"):
        return False
    kinds = NUMBER_KINDS if agg in ("sum", "avg") else ORDERED_KINDS
    return value_kind(f, registry) in kinds


def report_fields(r: ReportDef) -> list[str]:
    """Every field name a report uses (filters, groupings, measures), in order, once."""
    names = [f.field for f in r.filters] + [g.field for g in r.group_by] + \
        [m.field for m in r.measures if m.field]
    return list(dict.fromkeys(names))


def report_problems(meta: Meta, r: ReportDef, registry: Any) -> list[Problem]:
    """What is wrong with `r` against `meta` (see `check_report`), with codes and paths."""
    out: list[Problem] = []
    e = meta.entities.get(r.entity)
    if e is None:
        return [Problem("CRM-E120", ("entity",), _(
            "There is no entity '%(name)s'%(hint)s.", name=r.entity,
            hint=_hint(r.entity, list(meta.entities))))]
    known = fields_of(e)
    ename = e.label_for(_locale())

    def unknown(name: str, path: tuple[str | int, ...]) -> Problem:
        return Problem("CRM-E120", path, _("%(entity)s has no field '%(name)s'%(hint)s.",
                                           entity=ename, name=name,
                                           hint=_hint(name, list(known))))

    for i, flt in enumerate(r.filters):
        f = known.get(flt.field)
        if f is None:
            out.append(unknown(flt.field, ("filters", i, "field")))
            continue
        try:
            parsed = parse_filter(f, flt.op, list(flt.values), registry, me=0)
        except FilterValueError as exc:
            out.append(Problem("CRM-E123", ("filters", i), _(
                "Filter on %(field)s: %(problem)s", field=f.label_for(_locale()),
                problem=str(exc))))
            continue
        wrong = [v for v in parsed if out_of_range(value_kind(f, registry), v)]
        if wrong:
            out.append(Problem("CRM-E123", ("filters", i), _(
                "Filter on %(field)s: %(value)s is out of range.",
                field=f.label_for(_locale()), value=str(wrong[0])[:40])))
    if len(r.group_by) > MAX_GROUPINGS:
        out.append(Problem("CRM-E121", ("group_by",), _(
            "A report groups by at most %(n)s fields.", n=MAX_GROUPINGS)))
    seen: set[tuple[str, str | None]] = set()
    for i, g in enumerate(r.group_by):
        f = known.get(g.field)
        if f is None:
            out.append(unknown(g.field, ("group_by", i)))
            continue
        label = f.label_for(_locale())
        if (g.field, g.bucket) in seen:
            out.append(Problem("CRM-E121", ("group_by", i), _(
                "%(field)s is grouped by twice.", field=label)))
        seen.add((g.field, g.bucket))
        if not groupable(f, registry):
            out.append(Problem("CRM-E121", ("group_by", i), _(
                "Cannot group by %(field)s: a %(type)s field has no single value to group "
                "by.", field=label, type=value_kind(f, registry) if f.type in registry
                else f.type)))
        elif g.bucket is not None and value_kind(f, registry) not in DATE_KINDS:
            out.append(Problem("CRM-E121", ("group_by", i), _(
                "Cannot group %(field)s by %(bucket)s: only date fields have buckets.",
                field=label, bucket=g.bucket)))
        elif g.bucket is not None and g.bucket not in BUCKETS:
            out.append(Problem("CRM-E121", ("group_by", i), _(
                "Unknown bucket '%(bucket)s' (use %(buckets)s).", bucket=g.bucket,
                buckets=", ".join(BUCKETS))))
    out += _measure_problems(r, known, registry, unknown)
    out += _chart_problems(r)
    if not 1 <= r.limit <= MAX_LIMIT:
        out.append(Problem("CRM-E124", ("limit",), _(
            "The number of groups shown must be between 1 and %(max)s.", max=MAX_LIMIT)))
    return out


def _measure_problems(r: ReportDef, known: Mapping[str, FieldDef], registry: Any,
                      unknown: Any) -> list[Problem]:
    out: list[Problem] = []
    if not r.measures:
        out.append(Problem("CRM-E122", ("measures",), _("A report needs at least one "
                                                        "measure.")))
    keys: set[str] = set()
    for i, m in enumerate(r.measures):
        path: tuple[str | int, ...] = ("measures", i)
        if m.agg not in AGGREGATES:
            out.append(Problem("CRM-E122", path, _(
                "Unknown measure '%(agg)s' (use %(aggs)s).", agg=m.agg,
                aggs=", ".join(AGGREGATES))))
            continue
        if m.key in keys:
            out.append(Problem("CRM-E122", path, _("The measure %(key)s is given twice.",
                                                   key=m.key)))
        keys.add(m.key)
        if m.agg == "count":
            if m.field is not None:
                out.append(Problem("CRM-E122", path, _(
                    "count counts records and takes no field.")))
            continue
        if m.field is None:
            out.append(Problem("CRM-E122", path, _("%(agg)s needs a field.", agg=m.agg)))
            continue
        f = known.get(m.field)
        if f is None:
            out.append(unknown(m.field, (*path, "field")))
        elif not measurable(f, m.agg, registry):
            out.append(Problem("CRM-E122", path, _(
                "Cannot take the %(agg)s of %(field)s: it is not a number field.",
                agg=m.agg, field=f.label_for(_locale()))))
    return out


def _chart_problems(r: ReportDef) -> list[Problem]:
    if r.chart not in CHART_TYPES:
        return [Problem("CRM-E124", ("chart",), _(
            "Unknown chart '%(chart)s' (use %(charts)s).", chart=r.chart,
            charts=", ".join(CHART_TYPES)))]
    if r.chart in ("bar", "line") and not r.group_by:
        return [Problem("CRM-E124", ("chart",), _(
            "A %(chart)s chart needs a grouping.", chart=r.chart))]
    if r.chart in ("pie", "funnel") and len(r.group_by) != 1:
        return [Problem("CRM-E124", ("chart",), _(
            "A %(chart)s chart shows one grouping (and its first measure).", chart=r.chart))]
    return []


def check_report(meta: Meta, r: ReportDef, registry: Any) -> list[str]:
    """Problems of `r` against `meta`, in the user's language ([] when it can run): unknown
    entity or field, a bucket on a field that is no date, sum/avg of a field that is no
    number, a grouping on a field that cannot be grouped (long text, files, JSON,
    multi-value, encrypted), a filter operator or value that does not fit its field, more than
    two groupings, a chart that does not fit. Pass the user's view of the config
    (`app.access.view.visible_meta`) to refuse the fields hidden from them too."""
    return [p.message for p in report_problems(meta, r, registry)]


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()


# --- dashboards -------------------------------------------------------------------------------
def dashboard_from_data(name: str, data: Mapping[str, Any]) -> DashboardDef:
    """A DashboardDef from its YAML / JSON shape (`label`, `roles`, `widgets: [{report,
    width, chart, title}]`). Raises DefinitionError when the shape is wrong."""
    problems = [msg for _path, msg in shape_problems(data, DASHBOARD_SCHEMA)]
    if problems:
        raise DefinitionError(problems)
    widgets = tuple(Widget(report=str(w["report"]), width=int(w.get("width", 6)),
                           chart=w.get("chart"), title=_labels(w.get("title")))
                    for w in data.get("widgets") or ())
    return DashboardDef(name=name, label=_labels(data.get("label")),
                        roles=tuple(str(r) for r in data.get("roles") or ()), widgets=widgets)


def data_of_widget(w: Widget) -> dict[str, Any]:
    out: dict[str, Any] = {"report": w.report, "width": w.width}
    if w.chart:
        out["chart"] = w.chart
    if w.title:
        out["title"] = thaw(w.title)
    return out


def data_of_dashboard(d: DashboardDef) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if d.label:
        out["label"] = thaw(d.label)
    if d.roles:
        out["roles"] = list(d.roles)
    out["widgets"] = [data_of_widget(w) for w in d.widgets]
    return out


def dashboard_problems(meta: Meta, d: DashboardDef, reports: Mapping[str, ReportDef]
                       ) -> list[Problem]:
    """Unknown roles, widgets naming no report of `reports` (config reports; `u<id>` refs
    are left to the store), a chart that does not fit the widget's report."""
    out: list[Problem] = []
    for i, role in enumerate(d.roles):
        if role not in meta.roles:
            out.append(Problem("CRM-E125", ("roles", i), _(
                "There is no role '%(role)s'%(hint)s.", role=role,
                hint=_hint(role, list(meta.roles)))))
    for i, w in enumerate(d.widgets):
        if USER_REF.match(w.report):
            continue
        found = reports.get(w.report)
        if found is None:
            out.append(Problem("CRM-E125", ("widgets", i, "report"), _(
                "There is no report '%(name)s'%(hint)s.", name=w.report,
                hint=_hint(w.report, list(reports)))))
        elif w.chart is not None:
            for p in _chart_problems(_with_chart(found, w.chart)):
                out.append(Problem("CRM-E125", ("widgets", i, "chart"), p.message))
        if not 1 <= w.width <= 12:
            out.append(Problem("CRM-E125", ("widgets", i, "width"), _(
                "A widget's width is 1 to 12 (twelfths of the row).")))
    return out


def _with_chart(r: ReportDef, chart: str) -> ReportDef:
    from dataclasses import replace

    return replace(r, chart=chart)


# --- alerts -----------------------------------------------------------------------------------
def alert_from_data(name: str, data: Mapping[str, Any]) -> AlertDef:
    """An AlertDef from its YAML / JSON shape (`report`, `measure`, `when: {op, value}`,
    `group`, `notify`, `every_minutes`, `label`). Raises DefinitionError when it is wrong."""
    problems = [msg for _path, msg in shape_problems(data, ALERT_SCHEMA)]
    if not problems:
        problems += [_("An alert needs `%(key)s`.", key=key)
                     for key in ("report", "when", "notify") if key not in data]
    if problems:
        raise DefinitionError(problems)
    when = data["when"]
    return AlertDef(name=name, report=str(data["report"]), op=str(when["op"]),
                    threshold=float(when["value"]), measure=str(data.get("measure") or "count"),
                    group=tuple(data.get("group") or ()),
                    notify=tuple(str(r) for r in data.get("notify") or ()),
                    every_minutes=int(data.get("every_minutes") or 60),
                    label=_labels(data.get("label")))


def data_of_alert(a: AlertDef) -> dict[str, Any]:
    threshold: float | int = int(a.threshold) if a.threshold == int(a.threshold) \
        else a.threshold
    out: dict[str, Any] = {}
    if a.label:
        out["label"] = thaw(a.label)
    out.update({"report": a.report, "measure": a.measure,
                "when": {"op": a.op, "value": threshold}})
    if a.group:
        out["group"] = list(a.group)
    out.update({"notify": list(a.notify), "every_minutes": a.every_minutes})
    return out


def alert_problems(meta: Meta, a: AlertDef, reports: Mapping[str, ReportDef],
                   registry: Any = None) -> list[Problem]:
    """An unknown report (config reports only) or role, a measure the report does not have,
    a `group` that does not match the report's groupings (with `registry`: a key that does not
    fit its field), a report of "my" records, and a role told that may not read the report's
    records or a field it uses (CRM-E126: the alert would tell them numbers they may not
    see)."""
    out: list[Problem] = []
    r = reports.get(a.report)
    if r is not None and registry is not None and a.group and len(a.group) == len(r.group_by):
        out += _group_problems(meta, a, r, registry)
    if r is not None:
        out += _reader_problems(meta, a, r)
    if r is None:
        out.append(Problem("CRM-E125", ("report",), _(
            "There is no report '%(name)s'%(hint)s.", name=a.report,
            hint=_hint(a.report, list(reports)))))
    else:
        keys = [m.key for m in r.measures]
        if a.measure not in keys:
            out.append(Problem("CRM-E125", ("measure",), _(
                "Report '%(report)s' has no measure '%(measure)s' (it has %(keys)s).",
                report=r.name, measure=a.measure, keys=", ".join(keys))))
        if a.group and len(a.group) != len(r.group_by):
            out.append(Problem("CRM-E125", ("group",), _(
                "`group` gives one key per grouping of report '%(report)s' (%(n)s).",
                report=r.name, n=len(r.group_by))))
        if r.mine:
            out.append(Problem("CRM-E125", ("report",), _(
                "An alert cannot watch report '%(report)s': it counts only the viewer's own "
                "records.", report=r.name)))
    if a.op not in ALERT_OPS:
        out.append(Problem("CRM-E125", ("when", "op"), _(
            "Unknown comparison '%(op)s' (use %(ops)s).", op=a.op, ops=" ".join(ALERT_OPS))))
    for i, role in enumerate(a.notify):
        if role not in meta.roles:
            out.append(Problem("CRM-E125", ("notify", i), _(
                "There is no role '%(role)s'%(hint)s.", role=role,
                hint=_hint(role, list(meta.roles)))))
    return out


def _group_problems(meta: Meta, a: AlertDef, r: ReportDef, registry: Any) -> list[Problem]:
    e = meta.entities.get(r.entity)
    known = fields_of(e) if e is not None else {}
    out: list[Problem] = []
    for i, (g, value) in enumerate(zip(r.group_by, a.group, strict=True)):
        f = known.get(g.field)
        text = group_text(value).strip()
        if f is None or text == "":
            continue
        try:
            if g.bucket is not None:
                date.fromisoformat(text[:10])
            else:
                parse_filter(f, "eq", [text], registry, me=0)
        except (ValueError, FilterValueError):
            out.append(Problem("CRM-E125", ("group", i), _(
                "`group` key '%(key)s' does not fit %(field)s of report '%(report)s'.",
                key=text[:40], field=f.label_for(_locale()), report=r.name)))
    return out


def _reader_problems(meta: Meta, a: AlertDef, r: ReportDef) -> list[Problem]:
    return [Problem("CRM-E126", ("notify", i), message)
            for i, message in unreadable_roles(meta, a.notify, r.entity, report_fields(r))]


def holds(op: str, value: Any, threshold: float) -> bool:
    """Whether `value` `op` `threshold` (no value: an empty group counts as 0)."""
    v = float(value) if value is not None else 0.0
    return {">": v > threshold, ">=": v >= threshold, "<": v < threshold,
            "<=": v <= threshold, "==": v == threshold, "!=": v != threshold}[op]
