"""The communication centre's operations in the OpenAPI document (app/api/comms.py): sending and
listing the emails of each entity that has someone to write to, and the overdue follow-ups."""

from __future__ import annotations

from typing import Any

from app.api.openapi import _ref, _responses
from app.comms.email import (
    MAX_BODY,
    MAX_FILES,
    MAX_HTML,
    MAX_KIND,
    MAX_RECIPIENTS,
    MAX_SUBJECT,
)
from app.comms.links import can_email
from app.records import Records

_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_ADDRESSES = {"type": "array", "maxItems": MAX_RECIPIENTS,
              "items": {"type": "string", "minLength": 3, "maxLength": 254}}
PURPOSES = ("service", "marketing")


def comms_schemas() -> dict[str, Any]:
    text = {"type": "string", "minLength": 1, "maxLength": MAX_KIND}
    return {
        "EmailSend": {
            "type": "object", "additionalProperties": False,
            "required": ["to", "subject", "body_text"],
            "properties": {
                "to": {**_ADDRESSES, "minItems": 1, "description": "Recipients' addresses."},
                "cc": {**_ADDRESSES, "description": "Copies to."},
                "subject": {"type": "string", "minLength": 1, "maxLength": MAX_SUBJECT},
                "body_text": {"type": "string", "maxLength": MAX_BODY,
                              "description": "Plain text; the HTML is made from it unless "
                                             "body_html is given."},
                "body_html": {"type": ["string", "null"], "maxLength": MAX_HTML},
                "attachment_ids": {"type": "array", "maxItems": MAX_FILES, "items": _ID,
                                   "description": "Attachments of the record (or of records "
                                                  "the caller may read)."},
                "purpose": {"type": "string", "enum": list(PURPOSES), "default": "service",
                            "description": "marketing: only to contacts who consented."},
                "kind": {**text, "default": "email",
                         "description": "What sends it (quote, survey ...)."}}},
        "EmailSent": {
            "type": "object", "required": ["email_ids", "blocked", "mail_ids"],
            "properties": {
                "email_ids": {"type": "array", "items": {"type": "integer"},
                              "description": "The email records logged."},
                "blocked": {"type": "object", "additionalProperties": {"type": "string"},
                            "description": "Address -> why it was not sent."},
                "mail_ids": {"type": "array", "items": {"type": "integer"},
                             "description": "The mails queued, one per recipient."}}},
        "EmailList": {
            "type": "object", "required": ["data"], "properties": {"data": {
                "type": "array", "items": {"type": "object", "required": ["id"],
                                           "description": "An email record (status: queued, "
                                                          "sent, failed, skipped)."}}}},
        "OverdueFollowups": {
            "type": "object", "required": ["scope", "count", "groups"], "properties": {
                "scope": {"type": "string", "enum": ["mine", "team"]},
                "count": {"type": "integer"},
                "groups": {"type": "array", "items": {
                    "type": "object", "required": ["user", "name", "data"], "properties": {
                        "user": {"type": ["integer", "null"],
                                 "description": "The person responsible."},
                        "name": {"type": ["string", "null"]},
                        "data": {"type": "array", "items": {"type": "object"}}}}}}},
    }


def comms_paths(records: Records, entities: list[str]) -> dict[str, Any]:
    """The emails of each of `entities` that has someone to write to, and /activities/overdue
    (when the config has activities)."""
    record_id = {"name": "id", "in": "path", "required": True, "schema": dict(_ID)}
    paths: dict[str, Any] = {}
    email = records.meta.entities.get("email")
    if email is not None and records.access().allows("email", "read"):
        for name in entities:
            if not can_email(records, name):
                continue
            tags = [name]
            paths[f"/{name}/{{id}}/emails"] = {
                "get": {"operationId": f"list_{name}_emails",
                        "summary": "The emails logged on the record, with their status",
                        "tags": tags, "parameters": [record_id],
                        "responses": _responses("200", "EmailList", "404")},
                "post": {"operationId": f"email_{name}",
                         "summary": "Send an email from the record (logged on it; the task "
                                    "queue sends it)",
                         "tags": tags, "parameters": [record_id],
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": _ref("EmailSend")}}},
                         "responses": _responses("201", "EmailSent", "404", "422")}}
    if "activity" in records.meta.entities and records.access().allows("activity", "read"):
        paths["/activities/overdue"] = {"get": {
            "operationId": "overdue_followups",
            "summary": "Overdue follow-ups: yours, or those of the people who report to you",
            "tags": ["activity"], "parameters": [{
                "name": "scope", "in": "query", "required": False,
                "schema": {"type": "string", "enum": ["mine", "team"], "default": "mine"}}],
            "responses": _responses("200", "OverdueFollowups")}}
    return paths
