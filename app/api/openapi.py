"""The OpenAPI 3.1 document of one config version: a path set and schemas per entity, from the
same metadata that builds the tables and forms, so it changes when the config changes."""

from __future__ import annotations

from typing import Any

from app.api.fieldschema import field_schema
from app.api.serialize import SYSTEM_KEYS, USER_KEYS, api_fields
from app.meta.listconf import NO_VALUE_OPS
from app.meta.types import EntityDef, Meta
from app.records import Records
from app.records.query import MAX_PAGE_SIZE, REFERENCE_TYPES

JSON = "application/json"
PROBLEMS = {
    "400": "The request is malformed (bad parameter, filter, cursor or JSON).",
    "401": "No valid token or session.",
    "403": "Not allowed (a read-only token writing, a missing CSRF token).",
    "404": "No such record (or it is in the recycle bin).",
    "409": "The record changed meanwhile (optimistic locking).",
    "412": "If-Match does not match the record's current version.",
    "415": "The body is not JSON.",
    "422": "Some values are not valid: `error.fields` names each field's problems.",
    "423": "The record is locked while an approval of it is pending.",
    "429": "Too many requests.",
}
SYSTEM_SCHEMAS: dict[str, dict[str, Any]] = {
    "id": {"type": "integer", "readOnly": True},
    "version": {"type": "integer", "readOnly": True,
                "description": "Increases with each change; send it back in If-Match."},
    "created_at": {"type": "string", "format": "date-time", "readOnly": True},
    "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
    "owner": {"type": ["integer", "null"], "description": "The owner's user id."},
    "created_by": {"type": ["integer", "null"], "readOnly": True},
    "updated_by": {"type": ["integer", "null"], "readOnly": True},
}


def document(meta: Meta, records: Records, *, version: int | None, title: str,
             server: str = "/api/v1", admin: bool = True) -> dict[str, Any]:
    """`admin`: with the administrators' personal data requests (app/api/openapi_extra.py)."""
    from app.api.openapi_extra import extra_paths, extra_schemas

    schemas: dict[str, Any] = {"Error": _error_schema(), "Meta": {"type": "object"},
                               **extra_schemas(meta)}
    paths: dict[str, Any] = {"/meta": {"get": {
        "operationId": "meta", "summary": "Entities and fields of the live config",
        "tags": ["meta"], "responses": _responses("200", "Meta")}}}
    for entity in meta.entities.values():
        schemas.update(_entity_schemas(records, entity))
        paths.update(_entity_paths(records, entity))
        paths.update(extra_paths(meta, records, entity, admin=admin))
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{title} API", "version": f"config-{version or 0}",
                 "description": "Records of every entity of this deployment. Generated from "
                                "the live configuration: it changes when the config changes."},
        "servers": [{"url": server}],
        "security": [{"token": []}, {"session": []}],
        "tags": [{"name": e.name, "description": f"{e.plural_for('en')} · {e.plural_for('zh_CN')}"}
                 for e in meta.entities.values()],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer",
                          "description": "An API token (Your account > API tokens, or "
                                         "`crm token create`)."},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "The browser session; writes also need the "
                                           "X-CSRFToken header."},
            },
        },
    }


def _error_schema() -> dict[str, Any]:
    return {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["status", "message"],
        "properties": {
            "status": {"type": "integer"},
            "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {
                "type": "array", "items": {"type": "string"}}},
            "index": {"type": "integer", "description": "the failing item of a bulk write"},
            "current": {"type": "object"},
        }}}}


def _name(entity: EntityDef) -> str:
    return "".join(part.capitalize() for part in entity.name.split("_"))


def _entity_schemas(records: Records, entity: EntityDef) -> dict[str, Any]:
    name = _name(entity)
    fields = api_fields(records, entity)
    read = {k: dict(SYSTEM_SCHEMAS[k]) for k in SYSTEM_KEYS}
    write: dict[str, Any] = {"owner": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1,
                                       "description": "The owner's user id."}}
    required: list[str] = []
    for f in fields:
        ftype = records.registry.get(f.type)
        read[f.name] = field_schema(ftype, f, for_input=False)
        if ftype.computed or not ftype.has_column or f.read_only:
            continue
        write[f.name] = field_schema(ftype, f, for_input=True)
        if ftype.api_kwargs(f).get("required"):
            required.append(f.name)
    expandable = {f.name: {"type": ["object", "null"]} for f in fields
                  if f.type in REFERENCE_TYPES}
    expandable.update({k: {"type": ["object", "null"]} for k in USER_KEYS})
    read["expanded"] = {"type": "object", "properties": expandable,
                        "description": "The records named by `expand=`."}
    label = entity.label_for("en")
    return {
        name: {"type": "object", "title": label, "properties": read,
               "required": list(SYSTEM_KEYS)},
        f"{name}Create": {"type": "object", "title": f"New {label}", "properties": write,
                          "required": required, "additionalProperties": False},
        f"{name}Update": {"type": "object", "title": f"{label} changes", "properties": write,
                          "additionalProperties": False},
        f"{name}List": {"type": "object", "required": ["data", "has_more", "next_cursor"],
                        "properties": {
                            "data": {"type": "array", "items": _ref(name)},
                            "count": {"type": "integer"},
                            "count_is_estimate": {"type": "boolean"},
                            "has_more": {"type": "boolean"},
                            "next_cursor": {"type": ["string", "null"]}}},
        f"{name}Bulk": {"type": "object", "required": ["records"], "additionalProperties": False,
                        "properties": {"records": {
                            "type": "array", "minItems": 1, "maxItems": 200,
                            "items": {"type": "object", "properties": {
                                **write, "id": {"type": "integer", "minimum": 1,
                                                "maximum": 2**31 - 1},
                                "version": {"type": "integer", "minimum": 1,
                                            "maximum": 2**31 - 1}}}}}},
        f"{name}Page": {"type": "object", "required": ["data"], "properties": {
            "data": {"type": "array", "items": _ref(name)}}},
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _responses(ok: str, schema: str | None, *problems: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if schema is None:
        out[ok] = {"description": "Done."}
    else:
        out[ok] = {"description": "Done.", "content": {JSON: {"schema": _ref(schema)}}}
    for code in ("400", "401", "403", "429", *problems):
        out[code] = {"description": PROBLEMS[code],
                     "content": {JSON: {"schema": _ref("Error")}}}
    return out


def _filter_params(records: Records, entity: EntityDef) -> list[dict[str, Any]]:
    params = []
    for f in api_fields(records, entity):
        ftype = records.registry.get(f.type)
        for op in ftype.filter_ops_of(f):
            schema: dict[str, Any] = {"type": "string", "maxLength": 200}
            if op in NO_VALUE_OPS:
                schema = {"type": "string", "enum": ["1"]}
            params.append({"name": f"f.{f.name}.{op}", "in": "query", "required": False,
                           "schema": schema, "description": f"{f.name} {op}"})
    return params


def _entity_paths(records: Records, entity: EntityDef) -> dict[str, Any]:
    name, base = _name(entity), f"/{entity.name}"
    label = entity.label_for("en")
    a = "an" if label[:1].lower() in "aeiou" else "a"
    fields = [*SYSTEM_KEYS, *(f.name for f in api_fields(records, entity))]
    sortable = [f.name for f in api_fields(records, entity)] + ["id", "created_at",
                                                                "updated_at"]
    expand = [f.name for f in api_fields(records, entity) if f.type in REFERENCE_TYPES] + list(
        USER_KEYS)
    csv_of = "Comma-separated: "
    list_params = [
        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200},
         "description": "Quick search over the entity's searchable fields."},
        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": [
            *sortable, *(f"-{s}" for s in sortable)]}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                    "maximum": MAX_PAGE_SIZE}},
        {"name": "cursor", "in": "query", "schema": {"type": "string", "maxLength": 500},
         "description": "`next_cursor` of the previous page."},
        {"name": "fields", "in": "query", "schema": {"type": "string"},
         "description": csv_of + ", ".join(fields)},
        {"name": "expand", "in": "query", "schema": {"type": "string"},
         "description": csv_of + ", ".join(expand)},
        {"name": "owner", "in": "query", "schema": {"type": "string", "enum": ["me"]}},
        {"name": "archived", "in": "query", "schema": {"type": "string", "enum": ["1"]},
         "description": "1: archived records too (administrators only; ignored for others)."},
        *_filter_params(records, entity),
    ]
    record_id = {"name": "id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
    if_match = {"name": "If-Match", "in": "header", "required": False,
                "schema": {"type": "string", "pattern": '^"[0-9]{1,9}"$'},
                "description": "The ETag of the version you read: refused with 412 if the "
                               "record changed since."}
    body = {"required": True, "content": {JSON: {"schema": _ref(f"{name}Create")}}}
    patch_body = {"required": True, "content": {JSON: {"schema": _ref(f"{name}Update")}}}
    tags = [entity.name]
    return {
        base: {
            "get": {"operationId": f"list_{entity.name}", "summary": f"List {label} records",
                    "tags": tags, "parameters": list_params,
                    "responses": _responses("200", f"{name}List")},
            "post": {"operationId": f"create_{entity.name}", "summary": f"Create {a} {label}",
                     "tags": tags, "requestBody": body,
                     "responses": _responses("201", name, "404", "415", "422")},
        },
        f"{base}/{{id}}": {
            "get": {"operationId": f"get_{entity.name}", "summary": f"Read {a} {label}",
                    "tags": tags, "parameters": [
                        record_id,
                        {"name": "fields", "in": "query", "schema": {"type": "string"}},
                        {"name": "expand", "in": "query", "schema": {"type": "string"}}],
                    "responses": _responses("200", name, "404")},
            "patch": {"operationId": f"update_{entity.name}", "summary": f"Change {a} {label}",
                      "tags": tags, "parameters": [record_id, if_match],
                      "requestBody": patch_body,
                      "responses": _responses("200", name, "404", "409", "412", "415",
                                              "422", "423")},
            "delete": {"operationId": f"delete_{entity.name}",
                       "summary": f"Move {a} {label} to the recycle bin", "tags": tags,
                       "parameters": [record_id, if_match],
                       "responses": _responses("204", None, "404", "409", "412", "422",
                                               "423")},
        },
        f"{base}/bulk": {
            "post": {"operationId": f"bulk_{entity.name}",
                     "summary": f"Create and change many {label} records, all or nothing",
                     "tags": tags,
                     "requestBody": {"required": True, "content": {JSON: {
                         "schema": _ref(f"{name}Bulk")}}},
                     "responses": _responses("200", f"{name}Page", "404", "409", "415",
                                             "422")},
        },
    }
