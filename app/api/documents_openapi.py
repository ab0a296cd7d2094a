"""The documents sub-resources of the OpenAPI document (app/api/documents.py), for entities
that have documents (`documents:` in workflows/*.yaml)."""

from __future__ import annotations

from typing import Any

from app.api.openapi import _ref, _responses
from app.meta.types import EntityDef, Meta

MAX_ID = 2**31 - 1
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def document_schemas(meta: Meta) -> dict[str, Any]:
    if not meta.feature("documents"):
        return {}
    text_or_null = {"type": ["string", "null"]}
    return {
        "DocumentVersion": {
            "type": "object",
            "required": ["document", "label", "version", "attachment_id", "filename", "size",
                         "created_at", "created_by", "record_version", "removed",
                         "download_url", "web_url"],
            "properties": {
                "document": {"type": "string", "description": "The document's name."},
                "label": {"type": "string"},
                "version": {"type": "integer", "minimum": 1},
                "attachment_id": {"type": "integer",
                                  "description": "The PDF, an attachment of the record."},
                "filename": {"type": "string"}, "size": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "created_by": {**text_or_null, "description": "Who generated it."},
                "record_version": {"type": ["integer", "null"],
                                   "description": "The record's version it shows."},
                "removed": {"type": "boolean",
                            "description": "Its attachment was removed."},
                "download_url": {**text_or_null,
                                 "description": "The PDF through the API."},
                "web_url": {**text_or_null, "description": "The PDF on the site."}}},
        "DocumentVersionList": {"type": "object", "required": ["data"], "properties": {
            "data": {"type": "array", "items": _ref("DocumentVersion")}}},
    }


def document_paths(meta: Meta, entity: EntityDef) -> dict[str, Any]:
    """`/documents` of one entity's records, when it has documents."""
    names = sorted(n for n, d in meta.feature("documents").items() if d.entity == entity.name)
    if not names:
        return {}
    base, tags = f"/{entity.name}/{{id}}/documents", [entity.name]
    label = entity.label_for("en")
    record_id = {"name": "id", "in": "path", "required": True, "schema": dict(_ID)}
    name = {"name": "name", "in": "path", "required": True,
            "schema": {"type": "string", "enum": names}, "description": "The document."}
    return {
        base: {"get": {
            "operationId": f"list_{entity.name}_documents",
            "summary": f"The documents generated for a {label}, newest first",
            "tags": tags, "parameters": [record_id, {
                "name": "document", "in": "query", "required": False,
                "schema": {"type": "string", "enum": names},
                "description": "Only this document's versions."}],
            "responses": _responses("200", "DocumentVersionList", "404")}},
        f"{base}/{{name}}": {"post": {
            "operationId": f"generate_{entity.name}_document",
            "summary": f"Generate the next version of a {label}'s document (a PDF, kept as "
                       "an attachment); needs edit access and the document's `when`",
            "tags": tags, "parameters": [record_id, name],
            "responses": _responses("201", "DocumentVersion", "404", "422", "423")}},
        f"{base}/{{name}}/{{version}}": {"get": {
            "operationId": f"download_{entity.name}_document",
            "summary": f"The PDF of one version of a {label}'s document",
            "tags": tags, "parameters": [record_id, name, {
                "name": "version", "in": "path", "required": True, "schema": dict(_ID)}],
            "responses": {**_responses("200", None, "404"), "200": {
                "description": "The PDF.",
                "content": {"application/pdf": {"schema": {"type": "string",
                                                           "format": "binary"}}}}}}},
    }
