"""The report builder's form: what the user chose (entity, filters, groupings, measures, chart,
label, sharing) read from the posted form into a `Draft`, the options each select offers for
the chosen entity, and the draft as a report definition with its problems placed at the fields
they concern (`app.reports.definition.report_problems` gives each problem's path).

The page works without JavaScript: choosing an entity and pressing "Choose" (or "Add filter",
"Add measure") posts the form back and the page comes again with the new options;
`static/reports.js` only saves those clicks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from app.i18n import _, get_locale, use_locale
from app.meta.listconf import MULTI_OPS, NO_VALUE_OPS, fields_of
from app.meta.types import EntityDef, FieldDef, Meta
from app.reports.definition import (
    DATE_KINDS,
    MAX_GROUPINGS,
    DefinitionError,
    groupable,
    measurable,
    report_from_data,
    report_problems,
    value_kind,
)
from app.reports.types import AGGREGATES, BUCKETS, CHART_TYPES, ReportDef
from app.web.lists import OP_WORDS
from app.web.reports_common import AGG_NAMES, BUCKET_NAMES, CHART_NAMES

#: at most this many filter and measure rows
MAX_FILTERS = 20
MAX_MEASURES = 5
MAX_TEXT = 200
#: where a problem that names no row is shown
TOP = "top"


@dataclass
class Draft:
    """The builder's state: texts as posted (values stay as typed, so nothing is lost when
    the form comes back with an error)."""

    entity: str = ""
    label: str = ""
    shared: bool = False
    chart: str = "bar"
    #: (field, op, values as typed: comma-separated for "is one of" and "between")
    filters: list[tuple[str, str, str]] = field(default_factory=list)
    #: (field, bucket or "") for each of the two groupings
    groups: list[tuple[str, str]] = field(default_factory=list)
    #: (agg, field or "")
    measures: list[tuple[str, str]] = field(default_factory=list)
    #: blank rows to show beyond the filled ones
    more_filters: int = 1
    more_measures: int = 0


def _clip(text: Any) -> str:
    return str(text or "").strip()[:MAX_TEXT]


def draft_from_form(form: MultiDict[str, str]) -> Draft:
    """The draft as posted: rows are numbered (`f_field_0`, `m_agg_1`, ...), so a row whose
    select the page disabled (a count's field) does not shift the others."""
    filters = []
    for i in range(MAX_FILTERS):
        name = _clip(form.get(f"f_field_{i}"))
        if name:
            filters.append((name, _clip(form.get(f"f_op_{i}")), _clip(form.get(f"f_value_{i}"))))
    groups = []
    for i in range(1, MAX_GROUPINGS + 1):
        name = _clip(form.get(f"g{i}_field"))
        if name:
            groups.append((name, _clip(form.get(f"g{i}_bucket"))))
    measures = []
    for i in range(MAX_MEASURES):
        agg = _clip(form.get(f"m_agg_{i}"))
        if agg:
            measures.append((agg, "" if agg == "count" else _clip(form.get(f"m_field_{i}"))))
    action = form.get("action", "")
    return Draft(entity=_clip(form.get("entity")), label=_clip(form.get("label")),
                 shared=form.get("shared") == "1", chart=_clip(form.get("chart")) or "bar",
                 filters=filters, groups=groups, measures=measures or [("count", "")],
                 more_filters=1 + (action == "add_filter" and len(filters) < MAX_FILTERS - 1),
                 more_measures=int(action == "add_measure" and len(measures) < MAX_MEASURES))


def draft_of_report(r: ReportDef, *, shared: bool = False, copy: bool = False) -> Draft:
    locale = get_locale()
    label = r.label_for(locale) if r.label else ""
    if copy and label:
        label = _("Copy of %(name)s", name=label)
    return Draft(
        entity=r.entity, label=label, shared=shared, chart=r.chart,
        filters=[(f.field, f.op, ", ".join(_value_text(v) for v in f.values))
                 for f in r.filters],
        groups=[(g.field, g.bucket or "") for g in r.group_by],
        measures=[(m.agg, m.field or "") for m in r.measures])


def _value_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


# --- options ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    value: str
    text: str
    #: filter operators of a field (for static/reports.js), or "date" for bucketable fields
    data: str = ""


@dataclass(frozen=True)
class Options:
    entities: list[Option]
    filter_fields: list[Option]
    ops: list[Option]
    group_fields: list[Option]
    number_fields: list[Option]
    aggs: list[Option]
    buckets: list[Option]
    charts: list[Option]

    def ops_of(self, field_name: str) -> list[Option]:
        """The operators of one field (all of them before a field is chosen)."""
        chosen = next((o for o in self.filter_fields if o.value == field_name), None)
        if chosen is None:
            return self.ops
        names = chosen.data.split()
        return [o for o in self.ops if o.value in names]


def options_for(meta: Meta, entity: EntityDef | None, registry: Any,
                readable: Any) -> Options:
    """What each select offers: the entities the user may read, and the chosen entity's
    fields that can be filtered, grouped (dates with buckets) and summed."""
    locale = get_locale()
    entities = [Option(e.name, e.label_for(locale)) for e in meta if readable(e.name)]
    entities.sort(key=lambda o: o.text)
    filter_fields: list[Option] = []
    group_fields: list[Option] = []
    number_fields: list[Option] = []
    if entity is not None:
        for f in _fields(entity):
            text = f.label_for(locale)
            if f.type in registry:
                ops = registry.get(f.type).filter_ops_of(f)
                if ops:
                    filter_fields.append(Option(f.name, text, " ".join(ops)))
            if groupable(f, registry):
                kind = value_kind(f, registry)
                group_fields.append(Option(f.name, text, "date" if kind in DATE_KINDS else ""))
            if measurable(f, "sum", registry):
                number_fields.append(Option(f.name, text))
    return Options(
        entities=entities, filter_fields=filter_fields,
        ops=[Option(k, _(v)) for k, v in OP_WORDS.items()],
        group_fields=group_fields, number_fields=number_fields,
        aggs=[Option(a, _(AGG_NAMES[a])) for a in AGGREGATES],
        buckets=[Option(b, _(BUCKET_NAMES[b])) for b in BUCKETS],
        charts=[Option(c, _(CHART_NAMES[c])) for c in CHART_TYPES])


def _fields(entity: EntityDef) -> list[FieldDef]:
    return [f for f in fields_of(entity).values() if not f.hidden]


# --- the draft as a report --------------------------------------------------------------------
@dataclass
class Checked:
    """A draft made into a report, or the problems found, by where they are shown: `top`,
    `entity`, `label`, `chart`, `filter-<i>`, `group-<i>`, `measure-<i>` (row indexes)."""

    report: ReportDef | None
    problems: dict[str, list[str]] = field(default_factory=dict)

    def add(self, where: str, message: str) -> None:
        self.problems.setdefault(where, []).append(message)

    @property
    def ok(self) -> bool:
        return self.report is not None and not self.problems

    def all(self) -> list[str]:
        return [m for ms in self.problems.values() for m in ms]


def _values(op: str, text: str) -> list[str]:
    if op in NO_VALUE_OPS:
        return []
    if op in MULTI_OPS or op == "between":
        return [v.strip() for v in text.split(",") if v.strip()]
    return [text] if text else []


def default_label(meta: Meta, d: Draft) -> dict[str, str]:
    """"Opportunities by Stage" in every language, for a report the user did not name."""
    e = meta.entities.get(d.entity)
    out = {}
    for locale, key in (("en", "en"), ("zh_CN", "zh")):
        with use_locale(locale):
            if e is None:
                out[key] = _("Report")
                continue
            known = fields_of(e)
            names = [known[g].label_for(locale) for g, _b in d.groups if g in known]
            plural = e.plural_for(locale)
            out[key] = _("%(things)s by %(fields)s", things=plural,
                         fields=_(" and ").join(names)) if names else plural
    return out


def slug(text: str) -> str:
    """A report name from its label: `won_by_month`; `report` when nothing is left."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60]
    return name if name and name[0].isalpha() else "report"


def data_of_draft(meta: Meta, d: Draft) -> dict[str, Any]:
    label = {"en": d.label, "zh": d.label} if d.label else default_label(meta, d)
    data: dict[str, Any] = {"label": label, "entity": d.entity, "chart": d.chart}
    if d.filters:
        data["filters"] = [{"field": f, "op": op, "values": _values(op, text)}
                           for f, op, text in d.filters]
    if d.groups:
        data["group_by"] = [{"field": g, "bucket": b} if b else g for g, b in d.groups]
    data["measures"] = [{"agg": a, "field": f} if f and a != "count" else a
                        for a, f in d.measures]
    return data


def check_draft(meta: Meta, d: Draft, registry: Any) -> Checked:
    """The draft as a report checked against `meta` (the user's view of the config)."""
    out = Checked(None)
    if not d.entity:
        out.add("entity", _("Choose what to report on."))
        return out
    if d.entity not in meta.entities:
        out.add("entity", _("There is no entity '%(name)s'.", name=d.entity))
        return out
    for i, (agg, fname) in enumerate(d.measures):
        if agg not in AGGREGATES:
            out.add(f"measure-{i}", _("Choose a measure."))
        elif agg != "count" and not fname:
            out.add(f"measure-{i}", _("%(agg)s needs a number field.",
                                      agg=_(AGG_NAMES[agg])))
    for i, (_f, op, _v) in enumerate(d.filters):
        if op not in OP_WORDS:
            out.add(f"filter-{i}", _("Choose a comparison."))
    for i, (_g, bucket) in enumerate(d.groups):
        if bucket and bucket not in BUCKETS:
            out.add(f"group-{i}", _("Choose a date bucket."))
    if d.chart not in CHART_TYPES:
        out.add("chart", _("Choose a chart."))
    if out.problems:
        return out
    data = data_of_draft(meta, d)
    name = slug(data["label"].get("en", ""))
    try:
        r = report_from_data(name, data)
    except DefinitionError as exc:
        for message in exc.problems:
            out.add(TOP, message)
        return out
    for p in report_problems(meta, r, registry):
        out.add(_where(p.path), p.message)
    out.report = r
    return out


def _where(path: tuple[str | int, ...]) -> str:
    if not path:
        return TOP
    head = path[0]
    if head in ("filters", "group_by", "measures") and len(path) > 1 \
            and isinstance(path[1], int):
        return {"filters": "filter", "group_by": "group", "measures": "measure"}[
            str(head)] + f"-{path[1]}"
    if head in ("entity", "chart", "label"):
        return str(head)
    return TOP


def problem_where(message: str, d: Draft, meta: Meta) -> str:
    """Where a problem found while running the draft (a filter value that does not parse)
    goes: the first filter whose field the message names, else the top."""
    e = meta.entities.get(d.entity)
    known: Mapping[str, FieldDef] = fields_of(e) if e is not None else {}
    for i, (fname, _op, _v) in enumerate(d.filters):
        f = known.get(fname)
        if f is not None and (f.label_for(get_locale()) in message or fname in message):
            return f"filter-{i}"
    return TOP
