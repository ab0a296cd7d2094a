"""The shapes of reports, dashboards and alerts as JSON Schemas (the YAML and the API take the
same), and the limits and field-kind sets their checks use (app/reports/definition.py)."""

from __future__ import annotations

import re
from typing import Any

from app.meta.listconf import JSON_KINDS
from app.meta.types import IDENTIFIER
from app.reports.types import AGGREGATES, ALERT_OPS, BUCKETS, CHART_TYPES

#: at most this many groupings
MAX_GROUPINGS = 2
#: the largest `limit` (groups shown) a report may ask for
MAX_LIMIT = 500
DEFAULT_LIMIT = 50
#: value types that can be summed and averaged
NUMBER_KINDS = frozenset({"integer", "decimal", "currency", "percent"})
#: value types min/max also take
ORDERED_KINDS = NUMBER_KINDS | {"date", "datetime", "time"}
DATE_KINDS = frozenset({"date", "datetime"})
#: value types no report groups by (long text, structured and multi-valued values)
UNGROUPABLE_KINDS = frozenset({"text", "rich_text"}) | JSON_KINDS
#: a user report's reference: `u<id>` (config report names may not look like one)
USER_REF = re.compile(r"^u([1-9][0-9]{0,8})$")  # fits a 32-bit id

_NAME = {"type": "string", "pattern": IDENTIFIER.pattern}
_REF = {"type": "string", "pattern": r"^(u[1-9][0-9]{0,17}|[a-z][a-z0-9_]{0,62})$"}
_LABELS = {"type": "object", "propertyNames": {"pattern": r"^[a-z]{2}(_[A-Za-z]{2,4})?$"},
           "additionalProperties": {"type": "string", "maxLength": 200}}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_FILTER = {
    "type": "object", "additionalProperties": False, "required": ["field", "op"],
    "properties": {"field": _NAME, "op": {"type": "string", "pattern": r"^[a-z_]{1,20}$"},
                   "values": {"type": "array", "maxItems": 100, "items": _SCALAR},
                   "value": _SCALAR},
}
_GROUPING = {"oneOf": [
    _NAME,
    {"type": "object", "additionalProperties": False, "required": ["field"],
     "properties": {"field": _NAME, "bucket": {"enum": list(BUCKETS)}}},
]}
_MEASURE = {"oneOf": [
    {"enum": list(AGGREGATES)},
    {"type": "object", "additionalProperties": False, "required": ["agg"],
     "properties": {"agg": {"enum": list(AGGREGATES)}, "field": _NAME, "label": _LABELS}},
]}
#: one report (a `reports:` entry of reports/*.yaml, or a user report's definition)
REPORT_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "label": _LABELS, "description": _LABELS, "entity": _NAME,
        "filters": {"type": "array", "maxItems": 50, "items": _FILTER},
        "group_by": {"type": "array", "items": _GROUPING},
        "measures": {"type": "array", "minItems": 1, "maxItems": 10, "items": _MEASURE},
        "chart": {"enum": list(CHART_TYPES)},
        "mine": {"type": "boolean"},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        "remove": {"const": True},
    },
}
_WIDGET = {
    "type": "object", "additionalProperties": False, "required": ["report"],
    "properties": {"report": _REF, "width": {"type": "integer", "minimum": 1, "maximum": 12},
                   "chart": {"enum": list(CHART_TYPES)}, "title": _LABELS},
}
DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "label": _LABELS, "roles": {"type": "array", "items": _NAME},
        "widgets": {"type": "array", "maxItems": 50, "items": _WIDGET},
        "remove": {"const": True},
    },
}
ALERT_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "label": _LABELS, "report": _REF,
        "measure": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,80}$"},
        "when": {"type": "object", "additionalProperties": False, "required": ["op", "value"],
                 "properties": {"op": {"enum": list(ALERT_OPS)}, "value": {"type": "number"}}},
        "group": {"type": "array", "maxItems": MAX_GROUPINGS, "items": _SCALAR},
        "notify": {"type": "array", "minItems": 1, "items": _NAME},
        "every_minutes": {"type": "integer", "minimum": 1, "maximum": 10080},
        "remove": {"const": True},
    },
}
