"""Approvals on a record's page: the Approval card (lock banner, Submit for approval, Recall,
Approve / Reject / Reassign, Add comment, the history of every approval of the record), the
submission's POST, and the Simulate page (who would approve it, through which steps; nothing
changes). The decisions' POSTs are those of the inbox (app/web/approvals.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app import clock
from app.i18n import N_, _, gettext
from app.meta.access import ADMIN
from app.meta.approvals import seconds
from app.records import Actor, RecordError
from app.records import related as rel
from app.textnum import small_int
from app.web.approvals import duration_text, enabled, people, refused, service
from app.web.detail import check_id, detail_url, record_title
from app.web.state import actor, entity_or_404, records, state
from app.workflow.approvals.inbox import ApprovalView, EventView, Inbox, RecordActions, TaskView
from app.workflow.approvals.routing import Directory
from app.workflow.approvals.simulate import simulate

bp = Blueprint("approvals_record", __name__)
#: a process's events, as the simulation lists their actions
EVENTS = {"on_submit": N_("When submitted"), "on_approve": N_("When approved"),
          "on_reject": N_("When rejected"), "on_recall": N_("When recalled")}


@dataclass
class HistoryLine:
    """One event of an approval's history, in words."""

    at: datetime
    kind: str
    user: str
    text: str
    step: str
    comment: str | None


@dataclass
class Card:
    """What the Approval card of a record shows."""

    actions: RecordActions
    approvals: list[ApprovalView]
    #: the pending approval (None: nothing pending)
    pending: ApprovalView | None = None
    #: its open tasks (who it waits for)
    waiting: list[TaskView] = field(default_factory=list)
    #: the open tasks the user may decide
    mine: list[TaskView] = field(default_factory=list)
    #: whom a task may be reassigned to
    candidates: list[tuple[int, str]] = field(default_factory=list)
    history: dict[int, list[HistoryLine]] = field(default_factory=dict)
    #: the lock banner ("" when the record is not locked)
    lock: str = ""
    may_edit_locked: bool = False
    #: say whose task each decision form is for (several, or an admin deciding for others)
    label_tasks: bool = False
    now: datetime = field(default_factory=clock.now)


def _who(task: TaskView) -> str:
    if task.assignee:
        return task.assignee
    return _("queue %(team)s", team=task.queue) if task.queue else _("nobody")


def _names(ids: list[int], names: dict[int, str]) -> str:
    return ", ".join(names.get(i, f"#{i}") for i in ids)


def event_text(ev: EventView, view: ApprovalView, names: dict[int, str]) -> str:
    """An approval event in words, with the people it names."""
    data = ev.data
    tasks = {t.id: t for t in view.tasks}

    def person(key: str) -> str:
        value = data.get(key)
        return names.get(int(value), f"#{value}") if isinstance(value, int) else ""

    def assignees(key: str) -> str:
        return ", ".join(_who(tasks[t]) for t in data.get(key) or () if t in tasks)

    kind = ev.kind
    if kind == "submitted":
        return _("Submitted for approval")
    if kind == "step_started":
        return _("Step started, waiting for %(who)s", who=assignees("tasks") or _("nobody"))
    if kind == "step_skipped":
        return _("Step skipped: its condition does not hold")
    if kind == "step_approved":
        return _("Step approved")
    if kind == "approved":
        return _("Approved")
    if kind == "rejected":
        return _("Rejected")
    if kind == "sent_back":
        return _("Sent back to the step before")
    if kind == "recalled":
        return _("Recalled")
    if kind == "reassigned":
        source = person("from") or (_("queue %(team)s", team=data["queue"])
                                    if data.get("queue") else _("nobody"))
        return _("Reassigned from %(old)s to %(new)s", old=source, new=person("to"))
    if kind == "delegated":
        return _("Given to %(delegate)s, who stands in for %(who)s (out of office)",
                 delegate=person("to"), who=person("from"))
    if kind == "escalated":
        return _("Escalated to %(who)s: no decision in time", who=assignees("to") or _("nobody"))
    if kind == "escalation_failed":
        return _("Could not escalate: nobody to escalate to")
    if kind == "reminded":
        return _("Reminder sent to the approver")
    if kind == "commented":
        return _("Commented")
    if kind == "final_approved":
        return _("Approval complete: approved")
    if kind == "final_rejected":
        return _("Approval complete: rejected")
    if kind == "revoked":
        return _("No longer holds: the record was changed after the approval")
    if kind == "record_deleted":
        return _("The record was deleted: the approval ended")
    return kind


def _history(views: list[ApprovalView]) -> dict[int, list[HistoryLine]]:
    ids = {int(v) for view in views for ev in view.events for k, v in ev.data.items()
           if k in ("from", "to") and isinstance(v, int) and ev.kind in ("reassigned",
                                                                      "delegated")}
    names = rel.user_names(records().engine, ids)
    return {view.id: [HistoryLine(ev.at, ev.kind, ev.user, event_text(ev, view, names),
                                  ev.step_label, ev.comment) for ev in view.events]
            for view in views}


@bp.app_template_global()
def approval_card(entity: str, rec: dict[str, Any]) -> Card | None:
    """The Approval card of a record the user may read (None: its entity has no approval
    process)."""
    if not enabled():
        return None
    svc = service()
    if not svc.processes(entity):
        return None
    me = actor()
    box = Inbox(records())
    record_id = int(rec["id"])
    card = Card(box.actions(svc, entity, record_id, me), box.of_record(entity, record_id))
    card.pending = next((v for v in card.approvals if v.id == card.actions.pending_id), None)
    card.history = _history(card.approvals)
    if card.pending is None:
        return card
    card.waiting = [t for t in card.pending.tasks if t.status == "open"]
    card.mine = [t for t in card.waiting if t.id in card.actions.tasks]
    card.label_tasks = len(card.mine) > 1 or ADMIN in me.roles
    if card.mine:
        card.candidates = people({card.pending.submitted_by_id})
    if card.actions.locked:
        card.lock = _("Locked while it waits for %(process)s - step %(step)s.",
                      process=card.pending.process_label, step=card.pending.step_label)
        card.may_edit_locked = bool(card.mine) or ADMIN in me.roles
    return card


@bp.post("/<entity>/<int:record_id>/approval/submit")
@login_required
def submit(entity: str, record_id: int) -> ResponseReturnValue:
    check_id(record_id)
    e = entity_or_404(entity)
    records().get(e.name, record_id)  # NotFound when the user may not see it
    process = request.form.get("process") or None
    try:
        service().submit(e.name, record_id, actor(), process=process,
                         comment=request.form.get("comment") or None)
    except RecordError as exc:
        refused(exc)
    else:
        flash(_("Submitted for approval."), "success")
    return redirect(detail_url(e.name, record_id) + "#approval", 303)


@bp.get("/<entity>/<int:record_id>/approval/simulate")
@login_required
def simulate_page(entity: str, record_id: int) -> ResponseReturnValue:
    """Who would approve the record if the user (an admin: anyone) submitted it now."""
    check_id(record_id)
    e = entity_or_404(entity)
    rec = records().get(e.name, record_id)
    svc = service()
    processes = svc.processes(e.name)
    if not enabled() or not processes:
        abort(404)
    process = request.args.get("process") or None
    if process is not None and process not in {p.name for p in processes}:
        abort(404)
    me = actor()
    is_admin = ADMIN in me.roles
    submitter = me
    chosen = request.args.get("as") or ""
    if chosen:
        uid = small_int(chosen)
        if not is_admin and uid != me.id:
            abort(403)
        submitter = _person(uid) if uid != me.id else me
    result = simulate(svc, e.name, record_id, submitter, process)
    return render_template(
        "approvals/simulate.html", e=e, rec=rec, title=record_title(e, rec), sim=result,
        processes=processes, process=process, people=people() if is_admin else [],
        submitter_id=submitter.id, events={k: gettext(v) for k, v in EVENTS.items()},
        after=lambda value: duration_text(seconds(value)))


def _person(user_id: int | None) -> Actor:
    """An active user as an actor (the submitter of a simulation), else 404."""
    with state().ctx.engine.connect() as conn:
        found = Directory(conn, clock.now()).people.get(user_id or 0)
    if found is None:
        abort(404)
    return Actor(found.id, found.username, found.roles, actor().locale)
