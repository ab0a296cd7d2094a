"""The approval routes (app/api/approvals.py) in the OpenAPI document: `approval_schemas`
(with the other shared schemas), `record_approval_paths` (per entity that has an approval
process) and `approval_paths` (the inbox, decisions, statistics for the roles that may read
them, the caller's delegation). Nothing here when the config has no approval process."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.api.openapi import JSON, PROBLEMS, _ref
from app.meta.access import ADMIN
from app.meta.types import EntityDef, Meta
from app.records.query import MAX_PAGE_SIZE
from app.workflow.approvals.engine import MAX_COMMENT

MAX_ID = 2**31 - 1
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_TEXT = {"type": "string"}
_NAME_OR_NULL = {"type": ["string", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_WHEN = {"type": "string", "format": "date-time"}
_WHEN_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_COMMENT = {"type": "string", "maxLength": MAX_COMMENT}
_USER_REF = {"oneOf": [{**_ID, "description": "An active user's id."},
                       {"type": "string", "minLength": 1, "maxLength": 150,
                        "pattern": r"\S", "description": "An active user's username."}]}
TAGS = ["approvals"]
#: what the statuses mean on these routes
_APPROVAL_PROBLEMS = {
    **PROBLEMS,
    "403": "Not allowed: not the caller's task, not the submitter, no edit access to the "
           "record (or a read-only token, a missing CSRF token).",
    "404": "No such record, approval, task or process, or not one the caller may see.",
    "409": "The approval or task is not open any more (decided, recalled), or the record "
           "already waits for an approval.",
    "422": "Refused values: `error.fields` names them (a comment too long, a submission the "
           "process does not accept, an inactive user).",
}


def _answers(ok: str, schema: str | None, *problems: str) -> dict[str, Any]:
    out: dict[str, Any] = {ok: {"description": "Done."}}
    if schema is not None:
        out[ok]["content"] = {JSON: {"schema": _ref(schema)}}
    for code in ("400", "401", "403", "429", *problems):
        out[code] = {"description": _APPROVAL_PROBLEMS[code],
                     "content": {JSON: {"schema": _ref("Error")}}}
    return out


def _object(required: Iterable[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


def _body(schema: dict[str, Any] | str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {
        "schema": _ref(schema) if isinstance(schema, str) else schema}}}


def approval_schemas(meta: Meta) -> dict[str, Any]:
    if not meta.approvals:
        return {}
    strings = {"type": "array", "items": _TEXT}
    item = _object(
        ["approval_id", "process", "entity", "record_id", "title", "status", "submitted_at",
         "task_id", "due_at", "overdue"],
        approval_id=_ID, process=_TEXT, process_label=_TEXT, entity=_TEXT, entity_label=_TEXT,
        record_id={"type": "integer"}, title=_TEXT,
        status={**_TEXT, "description": "A task's status (pending, history) or the "
                                        "approval's (submitted)."},
        submitted_by=_TEXT, submitted_by_id=_INT_OR_NULL, submitted_at=_WHEN, step_label=_TEXT,
        task_id={**_INT_OR_NULL, "description": "The task to decide (null: submitted box)."},
        queue=_NAME_OR_NULL, delegated_from=_NAME_OR_NULL, due_at=_WHEN_OR_NULL,
        decided_at=_WHEN_OR_NULL, comment=_NAME_OR_NULL, overdue={"type": "boolean"})
    task = _object(
        ["id", "status", "assignee", "queue", "due_at", "decided_at"],
        id={"type": "integer"}, step_label=_TEXT,
        assignee={**_TEXT, "description": "The approver's name (\"\": a queue's task)."},
        queue=_NAME_OR_NULL, delegated_from=_NAME_OR_NULL,
        status={**_TEXT, "description": "open, approved, rejected, reassigned, escalated or "
                                        "cancelled."},
        created_at=_WHEN_OR_NULL, due_at=_WHEN_OR_NULL, decided_at=_WHEN_OR_NULL,
        decided_by=_NAME_OR_NULL, comment=_NAME_OR_NULL)
    event = _object(["at", "kind", "user"], at=_WHEN,
                    kind={**_TEXT, "description": "submitted, step_started, approved, "
                                                  "rejected, reassigned, escalated, commented "
                                                  "..."},
                    user=_TEXT, step_label=_TEXT, comment=_NAME_OR_NULL,
                    data={"type": "object", "description": "Details (user and task ids)."})
    approval = _object(
        ["id", "process", "status", "submitted_at", "tasks", "events"],
        id={"type": "integer"}, process=_TEXT, process_label=_TEXT,
        status={**_TEXT, "description": "pending, approved, rejected or recalled."},
        step_label={**_TEXT, "description": "The current (or last) step."},
        submitted_by_id=_INT_OR_NULL, submitted_by=_TEXT, submitted_at=_WHEN,
        decided_at=_WHEN_OR_NULL,
        config_version={**_INT_OR_NULL, "description": "The config version it is pinned to."},
        tasks={"type": "array", "items": _ref("ApprovalTask")},
        events={"type": "array", "items": _ref("ApprovalEvent"),
                "description": "The history, oldest first."})
    actions = _object(
        ["submit", "refused", "pending_approval", "recall", "tasks", "locked"],
        submit={"type": "array", "description": "Processes the caller may submit it to now.",
                "items": _object(["process", "label"], process=_TEXT, label=_TEXT)},
        refused={"type": "array", "description": "Processes they may not, and why.",
                 "items": _object(["label", "reason"], label=_TEXT, reason=_TEXT)},
        pending_approval={**_INT_OR_NULL, "description": "The approval pending now."},
        recall={"type": "boolean", "description": "Whether the caller may recall it."},
        tasks={"type": "array", "items": {"type": "integer"},
               "description": "Open tasks the caller may approve, reject or reassign."},
        locked={"type": "boolean", "description": "Locked while the approval is pending."})
    duration = {"type": ["string", "integer", "null"]}
    step_plan = _object(
        ["name", "applies", "approvers"], name=_TEXT, label=_TEXT, applies={"type": "boolean"},
        approvers=strings, mode=_TEXT, needed={"type": "integer"}, problems=strings,
        auto_approved={"type": "boolean"}, remind_after=duration, escalate_after=duration,
        escalate_to=strings, on_reject=_TEXT)
    plan = _object(
        ["name", "refused", "steps", "blocked"], name=_TEXT, label=_TEXT,
        refused={**_NAME_OR_NULL, "description": "Why the submitter may not submit (null: "
                                                 "they may)."},
        steps={"type": "array", "items": step_plan},
        actions={"type": "object", "additionalProperties": strings},
        blocked={"type": "boolean", "description": "A step would find no approver."})
    step_stats = _object(
        ["step", "decided", "approved", "rejected", "open", "overdue", "avg_seconds",
         "p90_seconds"], step=_TEXT, label=_TEXT, decided={"type": "integer"},
        approved={"type": "integer"}, rejected={"type": "integer"}, open={"type": "integer"},
        overdue={"type": "integer"}, avg_seconds={"type": ["number", "null"]},
        p90_seconds={"type": ["number", "null"]})
    process_stats = _object(
        ["process", "submitted", "approved", "rejected", "recalled", "pending",
         "approval_rate", "steps"], process=_TEXT, label=_TEXT,
        submitted={"type": "integer"}, approved={"type": "integer"},
        rejected={"type": "integer"}, recalled={"type": "integer"},
        pending={"type": "integer"},
        approval_rate={"type": ["number", "null"],
                       "description": "Approved among approved + rejected (0 to 1)."},
        steps={"type": "array", "items": step_stats})
    moment = {"type": ["string", "null"], "maxLength": 64,
              "description": "ISO 8601, e.g. 2026-11-02T09:00:00+00:00 (no offset: UTC)."}
    return {
        "ApprovalItem": item,
        "ApprovalInbox": _object(
            ["box", "data", "count", "has_more", "next_cursor"],
            box={"type": "string", "enum": ["pending", "submitted", "history"]},
            data={"type": "array", "items": _ref("ApprovalItem")},
            count={"type": "integer"},
            count_is_estimate={"type": "boolean", "description": "The box lists its first "
                                                                 "200 items."},
            has_more={"type": "boolean"}, next_cursor=_NAME_OR_NULL),
        "ApprovalTask": task,
        "ApprovalEvent": event,
        "Approval": approval,
        "ApprovalActions": actions,
        "RecordApprovals": _object(["data", "actions"],
                                   data={"type": "array", "items": _ref("Approval"),
                                         "description": "Newest first."},
                                   actions=_ref("ApprovalActions")),
        "ApprovalComment": {"type": "object", "additionalProperties": False,
                            "required": ["comment"],
                            "properties": {"comment": {**_COMMENT, "minLength": 1}}},
        "ApprovalDecision": {"type": "object", "additionalProperties": False,
                             "properties": {"comment": _COMMENT}},
        "ApprovalReassign": {"type": "object", "additionalProperties": False,
                             "required": ["to"],
                             "properties": {"to": _USER_REF, "comment": _COMMENT}},
        "ApprovalReassigned": _object(["task_id", "approval"], task_id={
            "type": "integer", "description": "The new task."}, approval=_ref("Approval")),
        "ApprovalSimulation": _object(
            ["entity", "record_id", "title", "submitter", "pending_approval", "processes"],
            entity=_TEXT, record_id={"type": "integer"}, title=_TEXT, submitter=_TEXT,
            pending_approval=_INT_OR_NULL, processes={"type": "array", "items": plan}),
        "ApprovalStats": _object(
            ["data", "overdue", "process", "since"],
            data={"type": "array", "items": process_stats},
            overdue={"type": "integer", "description": "Open tasks past their due time now, "
                                                       "all processes."},
            process=_NAME_OR_NULL, since={"type": ["string", "null"], "format": "date"}),
        "Delegation": _object(
            ["delegate_id", "delegate", "starts_at", "ends_at", "active"],
            delegate_id={"type": "integer"}, delegate=_TEXT, starts_at=_WHEN_OR_NULL,
            ends_at=_WHEN_OR_NULL, active={"type": "boolean",
                                           "description": "Whether it holds now."}),
        "DelegationSet": {"type": "object", "additionalProperties": False,
                          "required": ["delegate"], "properties": {
                              "delegate": _USER_REF, "starts_at": moment, "ends_at": moment}},
    }


def record_approval_paths(meta: Meta, entity: EntityDef) -> dict[str, Any]:
    """`/<entity>/{id}/approvals` and its simulation, where a process governs the entity."""
    names = [p.name for p in meta.approvals.values() if p.entity == entity.name]
    if not names:
        return {}
    base, tags = f"/{entity.name}/{{id}}", [entity.name, *TAGS]
    label = entity.label_for("en")
    a = "an" if label[:1].lower() in "aeiou" else "a"
    record_id = {"name": "id", "in": "path", "required": True, "schema": dict(_ID)}
    process = {"type": "string", "enum": names}
    submit = {"type": "object", "additionalProperties": False, "properties": {
        "process": {**process, "description": "Default: the first the record meets."},
        "comment": _COMMENT}}
    return {
        f"{base}/approvals": {
            "get": {"operationId": f"approvals_of_{entity.name}",
                    "summary": f"The approvals of {a} {label}, with their tasks and history, "
                               "and what the caller may do now", "tags": tags,
                    "parameters": [record_id],
                    "responses": _answers("200", "RecordApprovals", "404")},
            "post": {"operationId": f"submit_{entity.name}_for_approval",
                     "summary": f"Submit {a} {label} for approval", "tags": tags,
                     "parameters": [record_id], "requestBody": _body(submit, required=False),
                     "responses": _answers("201", "Approval", "404", "409", "422")},
        },
        f"{base}/approvals/simulate": {"get": {
            "operationId": f"simulate_{entity.name}_approval",
            "summary": f"Who would approve {a} {label}, through which steps (changes nothing)",
            "tags": tags, "parameters": [
                record_id,
                {"name": "process", "in": "query", "required": False, "schema": process},
                {"name": "as", "in": "query", "required": False,
                 "schema": {"type": "string", "maxLength": 150},
                 "description": "The submitter's username (administrators; default: the "
                                "caller)."}],
            "responses": _answers("200", "ApprovalSimulation", "404")}},
    }


def approval_paths(meta: Meta, roles: Iterable[str]) -> dict[str, Any]:
    """The caller's inbox, decisions and delegation; the statistics for the roles that may
    read them."""
    from app.web.approvals import STATS_ROLES

    if not meta.approvals:
        return {}
    task_id = {"name": "id", "in": "path", "required": True, "schema": dict(_ID),
               "description": "An approval task's id."}
    approval_id = {"name": "id", "in": "path", "required": True, "schema": dict(_ID),
                   "description": "An approval's id."}
    decision = _body("ApprovalDecision", required=False)

    def post(op: str, summary: str, param: dict[str, Any], body: dict[str, Any], ok: str,
             schema: str, *problems: str) -> dict[str, Any]:
        return {"post": {"operationId": op, "summary": summary, "tags": TAGS,
                         "parameters": [param], "requestBody": body,
                         "responses": _answers(ok, schema, *problems)}}

    paths: dict[str, Any] = {
        "/approvals": {"get": {
            "operationId": "approval_inbox", "summary": "Your approvals inbox", "tags": TAGS,
            "parameters": [
                {"name": "box", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["pending", "submitted", "history"]},
                 "description": "pending (default): tasks waiting for you; submitted: your "
                                "submissions; history: tasks you decided."},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}},
                {"name": "cursor", "in": "query", "required": False,
                 "schema": {"type": "string", "pattern": "^[0-9]{1,3}$"},
                 "description": "`next_cursor` of the previous page."}],
            "responses": _answers("200", "ApprovalInbox")}},
        "/approvals/{id}/recall": post(
            "recall_approval", "Recall an approval (its submitter or an administrator)",
            approval_id, decision, "200", "Approval", "404", "409", "422"),
        "/approvals/{id}/comments": post(
            "comment_approval", "Comment on an approval (the submitter and the approvers "
            "are told)", approval_id, _body("ApprovalComment"), "201", "Approval", "404",
            "422"),
        "/approval-tasks/{id}/approve": post(
            "approve_task", "Approve an approval task", task_id, decision, "200", "Approval",
            "404", "409", "422"),
        "/approval-tasks/{id}/reject": post(
            "reject_task", "Reject an approval task", task_id, decision, "200", "Approval",
            "404", "409", "422"),
        "/approval-tasks/{id}/reassign": post(
            "reassign_task", "Give an approval task to another user", task_id,
            _body("ApprovalReassign"), "200", "ApprovalReassigned", "404", "409", "422"),
        "/me/delegation": {
            "get": {"operationId": "get_delegation",
                    "summary": "Your out-of-office delegate (404: none)",
                    "tags": TAGS, "responses": _answers("200", "Delegation", "404")},
            "put": {"operationId": "set_delegation",
                    "summary": "Name the delegate who gets your new approval tasks",
                    "tags": TAGS, "requestBody": _body("DelegationSet"),
                    "responses": _answers("200", "Delegation", "422")},
            "delete": {"operationId": "clear_delegation",
                       "summary": "Stop delegating your approval tasks", "tags": TAGS,
                       "responses": _answers("204", None, "404")},
        },
    }
    if set(roles) & {ADMIN, *STATS_ROLES}:
        paths["/approvals/stats"] = {"get": {
            "operationId": "approval_stats",
            "summary": "Approvals per process and step: outcomes, approval rate, time to a "
                       "decision, open and overdue tasks", "tags": TAGS,
            "parameters": [
                {"name": "process", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": sorted(meta.approvals)}},
                {"name": "since", "in": "query", "required": False,
                 "schema": {"type": "string", "format": "date"},
                 "description": "Only approvals submitted since this day (UTC)."}],
            "responses": _answers("200", "ApprovalStats", "404")}}
    return paths
