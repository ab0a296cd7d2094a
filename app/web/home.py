"""The start page, "My work": what the signed-in user should work on now.

My open activities that are overdue or due today (with a one-click "mark done"), my open deals
closing this month with their total, the records I changed lately, and how many records of each
entity I own. The queries live in `app.records.mywork`; this module only shows them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.i18n import N_, _, format_datetime, format_number, get_locale
from app.records import Conflict, RecordError, ValidationFailed
from app.records.mywork import (
    ACTIVITY,
    activity_shape,
    my_activities,
    my_counts,
    my_deals,
    recent,
)
from app.textnum import small_int
from app.web.state import actor, records, state
from app.web.templating import nav_entities

bp = Blueprint("home", __name__)

#: the largest id an SQL INTEGER holds
MAX_INT = 2**31 - 1

#: how each audit action is named in "Recently edited"
ACTIONS = {"create": N_("Created"), "update": N_("Edited"), "restore": N_("Restored"),
           "delete": N_("Deleted"), "merge": N_("Merged"), "merged": N_("Merged")}


def _lookup_titles(entity: str, rows: list[dict[str, Any]]) -> dict[str, dict[int, str]]:
    """Field -> {id: title} for the lookup fields of `rows` (one query per lookup field)."""
    rec = records()
    out: dict[str, dict[int, str]] = {}
    for f in rec.entity(entity):
        if f.type in ("lookup", "master_detail") and any(r.get(f.name) for r in rows):
            out[f.name] = rec.titles(str(f.opt("to")), [r[f.name] for r in rows if r.get(f.name)])
    return out


def _related(entity: str, row: dict[str, Any], titles: dict[str, dict[int, str]]
             ) -> tuple[str, int, str] | None:
    """The first record `row` looks up: (entity, id, title), for a link beside it."""
    for f in records().entity(entity):
        if f.name in titles and row.get(f.name):
            return str(f.opt("to")), int(row[f.name]), titles[f.name].get(int(row[f.name]), "")
    return None


@bp.route("/")
@login_required
def index() -> str:
    st = state()
    if st.meta is None or st.models is None:
        return render_template("home/index.html", ready=False)
    rec = records()
    me = int(actor().id or 0)
    agenda = my_activities(rec, me)
    deals = my_deals(rec, me)
    activity_titles: dict[str, dict[int, str]] = {}
    deal_titles: dict[str, dict[int, str]] = {}
    if agenda is not None:
        activity_titles = _lookup_titles(ACTIVITY, agenda.overdue + agenda.today)
    if deals is not None:
        deal_titles = _lookup_titles(deals.entity.name, deals.rows)
    locale = get_locale()
    return render_template(
        "home/index.html", ready=True, agenda=agenda, deals=deals,
        activity_titles=activity_titles, deal_titles=deal_titles, related=_related,
        recent=recent(rec, me), counts=my_counts(rec, me, [e.name for e in nav_entities()]),
        action_name=lambda a: _(ACTIONS[a]) if a in ACTIONS else a,
        when=lambda at: format_datetime(at, locale) if at is not None else "",
        number=lambda n: format_number(n, locale),
        today=datetime.now(UTC).date(), currency=st.ctx.settings.currency)


@bp.route("/my-work/activities/<int:record_id>/done", methods=["POST"])
@login_required
def mark_done(record_id: int) -> ResponseReturnValue:
    """Mark one of my activities done (through the records service: rules and locking apply)."""
    shape = activity_shape(records())
    if shape is None or record_id > MAX_INT:
        return render_template("error.html", status=404,
                               message=_("This page or record does not exist.")), 404
    raw = request.form.get("version", "")
    version = small_int(raw)
    try:
        saved = records().update(ACTIVITY, record_id, {shape.status.name: shape.done}, actor(),
                                 version=version)
    except ValidationFailed as exc:
        flash(" ".join(m for ms in exc.errors.values() for m in ms), "danger")
    except (Conflict, RecordError) as exc:
        flash(exc.message, "danger" if not isinstance(exc, Conflict) else "warning")
    else:
        title = records().titles(ACTIVITY, [record_id]).get(record_id, "")
        flash(_("%(title)s is done.", title=title or saved.get("id")), "success")
    return redirect(url_for("home.index"))
