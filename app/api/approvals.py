"""The approvals in the REST API (app/workflow/approvals/ does the work and checks who may do
what; these routes read the request, call it and answer JSON):

- `GET /approvals?box=pending|submitted|history`: the caller's inbox, paged like other lists;
- `GET|POST /<entity>/<id>/approvals`: a record's approvals (tasks, history and what the caller
  may do now), or submit it; `GET /<entity>/<id>/approvals/simulate`: who would approve it;
- `POST /approvals/<id>/recall|comments`, `POST /approval-tasks/<id>/approve|reject|reassign`;
- `GET /approvals/stats` (administrators, sales directors and service managers);
- `GET|PUT|DELETE /me/delegation`: the caller's out-of-office delegate.

A record, approval or task the caller may not see is a 404, one they may see but not act on a
403; an approval or task that is not open any more (or a record that already waits for an
approval) a 409; values the engine refuses a 422 naming the field. The answers' shapes are in
app/api/approvals_openapi.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest

from app.api.auth import api_actor, api_user_id
from app.i18n import _, get_locale
from app.meta.access import ADMIN
from app.model.approvals import approval_tasks, approvals
from app.model.system import users
from app.records import Actor, NotFound, RecordError, ValidationFailed
from app.records import query as q
from app.records.errors import Forbidden
from app.textnum import SQL_INT_MAX, small_int
from app.web.approvals import STATS_ROLES
from app.web.detail import check_id
from app.web.state import entity_or_404, records, state
from app.workflow.approvals.delegation import clear_delegation, delegation_of, set_delegation
from app.workflow.approvals.engine import Approvals
from app.workflow.approvals.inbox import LIMIT, ApprovalView, Inbox, RecordActions
from app.workflow.approvals.simulate import simulate
from app.workflow.approvals.stats import overdue, statistics

bp = Blueprint("api_approvals", __name__)
BOXES = ("pending", "submitted", "history")
#: the most inbox items the engine lists per box (the rest are older)
BOX_LIMIT = LIMIT
MAX_NAME = 150
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --- JSON ------------------------------------------------------------------------------------
def _when(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()


def approval_json(view: ApprovalView) -> dict[str, Any]:
    """One approval with its tasks and history (`ApprovalView` of the inbox)."""
    return {
        "id": view.id, "process": view.process, "process_label": view.process_label,
        "status": view.status, "step_label": view.step_label,
        "submitted_by_id": view.submitted_by_id, "submitted_by": view.submitted_by,
        "submitted_at": _when(view.submitted_at), "decided_at": _when(view.decided_at),
        "config_version": view.config_version,
        "tasks": [{"id": t.id, "step_label": t.step_label, "assignee": t.assignee,
                   "queue": t.queue, "delegated_from": t.delegated_from, "status": t.status,
                   "created_at": _when(t.created_at), "due_at": _when(t.due_at),
                   "decided_at": _when(t.decided_at), "decided_by": t.decided_by,
                   "comment": t.comment} for t in view.tasks],
        "events": [{"at": _when(e.at), "kind": e.kind, "user": e.user,
                    "step_label": e.step_label, "comment": e.comment, "data": e.data}
                   for e in view.events],
    }


def actions_json(acts: RecordActions) -> dict[str, Any]:
    return {"submit": [{"process": name, "label": label} for name, label in acts.submit],
            "refused": [{"label": label, "reason": why} for label, why in acts.refused],
            "pending_approval": acts.pending_id, "recall": acts.recall,
            "tasks": list(acts.tasks), "locked": acts.locked}


# --- request helpers -------------------------------------------------------------------------
def _service() -> Approvals:
    """The approval operations, reading and acting as the caller."""
    return Approvals(records(), state().ctx.settings)


def _body(keys: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object sent (none: `{}`), with no key but `keys` and every one of `required`."""
    body: Any = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be one JSON object."))
    unknown = sorted(set(body) - set(keys))
    if unknown:
        raise BadRequest(_("Unknown key '%(name)s'.", name=str(unknown[0])[:60]))
    for key in required:
        if body.get(key) in (None, ""):
            raise BadRequest(_("Send '%(name)s'.", name=key))
    return body


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(_("'%(name)s' must be text.", name=key))
    return value or None


def _params(*allowed: str) -> None:
    for key in request.args:
        if key not in allowed:
            raise q.QueryError(_("Unknown parameter '%(name)s'.", name=key[:60]))


def _user_id(value: Any, key: str) -> int:
    """A user named in a body by id or by username: their id (an active user's, for a name)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value <= SQL_INT_MAX:
            raise BadRequest(_("'%(name)s' must be a user id (a whole number) or a username.",
                               name=key))
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise BadRequest(_("'%(name)s' must be a user id (a whole number) or a username.",
                           name=key))
    with state().ctx.engine.connect() as conn:
        found = conn.execute(sa.select(users.c.id).where(
            users.c.username == value.strip(), users.c.active.is_(True))).scalar()
    if found is None:
        raise ValidationFailed({key: [_("There is no active user '%(name)s'.",
                                        name=value.strip()[:60])]})
    return int(found)


def _person(username: str) -> Actor:
    """An active user as the submitter of a simulation, else 404."""
    with state().ctx.engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.username, users.c.roles).where(
            users.c.username == username, users.c.active.is_(True))).first()
    if row is None:
        raise NotFound(_("There is no active user '%(name)s'.", name=username[:60]))
    return Actor(int(row.id), row.username, tuple(row.roles or ()), get_locale())


@contextmanager
def _conflicts() -> Iterator[None]:
    """The engine's plain refusals of an operation are about the approval's state (a task
    decided already, an approval not pending, a record that waits already): 409 Conflict."""
    try:
        yield
    except RecordError as exc:
        if type(exc) is RecordError:
            exc.status = 409
        raise


def _view(entity: str, record_id: int, approval_id: int) -> dict[str, Any]:
    """The approval as it is now (the caller was allowed to act on it, so may see it)."""
    for view in Inbox(records()).of_record(entity, record_id):
        if view.id == approval_id:
            return approval_json(view)
    raise NotFound(_("Approval #%(id)s does not exist.", id=approval_id))


def _approval_of(*, approval_id: int | None = None, task_id: int | None = None
                 ) -> tuple[str, int, int]:
    """(entity, record id, approval id) of an approval, or of a task's approval."""
    a = approvals.c
    stmt = sa.select(a.entity, a.record_id, a.id)
    if task_id is not None:
        stmt = stmt.join(approval_tasks, approval_tasks.c.approval_id == a.id).where(
            approval_tasks.c.id == task_id)
    else:
        stmt = stmt.where(a.id == approval_id)
    with state().ctx.engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        raise NotFound(_("Approval #%(id)s does not exist.", id=approval_id or task_id))
    return str(row.entity), int(row.record_id), int(row.id)


def _no_process(entity: str) -> NotFound:
    return NotFound(_("%(entity)s records have no approval process.",
                      entity=records().entity(entity).label_for(get_locale())))


# --- the inbox -------------------------------------------------------------------------------
@bp.get("/approvals")
def inbox() -> Response:
    """`box`: pending (default; tasks waiting for the caller), submitted (the caller's
    submissions) or history (tasks they decided); `limit`, `cursor` as for lists."""
    _params("box", "limit", "cursor")
    box = request.args.get("box") or "pending"
    if box not in BOXES:
        raise q.QueryError(_("box must be pending, submitted or history."))
    raw = request.args.get("limit")
    limit = q.DEFAULT_PAGE_SIZE if raw in (None, "") else small_int(raw, q.MAX_PAGE_SIZE)
    if not limit:
        raise q.QueryError(_("limit must be a whole number from 1 to %(max)s.",
                             max=q.MAX_PAGE_SIZE))
    start = 0
    if request.args.get("cursor"):
        found = small_int(request.args["cursor"], BOX_LIMIT)
        if found is None:
            raise q.QueryError(_("The cursor is not valid: start again from the first page."))
        start = found
    me, box_of = api_actor(), Inbox(records())
    items = {"pending": box_of.pending_for, "submitted": box_of.submitted_by,
             "history": box_of.history_of}[box](me)
    page = items[start:start + limit]
    more = start + limit < len(items)
    return jsonify({"box": box, "data": [i.as_json() for i in page], "count": len(items),
                    "count_is_estimate": len(items) >= BOX_LIMIT, "has_more": more,
                    "next_cursor": str(start + limit) if more else None})


# --- a record's approvals --------------------------------------------------------------------
@bp.get("/<entity>/<int:id>/approvals")
def record_approvals(entity: str, id: int) -> Response:
    e = entity_or_404(entity)
    check_id(id)
    _params()
    rec = records()
    rec.get(e.name, id)  # 404 unless the caller may read the record
    box = Inbox(rec)
    return jsonify({"data": [approval_json(v) for v in box.of_record(e.name, id)],
                    "actions": actions_json(box.actions(_service(), e.name, id,
                                                        api_actor()))})


@bp.post("/<entity>/<int:id>/approvals")
def submit(entity: str, id: int) -> tuple[Response, int]:
    """Body (optional): `{"process": name, "comment": text}`; 201 with the new approval."""
    e = entity_or_404(entity)
    check_id(id)
    body = _body(("process", "comment"))
    process, comment = _text(body, "process"), _text(body, "comment")
    records().get(e.name, id)
    service = _service()
    if not service.processes(e.name):
        raise _no_process(e.name)
    with _conflicts():
        approval_id = service.submit(e.name, id, api_actor(), process=process, comment=comment)
    return jsonify(_view(e.name, id, approval_id)), 201


@bp.get("/<entity>/<int:id>/approvals/simulate")
def simulate_submission(entity: str, id: int) -> Response:
    """Who would approve the record through which steps if the caller (`as`: an
    administrator names anyone) submitted it now; changes nothing."""
    e = entity_or_404(entity)
    check_id(id)
    _params("process", "as")
    records().get(e.name, id)
    service = _service()
    names = {p.name for p in service.processes(e.name)}
    if not names:
        raise _no_process(e.name)
    process = request.args.get("process") or None
    if process is not None and process not in names:
        raise NotFound(_("There is no approval process %(name)s.", name=process[:60]))
    me = submitter = api_actor()
    chosen = request.args.get("as") or ""
    if chosen and chosen != me.username:
        if ADMIN not in me.roles:
            raise Forbidden(_("Only administrators may simulate a submission by someone "
                              "else."))
        submitter = _person(chosen)
    return jsonify(simulate(service, e.name, id, submitter, process).as_json())


# --- acting on approvals and tasks ------------------------------------------------------------
@bp.post("/approvals/<int:approval_id>/recall")
def recall(approval_id: int) -> Response:
    """Body (optional): `{"comment": text}`. The submitter or an administrator."""
    check_id(approval_id)
    comment = _text(_body(("comment",)), "comment")
    with _conflicts():
        _service().recall(approval_id, api_actor(), comment=comment)
    return jsonify(_view(*_approval_of(approval_id=approval_id)))


@bp.post("/approvals/<int:approval_id>/comments")
def add_comment(approval_id: int) -> tuple[Response, int]:
    """Body: `{"comment": text}`; whoever may see the approval."""
    check_id(approval_id)
    body = _body(("comment",), required=("comment",))
    _service().comment(approval_id, api_actor(), _text(body, "comment") or "")
    return jsonify(_view(*_approval_of(approval_id=approval_id))), 201


@bp.post("/approval-tasks/<int:task_id>/<any(approve, reject):decision>")
def decide(task_id: int, decision: str) -> Response:
    """Body (optional): `{"comment": text}`."""
    check_id(task_id)
    comment = _text(_body(("comment",)), "comment")
    with _conflicts():
        _service().decide(task_id, api_actor(), approve=decision == "approve", comment=comment)
    return jsonify(_view(*_approval_of(task_id=task_id)))


@bp.post("/approval-tasks/<int:task_id>/reassign")
def reassign(task_id: int) -> Response:
    """Body: `{"to": user id or username, "comment": text}`; 200 with the new task's id."""
    check_id(task_id)
    body = _body(("to", "comment"), required=("to",))
    to = _user_id(body["to"], "to")
    comment = _text(body, "comment")
    with _conflicts():
        new_id = _service().reassign(task_id, api_actor(), to, comment=comment)
    return jsonify({"task_id": new_id, "approval": _view(*_approval_of(task_id=new_id))})


# --- statistics ------------------------------------------------------------------------------
def _since(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw) if DAY.fullmatch(raw) else None
    except ValueError:
        day = None
    if day is None:
        raise q.QueryError(_("since must be a date like 2026-01-31."))
    return datetime.combine(day, time(), UTC)


@bp.get("/approvals/stats")
def stats() -> Response:
    """Per process and step (administrators, sales directors and service managers)."""
    roles = set(api_actor().roles)
    if ADMIN not in roles and not roles & set(STATS_ROLES):
        raise Forbidden(_("Only administrators, sales directors and service managers may see "
                          "the approval statistics."))
    _params("process", "since")
    process = request.args.get("process") or None
    if process is not None and process not in records().meta.approvals:
        raise NotFound(_("There is no approval process %(name)s.", name=process[:60]))
    since = _since(request.args.get("since"))
    with state().ctx.engine.connect() as conn:
        found = statistics(conn, process=process, since=since)
        late = overdue(conn)
    return jsonify({"data": [s.as_json() for s in found], "overdue": late,
                    "process": process, "since": since.date().isoformat() if since else None})


# --- out of office ---------------------------------------------------------------------------
def _moment(body: dict[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(_("'%(name)s' must be a date and time as text.", name=key))
    try:  # stored as UTC (naive: UTC already)
        moment = datetime.fromisoformat(value.strip())
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValidationFailed({key: [_("Enter a date and time like "
                                        "2026-11-02T09:00:00+00:00.")]}) from None


@bp.get("/me/delegation")
def get_delegation() -> Response:
    with state().ctx.engine.connect() as conn:
        found = delegation_of(conn, api_user_id())
    if found is None:
        raise NotFound(_("Your approvals are not delegated."))
    return jsonify(found.as_json())


@bp.put("/me/delegation")
def put_delegation() -> Response:
    """Body: `{"delegate": user id or username, "starts_at": ISO, "ends_at": ISO}` (the
    times optional: from now, until cleared); replaces the caller's delegation."""
    body = _body(("delegate", "starts_at", "ends_at"), required=("delegate",))
    delegate = _user_id(body["delegate"], "delegate")
    starts_at, ends_at = _moment(body, "starts_at"), _moment(body, "ends_at")
    with state().ctx.engine.begin() as conn:
        done = set_delegation(conn, api_user_id(), delegate, starts_at=starts_at,
                              ends_at=ends_at)
    return jsonify(done.as_json())


@bp.delete("/me/delegation")
def delete_delegation() -> tuple[str, int]:
    with state().ctx.engine.begin() as conn:
        cleared = clear_delegation(conn, api_user_id())
    if not cleared:
        raise NotFound(_("Your approvals are not delegated."))
    return "", 204
