"""The JSON Schema of entity YAML files, generated from the field type registry.

The same schema validates files when the config loads and ships as `entity.schema.json`, which
each YAML file references so editors validate as it is typed. `crm config jsonschema --write`
regenerates the shipped file; a test fails when it is stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.fields.base import Registry
from app.meta.access import ENTITY_GRANT_SCHEMA

SHIPPED = Path(__file__).with_name("entity.schema.json")

LABELS: dict[str, Any] = {
    "type": "object",
    "description": "text per language, for example {en: Name, zh: 名称}",
    "properties": {"en": {"type": "string"}, "zh": {"type": "string"}},
    "additionalProperties": {"type": "string"},
}
EXPRESSION: dict[str, Any] = {"type": "string", "maxLength": 2000,
                              "description": "an expression over the entity's fields"}

COLUMNS: dict[str, Any] = {"type": "array", "items": {"type": "string"},
                           "description": "field names shown as columns, in order"}
SORT: dict[str, Any] = {"type": "string", "pattern": "^-?[a-z][a-z0-9_]*$",
                        "description": "a field name; a leading - sorts descending"}
FILTER_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "between", "contains", "starts_with", "in",
              "not_in", "empty", "not_empty")
LIST: dict[str, Any] = {
    "type": "object",
    "description": "the default list view: columns, sort and page size",
    "properties": {
        "columns": COLUMNS,
        "sort": SORT,
        "page_size": {"type": "integer", "minimum": 1, "maximum": 500},
    },
    "additionalProperties": False,
}
VIEW: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "label": LABELS,
        "columns": COLUMNS,
        "filters": {
            "type": "object",
            "description": "field -> {operator: value}, e.g. {stage: {in: [won, lost]}}",
            "additionalProperties": {
                "type": "object",
                "propertyNames": {"enum": list(FILTER_OPS)},
            },
        },
        "sort": SORT,
        "search": {"type": "string"},
        "mine": {"type": "boolean", "description": "only records the signed-in user owns"},
    },
    "required": ["name"],
    "additionalProperties": False,
}

COMMON_FIELD_OPTIONS: dict[str, Any] = {
    "type": {"type": "string", "description": "the field type"},
    "label": LABELS,
    "help": LABELS,
    "required": {"type": "boolean"},
    "unique": {"type": "boolean"},
    "indexed": {"type": "boolean"},
    "default": {
        "description": "a literal value, or {expr: '...'} for an expression",
    },
    "min": {"type": ["number", "string"]},
    "max": {"type": ["number", "string"]},
    "max_length": {"type": "integer", "minimum": 1, "maximum": 1000000},
    "pattern": {"type": "string"},
    "read_only": {"type": "boolean"},
    "hidden": {"type": "boolean"},
    "visible_when": EXPRESSION,
    "required_when": EXPRESSION,
    "renamed_from": {"type": "string"},
    "personal": {"type": "boolean",
                 "description": "the field holds a person's data: exported and erased by a "
                                "personal data request (docs/privacy.md)"},
    "encrypted": {"type": "boolean",
                  "description": "encrypted at rest with CRM_ENCRYPTION_KEY; never searched, "
                                 "sorted or filtered on (string, text, email, phone)"},
    "preset": {"type": "string"},
    "remove": {"type": "boolean", "description": "overlay: remove this base field (data kept)"},
}


def field_schema(registry: Registry, for_editors: bool = True) -> dict[str, Any]:
    """`for_editors` adds per-type "requires these options" rules. The loader leaves them
    out: `build.build_field` checks them in Python, and they are most of the validation time on
    large configs."""
    props: dict[str, Any] = dict(COMMON_FIELD_OPTIONS)
    props["type"] = {"type": "string", "enum": registry.names()}
    conditions: list[dict[str, Any]] = []
    for name, ftype in registry.items():
        for opt, schema in ftype.options_schema.items():
            props.setdefault(opt, schema)
        if ftype.required_options and for_editors:
            conditions.append(
                {
                    "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                    "then": {"required": list(ftype.required_options)},
                }
            )
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if conditions:
        out["allOf"] = conditions
    return out


def entity_schema(registry: Registry, for_editors: bool = True) -> dict[str, Any]:
    field = field_schema(registry, for_editors)
    rule = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "when": EXPRESSION,
            "field": {"type": "string"},
            "message": LABELS,
            "remove": {"type": "boolean"},
        },
        "required": ["name"],
        "additionalProperties": False,
    }
    preset = {
        "type": "object",
        "properties": {
            **field["properties"],
            "fields": {"type": "object", "additionalProperties": field},
        },
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://yamlcrm.dev/schema/entity.schema.json",
        "title": "CRM entity or presets file",
        "type": "object",
        "oneOf": [{"required": ["entity"]}, {"required": ["presets"]}],
        "properties": {
            "entity": {"type": "string", "description": "the entity's name"},
            "label": LABELS,
            "plural": LABELS,
            "title": {"type": "string", "description": "the field that names a record"},
            "icon": {"type": "string"},
            "description": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": field},
            "rules": {"type": "array", "items": rule},
            "permissions": {"type": "object", "propertyNames": {"type": "string"},
                            "additionalProperties": ENTITY_GRANT_SCHEMA},
            "layout": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "section": LABELS,
                        "columns": {"type": "integer", "minimum": 1, "maximum": 4},
                        "fields": {"type": "array", "items": {"type": "string"}},
                    },
                    "additionalProperties": False,
                },
            },
            "presets": {"type": "object", "additionalProperties": preset},
            "list": LIST,
            "views": {"type": "array", "items": VIEW,
                      "description": "shared list views everyone sees"},
        },
        "additionalProperties": False,
    }


def render(registry: Registry) -> str:
    return json.dumps(entity_schema(registry), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
