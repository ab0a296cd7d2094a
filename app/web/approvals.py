"""The approvals inbox (`/approvals/`) and the decisions taken from it or from a record's page:
approve, reject, reassign (tasks), recall and comment (approvals). The engine is
app/workflow/approvals/ (it checks who may do what); these views only read the form, call it
and say what happened.

Every change is a POST carrying the CSRF token; a GET changes nothing. After a POST the user
goes back to the page the form was on (`next`, a path on this site) or to the inbox. A task or
an approval the user may not see is a 404, one they may see but not decide a 403 (both from the
engine); a refusal they can fix (a decided task, a too long comment) is a message.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app import clock
from app.i18n import N_, _, gettext
from app.meta.access import ADMIN
from app.records import RecordError, ValidationFailed
from app.textnum import small_int
from app.web.security import safe_next
from app.web.state import actor, records, state
from app.workflow.approvals.engine import Approvals
from app.workflow.approvals.inbox import Inbox, Item
from app.workflow.approvals.routing import Directory

log = logging.getLogger(__name__)
bp = Blueprint("approvals", __name__)

#: the inbox tabs, in order: (name, label)
TABS: tuple[tuple[str, str], ...] = (
    ("pending", N_("Pending for me")),
    ("submitted", N_("Submitted by me")),
    ("history", N_("History")),
)
#: roles (besides admin) that may read the approval statistics
STATS_ROLES = ("sales_director", "service_manager")

#: sys_approval.status and sys_approval_task.status in words
STATUS_TEXT = {
    "pending": N_("Pending"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "recalled": N_("Recalled"),
    "open": N_("Waiting"),
    "cancelled": N_("Cancelled"),
    "escalated": N_("Escalated"),
    "reassigned": N_("Reassigned"),
}
#: Bootstrap colours of those statuses
STATUS_COLOUR = {
    "pending": "warning", "open": "warning", "approved": "success", "rejected": "danger",
    "recalled": "secondary", "cancelled": "secondary", "escalated": "info",
    "reassigned": "info",
}


# --- shared by the approval pages ------------------------------------------------------------
def service() -> Approvals:
    """The approval operations, acting and reading as the signed-in user."""
    return Approvals(records(), state().ctx.settings)


def inbox() -> Inbox:
    return Inbox(records())


def enabled() -> bool:
    """Whether the live config has any approval process."""
    meta = state().meta
    return meta is not None and bool(meta.approvals) and state().models is not None


def may_see_stats() -> bool:
    roles = set(actor().roles)
    return ADMIN in roles or bool(roles & set(STATS_ROLES))


def status_text(status: str) -> str:
    return gettext(STATUS_TEXT[status]) if status in STATUS_TEXT else status


def duration_text(seconds: float | None) -> str:
    """A duration for people, its two largest units: "45 s", "12 min", "3 h 20 min",
    "2 d 4 h" ("" for None)."""
    if seconds is None:
        return ""
    total = round(seconds)
    if total < 60:
        return _("%(n)s s", n=total)
    minutes = total // 60
    if minutes < 60:
        return _("%(n)s min", n=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("%(h)s h %(m)s min", h=hours, m=minutes) if minutes else _("%(n)s h", n=hours)
    days, hours = divmod(hours, 24)
    return _("%(d)s d %(h)s h", d=days, h=hours) if hours else _("%(n)s d", n=days)


def people(exclude: set[int | None] | None = None) -> list[tuple[int, str]]:
    """(id, name) of the active users, by name: whom a task may go to."""
    with state().ctx.engine.connect() as conn:
        found = Directory(conn, clock.now()).people.values()
    left_out = exclude or set()
    return sorted(((p.id, p.name) for p in found if p.id not in left_out),
                  key=lambda pair: pair[1].casefold())


def back(default: str) -> ResponseReturnValue:
    """303 to the form's `next` (a path on this site), else `default`."""
    return redirect(safe_next(request.form.get("next")) or default, 303)


def comment() -> str | None:
    return request.form.get("comment") or None


def refused(exc: RecordError) -> None:
    """Say why the engine refused; a record or task the user may not see or act on is an
    error page (raised again), the rest a message on the page they came from."""
    if exc.status in (403, 404):
        raise exc
    if isinstance(exc, ValidationFailed):
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "danger")
        return
    flash(exc.message, "danger")


@bp.app_context_processor
def navigation() -> dict[str, Any]:
    """`approvals_in_nav()` for the navigation bar: None when the config has no approval
    process, else the number of tasks waiting for the signed-in user."""

    def approvals_in_nav() -> int | None:
        user: Any = current_user
        if not getattr(user, "is_authenticated", False) or not enabled():
            return None
        try:
            return inbox().count_pending(actor())
        except sa.exc.DBAPIError as exc:  # no approval tables yet (`crm migrate` not run)
            log.warning("the approvals link cannot count: %s", exc.orig)
            return 0

    return {"approvals_in_nav": approvals_in_nav, "approval_status": status_text,
            "approval_colour": lambda s: STATUS_COLOUR.get(s, "secondary"),
            "duration_text": duration_text}


# --- the inbox -------------------------------------------------------------------------------
@bp.get("/approvals/")
@login_required
def index() -> ResponseReturnValue:
    if not enabled():
        abort(404)
    tab = request.args.get("tab", "pending")
    if tab not in dict(TABS):
        abort(404)
    box = inbox()
    me = actor()
    items: list[Item] = {"pending": box.pending_for, "submitted": box.submitted_by,
                         "history": box.history_of}[tab](me)
    pending_count = len(items) if tab == "pending" else box.count_pending(me)
    candidates: list[tuple[int, str]] = people({me.id}) if tab == "pending" and items else []
    return render_template(
        "approvals/inbox.html", tab=tab, tabs=[(n, gettext(t)) for n, t in TABS], items=items,
        pending_count=pending_count, candidates=candidates, stats=may_see_stats(),
        here=url_for(".index", tab=tab))


# --- decisions -------------------------------------------------------------------------------
@bp.post("/approvals/tasks/<int:task_id>/decide")
@login_required
def decide(task_id: int) -> ResponseReturnValue:
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        flash(_("Choose Approve or Reject."), "danger")
        return back(url_for(".index"))
    approve = decision == "approve"
    try:
        service().decide(task_id, actor(), approve=approve, comment=comment())
    except RecordError as exc:
        refused(exc)
    else:
        flash(_("You approved it.") if approve else _("You rejected it."), "success")
    return back(url_for(".index"))


@bp.post("/approvals/tasks/<int:task_id>/reassign")
@login_required
def reassign(task_id: int) -> ResponseReturnValue:
    to = small_int(request.form.get("to", ""))
    if to is None:
        flash(_("Choose whom to reassign it to."), "danger")
        return back(url_for(".index"))
    try:
        service().reassign(task_id, actor(), to, comment=comment())
    except RecordError as exc:
        refused(exc)
    else:
        name = dict(people()).get(to, f"#{to}")
        flash(_("Reassigned to %(name)s.", name=name), "success")
    return back(url_for(".index"))


@bp.post("/approvals/<int:approval_id>/recall")
@login_required
def recall(approval_id: int) -> ResponseReturnValue:
    try:
        service().recall(approval_id, actor(), comment=comment())
    except RecordError as exc:
        refused(exc)
    else:
        flash(_("Recalled: the record may be edited again."), "success")
    return back(url_for(".index", tab="submitted"))


@bp.post("/approvals/<int:approval_id>/comment")
@login_required
def add_comment(approval_id: int) -> ResponseReturnValue:
    try:
        service().comment(approval_id, actor(), request.form.get("comment", ""))
    except RecordError as exc:
        refused(exc)
    else:
        flash(_("Your comment was added."), "success")
    return back(url_for(".index"))
