"""The designer routes (app/api/designer.py) in the administrators' OpenAPI document:
`designer_schemas` (added to the shared schemas) and `designer_paths`. Other roles' documents
do not list them (the routes answer them 403)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.api.designer import MAX_MESSAGE, MAX_PAGE
from app.api.openapi import JSON, PROBLEMS, _ref
from app.designer.changes import OPS
from app.designer.history import SECTIONS
from app.migrate.steps import DESTRUCTIVE, SAFE, UNSUPPORTED

MAX_ID = 2**31 - 1
TAGS = ["config"]
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_TEXT = {"type": "string"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_TEXTS = {"type": "array", "items": _TEXT}
_PROBLEMS = {
    **PROBLEMS,
    "400": "The request is malformed, or the change cannot be made (`error.message` says why; "
           "nothing is saved).",
    "403": "Not an administrator (or a read-only token writing, a missing CSRF token).",
    "404": "No such config version, change number, or recorded files.",
    "409": "The draft was started on a version that is no longer live: `error.newer` lists "
           "what was published since, `error.differences` what it changed. Rebase the draft.",
    "422": "The draft cannot be applied as it is: `error.blockers` lists why (`error.hides`: "
           "what needs `confirm`).",
}


def _object(required: Iterable[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


def _answers(ok: str, schema: str | None, *problems: str) -> dict[str, Any]:
    out: dict[str, Any] = {ok: {"description": "Done."}}
    if schema is not None:
        out[ok]["content"] = {JSON: {"schema": _ref(schema)}}
    for code in ("400", "401", "403", "429", *problems):
        error = {"409": "ConfigConflict", "422": "ConfigRefused"}.get(code, "Error")
        out[code] = {"description": _PROBLEMS[code], "content": {JSON: {"schema": _ref(error)}}}
    return out


def _body(schema: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": _ref(schema)}}}


def designer_schemas() -> dict[str, Any]:
    step = _object(
        ["op", "entity", "safety", "summary", "problems", "warnings"],
        op={**_TEXT, "description": "add_column, hide_column, create_table, ..."},
        entity=_TEXT, summary=_TEXT,
        safety={"type": "string", "enum": [SAFE, DESTRUCTIVE, UNSUPPORTED]},
        column=_TEXT, rows={"type": "integer", "description": "Rows the step touches."},
        problems={**_TEXTS, "description": "Values that would not convert: the step is "
                                           "refused."},
        warnings=_TEXTS)
    plan = _object(["base_version", "target_digest", "purge", "steps"],
                   base_version=_INT_OR_NULL, base_digest=_TEXT_OR_NULL, target_digest=_TEXT,
                   purge={"type": "boolean"},
                   steps={"type": "array", "items": _ref("ConfigPlanStep")})
    version = _object(
        ["id", "created_at", "author", "message", "digest", "has_files", "live", "steps"],
        id={"type": "integer"}, created_at={"type": ["string", "null"], "format": "date-time"},
        author=_TEXT_OR_NULL, message=_TEXT_OR_NULL, digest=_TEXT, parent_id=_INT_OR_NULL,
        has_files={"type": "boolean", "description": "Whether its YAML files were recorded "
                                                     "(it can be restored)."},
        live={"type": "boolean"},
        steps={"type": "array", "items": _ref("ConfigPlanStep"),
               "description": "What publishing it did to the database."})
    difference = _object(
        ["where", "kind", "details"],
        where={**_TEXT, "description": "\"account.tier\", \"account\", \"stages "
                                       "opportunity_pipeline\", \"roles\" ..."},
        kind={"type": "string", "enum": ["added", "removed", "changed"]},
        details={"type": "array", "description": "The properties that changed.",
                 "items": _object(["key", "old", "new"], key=_TEXT, old={}, new={})})
    file_diff = _object(
        ["key", "path", "kind", "diff"],
        key={**_TEXT, "description": "kind/layer/name, e.g. schemas/1/account.yaml"},
        path={**_TEXT, "description": "Relative to the deployment's folder."},
        kind={"type": "string", "enum": ["added", "removed", "changed"]},
        diff={**_TEXT, "description": "A unified diff."})
    error = _object(["code", "message", "file", "line", "column"], code=_TEXT, message=_TEXT,
                    file=_TEXT, line={"type": "integer"}, column={"type": "integer"})
    changes = {"type": "array", "items": _object(
        ["number", "summary", "change"], number={"type": "integer", "minimum": 1},
        summary=_TEXT, change={"type": "object", "description": "The change as sent (a revert "
                                                 "holds {op: restore, version})."})}
    draft_props: dict[str, Any] = {
        "author": _TEXT, "base_version": _INT_OR_NULL, "live_version": _INT_OR_NULL,
        "changes": changes}
    conflict_props: dict[str, Any] = {
        "newer": {"type": "array", "items": _ref("ConfigVersion")},
        "differences": {"type": "array", "items": _ref("ConfigDifference")}}
    conflict = _object(["base_version", "live_version", "message", *conflict_props],
                       base_version=_INT_OR_NULL, live_version=_INT_OR_NULL, message=_TEXT,
                       **conflict_props)
    problem = {"status": {"type": "integer"}, "message": _TEXT}
    return {
        "ConfigChange": {
            "type": "object", "required": ["op"],
            "properties": {"op": {"type": "string", "enum": list(OPS)}},
            "description": "One designer change; the keys besides `op` depend on it (docs/api."
                           "md): add_entity {entity, label, plural?, title_label?}; entity "
                           "{entity, values}; field {entity, field, definition}; remove_field "
                           "{entity, field}; order_fields {entity, fields}; layout {entity, "
                           "layout}; permissions {entity, role, grant}; role {role, values}; "
                           "preset {preset, definition}; workflow {section: "
                           + "|".join(SECTIONS) + ", name, definition}; file {file, text}."},
        "ConfigDraft": _object(["author", "base_version", "live_version", "changes"],
                               **draft_props),
        "ConfigPlanStep": step,
        "ConfigPlan": plan,
        "ConfigVersion": version,
        "ConfigVersionList": _object(
            ["data", "live_version", "limit", "offset", "has_more"],
            data={"type": "array", "items": _ref("ConfigVersion"),
                  "description": "Newest first."},
            live_version=_INT_OR_NULL, limit={"type": "integer"}, offset={"type": "integer"},
            has_more={"type": "boolean"}),
        "ConfigDifference": difference,
        "ConfigFileDiff": file_diff,
        "ConfigConflictInfo": conflict,
        "ConfigPreview": _object(
            ["author", "base_version", "live_version", "changes", "files", "change_error",
             "errors", "plan", "hides", "checks", "failed_checks", "conflict", "read_only",
             "drift", "blockers", "needs_confirm", "can_apply"],
            **draft_props,
            files={"type": "array", "items": _ref("ConfigFileDiff"),
                   "description": "The YAML the draft writes."},
            change_error={**_TEXT_OR_NULL, "description": "A change that cannot be made on "
                                                          "the draft's version."},
            errors={"type": "array", "items": error,
                    "description": "The changed config's errors, with file and line."},
            plan={"oneOf": [_ref("ConfigPlan"), {"type": "null"}]},
            hides={"type": "array", "items": _ref("ConfigPlanStep"),
                   "description": "Steps that hide data (kept): applying needs confirm."},
            checks={"type": "array", "items": {"type": "object"},
                    "description": "The config checks' results (config_tests/)."},
            failed_checks={"type": "integer"},
            conflict={"oneOf": [_ref("ConfigConflictInfo"), {"type": "null"}]},
            read_only=_TEXT_OR_NULL,
            drift={**_TEXTS, "description": "Files edited on disk since the draft's "
                                            "version."},
            blockers={**_TEXTS, "description": "Why it cannot be applied now (empty: it "
                                               "can)."},
            needs_confirm={"type": "boolean"}, can_apply={"type": "boolean"}),
        "ConfigApply": {"type": "object", "additionalProperties": False, "properties": {
            "message": {"type": "string", "maxLength": MAX_MESSAGE,
                        "description": "Recorded with the version (default: the changes' "
                                       "summaries)."},
            "confirm": {"type": "boolean", "description": "Hide fields or entities (their "
                                                          "data is kept), or apply despite "
                                                          "failing config checks."}}},
        "ConfigApplied": _object(
            ["version", "plan", "written", "skipped"], version=_INT_OR_NULL,
            plan=_ref("ConfigPlan"),
            written={**_TEXTS, "description": "YAML files written back."},
            skipped={"type": "array", "items": _object(["path", "reason"], path=_TEXT,
                                                       reason=_TEXT)}),
        "ConfigCompare": _object(
            ["from", "to", "differences", "files_recorded", "files"],
            **{"from": {"type": "integer"}, "to": {"type": "integer"}},
            differences={"type": "array", "items": _ref("ConfigDifference")},
            files_recorded={"type": "boolean"},
            files={"type": "array", "items": _ref("ConfigFileDiff")}),
        "ConfigVersionFiles": _object(
            ["version", "files", "paths"], version={"type": "integer"},
            files={"type": "object", "additionalProperties": _TEXT,
                   "description": "File key -> YAML text."},
            paths={"type": "object", "additionalProperties": _TEXT}),
        "ConfigPurge": {"type": "object", "additionalProperties": False, "required": ["confirm"],
                        "properties": {"confirm": {"type": "boolean", "const": True},
                                       "version": {"type": "integer", "minimum": 0,
                                                   "maximum": 2**31 - 1}}},
        "ConfigConflict": _object(["error"], error=_object(
            ["status", "message", "newer", "differences"], **problem,
            base_version=_INT_OR_NULL, live_version=_INT_OR_NULL, **conflict_props)),
        "ConfigRefused": _object(["error"], error=_object(
            ["status", "message"], **problem,
            blockers={**_TEXTS, "description": "Why the draft cannot be applied."},
            hides={"type": "array", "items": _ref("ConfigPlanStep")},
            failed_checks={"type": "integer"},
            plan={"oneOf": [_ref("ConfigPlan"), {"type": "null"}]})),
    }


def designer_paths() -> dict[str, Any]:
    version_id = {"name": "id", "in": "path", "required": True, "schema": dict(_ID),
                  "description": "A config version."}

    def op(name: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
        return {"operationId": name, "summary": summary, "tags": TAGS, **more,
                "responses": responses}

    return {
        "/config/draft": {
            "get": op("get_config_draft", "Your draft of config changes (empty: none)",
                      _answers("200", "ConfigDraft")),
            "delete": op("discard_config_draft", "Throw your draft away",
                         _answers("204", None)),
        },
        "/config/draft/changes": {"post": op(
            "add_config_change", "Add a change to your draft (400 when it cannot be made)",
            _answers("201", "ConfigDraft"), requestBody=_body("ConfigChange"))},
        "/config/draft/changes/{number}": {"delete": op(
            "remove_config_change", "Take a change out of your draft",
            _answers("200", "ConfigDraft", "404"),
            parameters=[{"name": "number", "in": "path", "required": True,
                         "schema": dict(_ID), "description": "As listed, from 1."}])},
        "/config/draft/rebase": {"post": op(
            "rebase_config_draft", "Move your draft onto the live version",
            _answers("200", "ConfigDraft"))},
        "/config/draft/preview": {"get": op(
            "preview_config_draft", "What applying your draft would do: YAML, errors, plan, "
            "checks, conflicts", _answers("200", "ConfigPreview"))},
        "/config/draft/apply": {"post": op(
            "apply_config_draft", "Publish your draft as a new config version",
            _answers("200", "ConfigApplied", "409", "422"),
            requestBody=_body("ConfigApply", required=False))},
        "/config/versions": {"get": op(
            "list_config_versions", "The published config versions, newest first",
            _answers("200", "ConfigVersionList"), parameters=[
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
                {"name": "offset", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID}}])},
        "/config/versions/{a}/diff/{b}": {"get": op(
            "compare_config_versions", "What changed from version a to version b",
            _answers("200", "ConfigCompare", "404"), parameters=[
                {"name": n, "in": "path", "required": True, "schema": dict(_ID)}
                for n in ("a", "b")])},
        "/config/versions/{id}/files": {"get": op(
            "config_version_files", "The YAML files recorded with a version",
            _answers("200", "ConfigVersionFiles", "404"), parameters=[version_id])},
        "/config/versions/{id}/revert": {"post": op(
            "revert_config_version", "Replace your draft with one restoring a version",
            _answers("200", "ConfigDraft", "404", "422"), parameters=[version_id])},
        "/config/purge": {
            "get": op("config_purge_plan", "The hidden columns and tables a purge drops",
                      _answers("200", "ConfigPlan", "422")),
            "post": op("purge_config", "Drop the hidden columns and tables (backups kept)",
                       _answers("200", "ConfigApplied", "409", "422"),
                       requestBody=_body("ConfigPurge")),
        },
    }
