"""Reports, dashboards and alerts from the report folders (`reports:` in config.yaml).

```yaml
reports:
  pipeline_by_stage:
    label: {en: Pipeline by stage, zh: 按阶段的销售管道}
    entity: opportunity
    filters: [{field: stage, op: not_in, values: [won, lost]}]
    group_by: [stage]                 # or [{field: close_date, bucket: month}, owner]
    measures: [count, {agg: sum, field: amount}]
    chart: funnel
dashboards:
  sales: {label: {en: Sales}, roles: [sales_rep], widgets: [{report: pipeline_by_stage}]}
alerts:
  overdue_cases: {report: overdue_cases, when: {op: ">", value: 10}, notify: [service_manager]}
```

Folders are read base layer first, like workflows: a later layer's report (dashboard, alert) of
the same name changes it key by key (`label` merges by language), and `remove: true` drops it.
Files named `*.example.yaml` are skipped. Each entry is checked against its JSON Schema (the
shape: CRM-E010/E011/E012, as everywhere) and then against the config by
`app.reports.definition` (no Flask, no database):

| code | problem |
|---|---|
| CRM-E118 | a reports file holds none of `reports:`, `dashboards:`, `alerts:` |
| CRM-E119 | defined twice in one layer, removing what no earlier layer defines, `u12` |
| CRM-E120 | a report names an unknown entity or field |
| CRM-E121 | more than two groupings, an ungroupable field, a bucket on no date |
| CRM-E122 | sum/avg of a field that is no number, count of a field, a measure twice |
| CRM-E123 | a filter operator the field does not offer, or a value that does not fit it |
| CRM-E124 | a chart that does not fit the report (a pie of two groupings ...), or a bad `limit` |
| CRM-E125 | a dashboard or alert naming an unknown report, role or measure |
| CRM-E126 | an alert telling a role that may not read the report's records or a field it uses |

The result goes on `Meta.reports`, `Meta.dashboards` and `Meta.alerts` (and into the config
version's snapshot and digest: app/meta/snapshot.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema

from app.meta.errors import ConfigError
from app.meta.files import ConfigFiles
from app.meta.types import IDENTIFIER, Meta, Source

#: top-level keys a reports file may hold
KINDS = ("reports", "dashboards", "alerts")
_SINGULAR = {"reports": "report", "dashboards": "dashboard", "alerts": "alert"}


def file_schema() -> dict[str, Any]:
    """The JSON Schema of one reports file."""
    from app.reports.definition import ALERT_SCHEMA, DASHBOARD_SCHEMA, REPORT_SCHEMA

    name = {"type": "string", "pattern": IDENTIFIER.pattern}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "CRM reports file",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "reports": {"type": "object", "propertyNames": name,
                        "additionalProperties": REPORT_SCHEMA},
            "dashboards": {"type": "object", "propertyNames": name,
                           "additionalProperties": DASHBOARD_SCHEMA},
            "alerts": {"type": "object", "propertyNames": name,
                       "additionalProperties": ALERT_SCHEMA},
        },
    }


def _merge(earlier: Mapping[str, Any], later: Mapping[str, Any]) -> dict[str, Any]:
    """A later layer's entry over an earlier one: key by key; labels by language."""
    out = dict(earlier)
    for key, value in later.items():
        if key in ("label", "description") and isinstance(value, Mapping) \
                and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def load_reports(dirs: Sequence[Path], meta: Meta, registry: Any,
                 files: ConfigFiles | None = None
                 ) -> tuple[dict[str, dict[str, Any]], list[ConfigError]]:
    """Read every reports folder, merge by name, check against `meta`: the Meta fields
    (reports, dashboards, alerts; only those something defines) and the problems found."""
    from app.meta.loader import Document, _schema_errors, yaml_files

    errors: list[ConfigError] = []
    docs: list[Document] = []
    for layer, name, data, positions, _broken in yaml_files(
            dirs, "reports", errors, skip=lambda path: ".example." in path.name, files=files):
        if data is None:
            continue  # an empty file holds nothing (or a syntax error was reported)
        if not isinstance(data, dict) or not set(KINDS) & set(data):
            errors.append(ConfigError(
                "CRM-E118", "a reports file must hold `reports:`, `dashboards:` or `alerts:`",
                positions.at(())))
            continue
        from app.reports.definition import plain_data

        docs.append(Document(name, plain_data(data), positions, layer))
    schema = file_schema()
    validator = jsonschema.Draft202012Validator(schema)
    outline = jsonschema.Draft202012Validator({**schema, "properties": {
        k: {**v, "additionalProperties": {"type": "object"}}
        for k, v in schema["properties"].items()}})
    merged: dict[str, dict[str, tuple[dict[str, Any], Document]]] = {k: {} for k in KINDS}
    seen: dict[tuple[str, int, str], Source] = {}
    for doc in docs:
        errs = _schema_errors(doc, outline)  # the file's outline, then each entry alone
        errors.extend(errs)
        if errs:
            continue
        for kind in KINDS:
            for name, spec in (doc.data.get(kind) or {}).items():
                src = doc.positions.at((kind, name))
                errs = _schema_errors(Document(doc.file, {kind: {name: spec}}, doc.positions,
                                               doc.layer), validator)
                if errs:
                    errors.extend(errs)
                    continue
                what = _SINGULAR[kind]
                first = seen.get((kind, doc.layer, name))
                if first is not None:
                    errors.append(ConfigError("CRM-E119", f"{what} '{name}' is already "
                                              f"defined in {first}", src))
                    continue
                seen[(kind, doc.layer, name)] = src
                current = merged[kind].get(name)
                if spec.get("remove"):
                    if current is None:
                        errors.append(ConfigError("CRM-E119", f"cannot remove {what} "
                                                  f"'{name}': no earlier layer defines it", src))
                    else:
                        del merged[kind][name]
                    continue
                merged[kind][name] = (_merge(current[0] if current else {}, spec), doc)
    reports = _reports(merged["reports"], meta, registry, errors)
    dashboards = _dashboards(merged["dashboards"], meta, reports, errors)
    alerts = _alerts(merged["alerts"], meta, reports, errors, registry)
    found: dict[str, dict[str, Any]] = {"reports": reports, "dashboards": dashboards,
                                        "alerts": alerts}
    return {k: v for k, v in found.items() if v}, errors


def _at(doc: Any, kind: str, name: str, path: tuple[str | int, ...]) -> Source:
    return doc.positions.at((kind, name, *path))


def _reports(entries: Mapping[str, tuple[dict[str, Any], Any]], meta: Meta, registry: Any,
             errors: list[ConfigError]) -> dict[str, Any]:
    from app.i18n import use_locale
    from app.reports.definition import (
        USER_REF,
        DefinitionError,
        report_from_data,
        report_problems,
    )

    out: dict[str, Any] = {}
    with use_locale("en"):  # config errors are in English, like every other config error
        for name, (body, doc) in entries.items():
            if USER_REF.match(name):
                errors.append(ConfigError("CRM-E119", f"report name '{name}' is taken by the "
                                          "user reports (u<number>): choose another",
                                          _at(doc, "reports", name, ())))
                continue
            try:
                r = report_from_data(name, body)
            except DefinitionError as exc:
                errors.extend(ConfigError("CRM-E012", f"report '{name}': {p}",
                                          _at(doc, "reports", name, ())) for p in exc.problems)
                continue
            problems = report_problems(meta, r, registry)
            errors.extend(ConfigError(p.code, f"report '{name}': {p.message}",
                                      _at(doc, "reports", name, p.path)) for p in problems)
            out[name] = r
    return out


def _dashboards(entries: Mapping[str, tuple[dict[str, Any], Any]], meta: Meta,
                reports: Mapping[str, Any], errors: list[ConfigError]) -> dict[str, Any]:
    from app.i18n import use_locale
    from app.reports.definition import (
        DefinitionError,
        dashboard_from_data,
        dashboard_problems,
    )

    out: dict[str, Any] = {}
    with use_locale("en"):
        for name, (body, doc) in entries.items():
            try:
                d = dashboard_from_data(name, body)
            except DefinitionError as exc:
                errors.extend(ConfigError("CRM-E010", f"dashboard '{name}': {p}",
                                          _at(doc, "dashboards", name, ()))
                              for p in exc.problems)
                continue
            for p in dashboard_problems(meta, d, reports):
                errors.append(ConfigError(p.code, f"dashboard '{name}': {p.message}",
                                          _at(doc, "dashboards", name, p.path)))
            out[name] = d
    return out


def _alerts(entries: Mapping[str, tuple[dict[str, Any], Any]], meta: Meta,
            reports: Mapping[str, Any], errors: list[ConfigError],
            registry: Any = None) -> dict[str, Any]:
    from app.i18n import use_locale
    from app.reports.definition import DefinitionError, alert_from_data, alert_problems

    out: dict[str, Any] = {}
    with use_locale("en"):
        for name, (body, doc) in entries.items():
            try:
                a = alert_from_data(name, body)
            except DefinitionError as exc:
                errors.extend(ConfigError("CRM-E012", f"alert '{name}': {p}",
                                          _at(doc, "alerts", name, ())) for p in exc.problems)
                continue
            for p in alert_problems(meta, a, reports, registry):
                errors.append(ConfigError(p.code, f"alert '{name}': {p.message}",
                                          _at(doc, "alerts", name, p.path)))
            out[name] = a
    return out


# --- the config version's snapshot -------------------------------------------------------------
def reports_to_dict(meta: Meta) -> dict[str, Any]:
    """`reports`, `dashboards`, `alerts` as plain data (only those that are set, so configs
    without them keep their digest). Filter values that are dates become ISO text (the
    snapshot is JSON; filters parse text the same way)."""
    from app.reports.definition import data_of_alert, data_of_dashboard, data_of_report

    out: dict[str, Any] = {}
    if meta.reports:
        out["reports"] = {n: _jsonable(data_of_report(r)) for n, r in meta.reports.items()}
    if meta.dashboards:
        out["dashboards"] = {n: data_of_dashboard(d) for n, d in meta.dashboards.items()}
    if meta.alerts:
        out["alerts"] = {n: data_of_alert(a) for n, a in meta.alerts.items()}
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def reports_from_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    """The Meta fields from `reports_to_dict` output."""
    from app.meta.types import freeze
    from app.reports.definition import alert_from_data, dashboard_from_data, report_from_data

    return {
        "reports": freeze({n: report_from_data(n, d)
                           for n, d in (data.get("reports") or {}).items()}),
        "dashboards": freeze({n: dashboard_from_data(n, d)
                              for n, d in (data.get("dashboards") or {}).items()}),
        "alerts": freeze({n: alert_from_data(n, d) for n, d in (data.get("alerts") or {}).items()}),
    }
