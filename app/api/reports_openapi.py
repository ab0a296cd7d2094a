"""The report and dashboard routes (app/api/reports.py) in the OpenAPI document:
`report_schemas` and `report_paths` (every caller has them: which reports they may run is
decided per request)."""

from __future__ import annotations

from typing import Any

from app.api.openapi import JSON, PROBLEMS, _ref
from app.reports.definition import REPORT_SCHEMA
from app.reports.types import CHART_TYPES

TAGS = ["reports"]
_REF = {"type": "string", "pattern": r"^(u[1-9][0-9]{0,17}|[a-z][a-z0-9_]{0,62})$",
        "description": "A config report's name, or `u<id>` for a report a user built."}
_TEXT = {"type": "string"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_SCALAR: dict[str, Any] = {"type": ["string", "number", "integer", "boolean", "null"]}
_PROBLEMS = {
    **PROBLEMS,
    "403": "Not allowed: the report's records or fields are not the caller's to read, a "
           "config report cannot be changed here, a user report that is not the caller's "
           "(or a read-only token, a missing CSRF token).",
    "404": "No such report, or not one the caller may see.",
    "422": "The definition does not fit the config: `error.problems` lists every problem.",
}


def _answers(ok: str, schema: str | None, *problems: str) -> dict[str, Any]:
    out: dict[str, Any] = {ok: {"description": "Done."}}
    if schema is not None:
        out[ok]["content"] = {JSON: {"schema": _ref(schema)}}
    for code in ("400", "401", "403", "429", *problems):
        out[code] = {"description": _PROBLEMS[code],
                     "content": {JSON: {"schema": _ref("Error")}}}
    return out


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def report_schemas() -> dict[str, Any]:
    summary = {
        "ref": _TEXT, "origin": {"type": "string", "enum": ["config", "user"]},
        "label": _TEXT, "entity": _TEXT, "entity_label": _TEXT,
        "chart": {"type": "string", "enum": list(CHART_TYPES)},
        "owner": _TEXT_OR_NULL, "editable": {"type": "boolean"}}
    body = {k: v for k, v in REPORT_SCHEMA["properties"].items() if k != "remove"}
    return {
        "ReportSummary": _object(list(summary), **summary),
        "ReportList": _object(["data"], data={"type": "array", "items": _ref("ReportSummary")}),
        "Report": _object([*summary, "shared", "definition"], **summary,
                          shared={"type": "boolean"},
                          definition={"type": "object",
                                      "description": "The YAML shape of a report "
                                                     "(docs/reports.md)."}),
        "ReportInput": {
            "type": "object", "additionalProperties": False, "required": ["entity"],
            "description": "A report's definition as in reports/*.yaml, with `shared` "
                           "(everyone who may read the entity sees it) and an optional "
                           "`name`.",
            "properties": {**body, "name": {"type": "string", "minLength": 1,
                                            "maxLength": 120},
                           "shared": {"type": "boolean"}}},
        "ReportResult": _object(
            ["ref", "label", "entity", "chart", "groupings", "measures", "rows", "totals",
             "truncated"],
            ref=_TEXT, label=_TEXT, entity=_TEXT, chart=_TEXT,
            groupings={"type": "array", "items": _object(
                ["field", "bucket", "label"], field=_TEXT, bucket=_TEXT_OR_NULL, label=_TEXT)},
            measures={"type": "array", "items": _object(
                ["key", "agg", "field", "label"], key=_TEXT, agg=_TEXT, field=_TEXT_OR_NULL,
                label=_TEXT)},
            rows={"type": "array", "items": _object(
                ["keys", "key_params", "labels", "values"],
                keys={"type": "array", "items": _SCALAR},
                key_params={"type": "array", "items": _TEXT,
                            "description": "The keys as `key` parameters of the drill "
                                           "route."},
                labels={"type": "array", "items": _TEXT},
                values={"type": "object", "additionalProperties": _SCALAR,
                        "description": "Measure key -> value (decimals as exact text)."})},
            totals={"type": "object", "additionalProperties": _SCALAR},
            truncated={"type": "boolean"}),
        "ReportDrill": _object(
            ["entity", "keys", "params", "list_url", "api_url", "count", "count_is_estimate"],
            entity=_TEXT, keys={"type": "array", "items": _SCALAR},
            params={"type": "array", "items": {"type": "array", "items": _TEXT,
                                               "minItems": 2, "maxItems": 2}},
            list_url=_TEXT, api_url=_TEXT, count={"type": "integer"},
            count_is_estimate={"type": "boolean"}),
        "DashboardList": _object(["data"], data={"type": "array", "items": _object(
            ["ref", "origin", "label", "roles", "widgets"], ref=_TEXT,
            origin={"type": "string", "enum": ["config", "user"]}, label=_TEXT,
            roles={"type": "array", "items": _TEXT},
            widgets={"type": "array", "items": _object(
                ["report", "width"], report=_TEXT, width={"type": "integer"},
                chart=_TEXT, title={"type": "object"})})}),
    }


def report_paths() -> dict[str, Any]:
    ref = {"name": "ref", "in": "path", "required": True, "schema": _REF}
    body = {"required": True, "content": {JSON: {"schema": _ref("ReportInput")}}}
    return {
        "/reports": {
            "get": {"operationId": "list_reports", "tags": TAGS,
                    "summary": "The reports you may run: the config's, yours, shared ones",
                    "responses": _answers("200", "ReportList")},
            "post": {"operationId": "create_report", "tags": TAGS,
                     "summary": "Build a report of your own", "requestBody": body,
                     "responses": _answers("201", "Report", "415", "422")}},
        "/reports/{ref}": {
            "get": {"operationId": "get_report", "tags": TAGS, "parameters": [ref],
                    "summary": "A report's definition",
                    "responses": _answers("200", "Report", "404")},
            "put": {"operationId": "update_report", "tags": TAGS, "parameters": [ref],
                    "summary": "Change your report", "requestBody": body,
                    "responses": _answers("200", "Report", "404", "415", "422")},
            "delete": {"operationId": "delete_report", "tags": TAGS, "parameters": [ref],
                       "summary": "Delete your report",
                       "responses": _answers("204", None, "404")}},
        "/reports/{ref}/result": {"get": {
            "operationId": "report_result", "tags": TAGS, "parameters": [ref],
            "summary": "The report's rows and totals over the records you may read",
            "responses": _answers("200", "ReportResult", "404")}},
        "/reports/{ref}/drill": {"get": {
            "operationId": "report_drill", "tags": TAGS, "parameters": [
                ref, {"name": "key", "in": "query", "required": False, "explode": True,
                      "schema": {"type": "array", "items": {"type": "string"}},
                      "description": "One per grouping: a row's `key_params`."}],
            "summary": "The records behind one row of the report",
            "responses": _answers("200", "ReportDrill", "404")}},
        "/dashboards": {"get": {
            "operationId": "list_dashboards", "tags": TAGS,
            "summary": "The dashboards of your roles and your own",
            "responses": _answers("200", "DashboardList")}},
    }
