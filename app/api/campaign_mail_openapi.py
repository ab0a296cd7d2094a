"""The campaign mail operation of the OpenAPI document (app/api/campaign_mail.py): `POST
/campaign/{id}/email`, when the config has campaigns, their members and emails."""

from __future__ import annotations

from typing import Any

from app.api.openapi import _ref, _responses
from app.consent.campaign import CAMPAIGN, MAX_BODY, MAX_SUBJECT, MEMBER
from app.meta.types import EntityDef, Meta

_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def _available(meta: Meta) -> bool:
    return all(n in meta.entities for n in (CAMPAIGN, MEMBER, "email"))


def campaign_mail_schemas(meta: Meta) -> dict[str, Any]:
    if not _available(meta):
        return {}
    person = {"type": "object", "required": ["member", "name", "entity", "record_id",
                                             "address"], "properties": {
        "member": {**_ID, "description": "The campaign member."},
        "name": {"type": "string"},
        "entity": {"type": ["string", "null"], "description": "contact or lead"},
        "record_id": {"type": ["integer", "null"]},
        "address": {"type": ["string", "null"]},
        "reason": {"type": "string", "description": "Why it is not sent (blocked only)."}}}
    return {
        "CampaignEmail": {"type": "object", "additionalProperties": False,
                          "required": ["subject", "body"], "properties": {
                              "subject": {"type": "string", "minLength": 1,
                                          "maxLength": MAX_SUBJECT},
                              "body": {"type": "string", "minLength": 1,
                                       "maxLength": MAX_BODY},
                              "dry_run": {"type": "boolean", "default": False}}},
        "CampaignMember": person,
        "CampaignEmailed": {"type": "object", "required": ["dry_run", "sent", "blocked",
                                                           "email_ids"], "properties": {
            "dry_run": {"type": "boolean"},
            "sent": {"type": "array", "items": _ref("CampaignMember"),
                     "description": "Members sent the message (with dry_run: who would be)."},
            "blocked": {"type": "array", "items": _ref("CampaignMember"),
                        "description": "Members left out, each with the reason."},
            "email_ids": {"type": "array", "items": {"type": "integer"}}}},
    }


def campaign_mail_paths(meta: Meta, entity: EntityDef) -> dict[str, Any]:
    if entity.name != CAMPAIGN or not _available(meta):
        return {}
    return {f"/{CAMPAIGN}/{{id}}/email": {"post": {
        "operationId": "email_campaign_members",
        "summary": "Marketing email to the campaign's members who consented to it (needs "
                   "edit access to the campaign); dry_run: only who would receive it",
        "tags": [CAMPAIGN],
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": dict(_ID)}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": _ref("CampaignEmail")}}},
        "responses": {**_responses("201", "CampaignEmailed", "404", "422"),
                      "200": {"description": "Dry run: nothing sent.", "content": {
                          "application/json": {"schema": _ref("CampaignEmailed")}}}}}}}
