"""Two approval pages besides the inbox: `/approvals/stats` (per process and step: how many,
how they ended, how long decisions take, what is open and overdue; for administrators, sales
directors and service managers) and `/approvals/out-of-office` (the signed-in user names the
delegate who gets their new approval tasks, optionally from / until a moment, or clears it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from babel.numbers import format_percent
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app import clock
from app.i18n import N_, _, babel_locale, get_locale, gettext
from app.records import RecordError, ValidationFailed
from app.records.errors import Forbidden
from app.textnum import small_int
from app.web.approvals import duration_text, enabled, may_see_stats, people
from app.web.state import actor, state
from app.workflow.approvals.delegation import clear_delegation, delegation_of, set_delegation
from app.workflow.approvals.stats import overdue, statistics

bp = Blueprint("approvals_admin", __name__)

#: the periods of the statistics: `since` value -> (days back, label)
PERIODS: dict[str, tuple[int | None, str]] = {
    "30": (30, N_("Last 30 days")),
    "90": (90, N_("Last 90 days")),
    "365": (365, N_("Last 365 days")),
    "all": (None, N_("All time")),
}
#: what a datetime-local input sends (seconds optional)
MOMENT_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")


def rate(part: int, whole: int) -> str:
    """`part` of `whole` as a percentage in the user's language ("" when nothing to count)."""
    if not whole:
        return ""
    return str(format_percent(part / whole, locale=babel_locale(get_locale())))


@bp.get("/approvals/stats")
@login_required
def stats() -> ResponseReturnValue:
    if not enabled():
        abort(404)
    if not may_see_stats():
        raise Forbidden(_("Only administrators, sales directors and service managers may see "
                          "the approval statistics."))
    since = request.args.get("since", "all")
    if since not in PERIODS:
        raise RecordError(_("Choose a period: the last 30, 90 or 365 days, or all time."))
    meta = state().meta
    assert meta is not None
    process = request.args.get("process") or None
    if process is not None and process not in meta.approvals:
        abort(404)
    days = PERIODS[since][0]
    start = clock.now() - timedelta(days=days) if days is not None else None
    with state().ctx.engine.connect() as conn:
        found = statistics(conn, process=process, since=start)
        overdue_now = overdue(conn)
    return render_template(
        "approvals/stats.html", rows=found, overdue_now=overdue_now, since=since,
        periods=[(k, gettext(v[1])) for k, v in PERIODS.items()], process=process,
        processes=list(meta.approvals.values()), start=start, rate=rate,
        duration=duration_text)


# --- out of office ---------------------------------------------------------------------------
def _moment(name: str, errors: dict[str, list[str]]) -> datetime | None:
    """The datetime-local input `name` (UTC), None when empty; a problem goes to `errors`."""
    text = (request.form.get(name) or "").strip()
    if not text:
        return None
    for fmt in MOMENT_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    errors[name] = [_("Enter a date and time like 2026-11-02 09:00.")]
    return None


@bp.route("/approvals/out-of-office", methods=["GET", "POST"])
@login_required
def out_of_office() -> ResponseReturnValue:
    if not enabled():
        abort(404)
    me = actor()
    assert me.id is not None
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        if request.form.get("action") == "clear":
            with state().ctx.engine.begin() as conn:
                cleared = clear_delegation(conn, me.id)
            flash(_("Your approvals are no longer delegated.") if cleared else
                  _("Your approvals were not delegated."), "success" if cleared else "info")
            return redirect(url_for(".out_of_office"), 303)
        delegate = small_int(request.form.get("delegate", ""))
        if delegate is None:
            errors["delegate"] = [_("Choose who approves for you.")]
        starts_at = _moment("starts_at", errors)
        ends_at = _moment("ends_at", errors)
        if not errors and delegate is not None:
            try:
                with state().ctx.engine.begin() as conn:
                    done = set_delegation(conn, me.id, delegate, starts_at=starts_at,
                                          ends_at=ends_at)
            except ValidationFailed as exc:
                errors = exc.errors
            else:
                flash(_("%(name)s now gets your new approval tasks.", name=done.delegate)
                      if done.active else _("%(name)s will get your new approval tasks from "
                                            "the start you set.", name=done.delegate),
                      "success")
                return redirect(url_for(".out_of_office"), 303)
        status = 422
    with state().ctx.engine.connect() as conn:
        current = delegation_of(conn, me.id)
    values: dict[str, Any] = dict(request.form) if request.method == "POST" else {}
    if not values and current is not None:
        values = {"delegate": str(current.delegate_id),
                  "starts_at": _local(current.starts_at), "ends_at": _local(current.ends_at)}
    return render_template("approvals/out_of_office.html", current=current,
                           people=people({me.id}), values=values, errors=errors,
                           ended=current is not None and current.ends_at is not None
                           and current.ends_at <= clock.now()), status


def _local(moment: datetime | None) -> str:
    """A stored moment as a datetime-local input wants it (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if moment else ""
