"""The record sub-resources of the OpenAPI document (app/api/openapi.py `document`): shares
(app/api/shares.py), stage moves (app/api/resources.py `record_moves`, only where a stage machine
governs the entity), conversions (app/api/convert.py, only where the config has one) and the
admins' personal data requests (app/api/privacy.py, only for entities with personal fields);
and the caller's notifications (app/api/notifications.py, `notification_paths`)."""

from __future__ import annotations

from typing import Any

from app.api.approvals_openapi import approval_schemas, record_approval_paths
from app.api.openapi import JSON, _ref, _responses
from app.meta.access import SHARE_ACCESS
from app.meta.types import EntityDef, Meta
from app.records import Records
from app.records.privacy import MODES, is_person_entity
from app.workflow.machine import machines_for

MAX_ID = 2**31 - 1
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_OPTIONAL_NAME = {"type": ["string", "null"]}


def extra_schemas(meta: Meta) -> dict[str, Any]:
    """Schemas shared by every entity's sub-resources."""
    schemas: dict[str, Any] = {
        "Share": {"type": "object", "required": ["id", "user", "team", "access"], "properties": {
            "id": {"type": "integer"},
            "user": {"type": ["integer", "null"], "description": "The user's id."},
            "username": _OPTIONAL_NAME,
            "team": _OPTIONAL_NAME,
            "access": {"type": "string", "enum": list(SHARE_ACCESS)},
            "created_by": {"type": ["string", "null"], "description": "Who shared (username)."},
            "created_at": {"type": ["string", "null"], "format": "date-time"}}},
        "ShareList": {"type": "object", "required": ["data"], "properties": {
            "data": {"type": "array", "items": _ref("Share")}}},
        "ShareCreate": {
            "type": "object", "additionalProperties": False,
            "description": "One of `user` and `team`; sharing again with them changes the "
                           "access.",
            "properties": {"user": {**_ID, "description": "An active user's id."},
                           "team": {"type": "string", "maxLength": 100,
                                    "description": "A team's name."},
                           "access": {"type": "string", "enum": list(SHARE_ACCESS),
                                      "default": "read"}}},
        "PersonalData": {
            "type": "object",
            "required": ["format", "exported_at", "entity", "id", "personal_fields", "record",
                         "linked", "history", "attachments"],
            "properties": {
                "format": {"type": "string"},
                "exported_at": {"type": "string", "format": "date-time"},
                "entity": {"type": "string"}, "entity_label": {"type": "string"},
                "id": {"type": "integer"}, "title": {"type": "string"},
                "personal_fields": {"type": "array", "items": {"type": "string"}},
                "record": {"type": "object", "required": ["id", "fields"], "properties": {
                    "id": {"type": "integer"},
                    "fields": {"type": "object", "additionalProperties": {
                        "type": "object", "required": ["type", "value"], "properties": {
                            "label": {"type": "string"}, "type": {"type": "string"},
                            "personal": {"type": "boolean"}, "value": {}}}}}},
                "linked": {"type": "object", "description": "Entity -> the records linking "
                                                            "to this one.",
                           "additionalProperties": {"type": "array", "items": {
                               "type": "object", "required": ["entity", "via", "id"],
                               "properties": {
                                   "entity": {"type": "string"}, "via": {"type": "string"},
                                   "id": {"type": "integer"}, "title": {"type": "string"},
                                   "deleted": {"type": "boolean"},
                                   "fields": {"type": "object"}}}}},
                "history": {"type": "array", "items": {"type": "object", "properties": {
                    "at": {"type": ["string", "null"]}, "action": {"type": "string"},
                    "user": {"type": ["string", "null"]},
                    "version": {"type": ["integer", "null"]},
                    "changes": {"type": "object"}}}},
                "attachments": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"},
                    "content_type": {"type": ["string", "null"]},
                    "size": {"type": ["integer", "null"]},
                    "uploaded_at": {"type": "string"}, "removed": {"type": "boolean"}}}},
            }},
        "EraseRequest": {"type": "object", "additionalProperties": False, "properties": {
            "mode": {"type": "string", "enum": list(MODES), "default": "erase"}}},
        "Erased": {
            "type": "object",
            "required": ["entity", "id", "fields", "cascaded", "attachments_deleted",
                         "audit_entries_scrubbed"],
            "properties": {
                "entity": {"type": "string"}, "id": {"type": "integer"},
                "fields": {"type": "array", "items": {"type": "string"},
                           "description": "The fields of the record that were emptied."},
                "cascaded": {"type": "array", "items": {
                    "type": "object", "required": ["entity", "id"], "properties": {
                        "entity": {"type": "string"}, "id": {"type": "integer"}}}},
                "attachments_deleted": {"type": "integer"},
                "audit_entries_scrubbed": {"type": "integer"}}},
    }
    schemas.update(notification_schemas())
    from app.api.documents_openapi import document_schemas

    schemas.update(document_schemas(meta))
    from app.api.campaign_mail_openapi import campaign_mail_schemas

    schemas.update(campaign_mail_schemas(meta))
    schemas.update(approval_schemas(meta))
    if meta.stages:
        schemas["Moves"] = {"type": "object", "required": ["field", "from", "to"], "properties": {
            "field": {"type": "string", "description": "The stage field."},
            "from": {"type": ["string", "null"], "description": "Its value now."},
            "to": {"type": "array", "items": {"type": "string"},
                   "description": "The values the caller may move it to."}}}
    if meta.conversions:
        schemas["Converted"] = {"type": "object", "required": ["ids"], "properties": {
            "ids": {"type": "object", "additionalProperties": {"type": ["integer", "null"]},
                    "description": "Target -> the record created or reused (null: left "
                                   "out)."},
            "lines": {"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": {"type": "integer"}},
                "description": "Target -> line entity -> how many lines were copied "
                               "under it (targets with `lines:` only)."}}}
    return schemas


def extra_paths(meta: Meta, records: Records, entity: EntityDef, *, admin: bool = True
                ) -> dict[str, Any]:
    """The sub-resources of one entity's records (`admin`: with the personal data requests)."""
    base, tags = f"/{entity.name}/{{id}}", [entity.name]
    label = entity.label_for("en")
    a = "an" if label[:1].lower() in "aeiou" else "a"
    record_id = {"name": "id", "in": "path", "required": True, "schema": dict(_ID)}
    paths: dict[str, Any] = {
        f"{base}/shares": {
            "get": {"operationId": f"list_{entity.name}_shares",
                    "summary": f"The shares of {a} {label}", "tags": tags,
                    "parameters": [record_id],
                    "responses": _responses("200", "ShareList", "404")},
            "post": {"operationId": f"share_{entity.name}",
                     "summary": f"Share {a} {label} with a user or a team (needs edit access)",
                     "tags": tags, "parameters": [record_id],
                     "requestBody": {"required": True, "content": {JSON: {
                         "schema": _ref("ShareCreate")}}},
                     "responses": _responses("201", "Share", "404", "422")},
        },
        f"{base}/shares/{{share_id}}": {
            "delete": {"operationId": f"unshare_{entity.name}",
                       "summary": f"Take back a share of {a} {label} (needs edit access)",
                       "tags": tags, "parameters": [
                           record_id, {"name": "share_id", "in": "path", "required": True,
                                       "schema": dict(_ID)}],
                       "responses": _responses("204", None, "404")},
        },
    }
    machines = machines_for(meta, entity.name)
    if machines:
        paths[f"{base}/moves"] = {"get": {
            "operationId": f"moves_{entity.name}",
            "summary": f"The stages the caller may move {a} {label} to", "tags": tags,
            "parameters": [record_id, {
                "name": "field", "in": "query", "required": False,
                "schema": {"type": "string", "enum": list(machines)},
                "description": "The stage field (default: the first)."}],
            "responses": _responses("200", "Moves", "404")}}
    for conv in meta.conversions.values():
        if conv.entity != entity.name:
            continue
        targets = [t.name for t in conv.targets]
        body = {"type": "object", "additionalProperties": False, "properties": {
            "include": {"type": "object", "additionalProperties": False,
                        "properties": {t: {"type": "boolean"} for t in targets},
                        "description": "Leave optional targets out (false)."},
            "overrides": {"type": "object", "additionalProperties": False,
                          "properties": {t: {"type": "object"} for t in targets},
                          "description": "Values of a target instead of the mapped ones."}}}
        paths[f"{base}/convert/{conv.name}"] = {"post": {
            "operationId": f"convert_{entity.name}_{conv.name}",
            "summary": f"Convert {a} {label} ({conv.name}): "
                       + ", ".join(f"{t.name} ({t.entity})" for t in conv.targets),
            "tags": tags, "parameters": [record_id],
            "requestBody": {"required": False, "content": {JSON: {"schema": body}}},
            "responses": _responses("201", "Converted", "404", "409", "422")}}
    if admin and is_person_entity(records, entity.name):
        paths[f"{base}/personal-data"] = {"get": {
            "operationId": f"personal_data_{entity.name}",
            "summary": f"Everything held about {a} {label} (administrators)", "tags": tags,
            "parameters": [record_id],
            "responses": _responses("200", "PersonalData", "404")}}
        paths[f"{base}/erase"] = {"post": {
            "operationId": f"erase_{entity.name}",
            "summary": f"Erase or anonymise {a} {label}'s personal data (administrators)",
            "tags": tags, "parameters": [record_id],
            "requestBody": {"required": False, "content": {JSON: {
                "schema": _ref("EraseRequest")}}},
            "responses": _responses("200", "Erased", "404", "422")}}
    paths.update(record_approval_paths(meta, entity))
    from app.api.documents_openapi import document_paths

    paths.update(document_paths(meta, entity))
    from app.api.campaign_mail_openapi import campaign_mail_paths

    paths.update(campaign_mail_paths(meta, entity))
    return paths


def notification_schemas() -> dict[str, Any]:
    """Schemas of `/notifications` (app/api/notifications.py)."""
    when = {"type": "string", "format": "date-time"}
    return {
        "Notification": {
            "type": "object",
            "required": ["id", "kind", "subject", "body", "link", "entity", "record_id",
                         "unread", "created_at", "read_at"],
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string", "description": "What happened, e.g. "
                                                          "approval.pending."},
                "subject": {"type": "string"}, "body": {"type": "string"},
                "link": {"type": ["string", "null"],
                         "description": "A path on this site to open (e.g. /quote/12)."},
                "entity": _OPTIONAL_NAME, "record_id": {"type": ["integer", "null"]},
                "unread": {"type": "boolean"},
                "created_at": when, "read_at": {**when, "type": ["string", "null"]}}},
        "NotificationList": {
            "type": "object", "required": ["data", "count", "unread", "has_more", "next_cursor"],
            "properties": {
                "data": {"type": "array", "items": _ref("Notification")},
                "count": {"type": "integer", "description": "How many match (all pages)."},
                "unread": {"type": "integer", "description": "How many are unread."},
                "has_more": {"type": "boolean"},
                "next_cursor": {"type": ["string", "null"]}}},
        "NotificationsRead": {
            "type": "object", "required": ["marked", "unread"], "properties": {
                "marked": {"type": "integer", "description": "How many were unread."},
                "unread": {"type": "integer"}}},
    }


def notification_paths() -> dict[str, Any]:
    """`/notifications` and marking them read: every caller has their own."""
    from app.records.query import MAX_PAGE_SIZE

    tags = ["notifications"]
    return {
        "/notifications": {"get": {
            "operationId": "list_notifications", "summary": "Your notifications, newest first",
            "tags": tags, "parameters": [
                {"name": "unread", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["0", "1"]},
                 "description": "1: only the unread ones."},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}},
                {"name": "cursor", "in": "query", "required": False,
                 "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,8}$"},
                 "description": "`next_cursor` of the previous page."}],
            "responses": _responses("200", "NotificationList")}},
        "/notifications/{id}/read": {"post": {
            "operationId": "read_notification", "summary": "Mark one of your notifications read",
            "tags": tags, "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": dict(_ID)}],
            "responses": _responses("200", "Notification", "404")}},
        "/notifications/read-all": {"post": {
            "operationId": "read_all_notifications",
            "summary": "Mark all your notifications read", "tags": tags,
            "responses": _responses("200", "NotificationsRead")}},
    }
