"""Pages of the communication centre (app/comms):

- `/<entity>/<id>/communications`: the record's whole communication history (emails, calls,
  meetings, notes and tasks, for an account or contact also those of its contacts, deals,
  cases and quotes), newest first, 50 a page: the "Show more" of the detail page's timeline.
- `/my-work/followups`: my overdue follow-ups, and (`?scope=team`) those of the people who
  report to me, grouped by person; the home page's "My work" card links here with a count.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app.comms.followups import SCOPES, overdue, overdue_count, reports_of
from app.records import related as rel
from app.records.mywork import ACTIVITY
from app.textnum import small_int
from app.web.detail import Refs, check_id, record_title, value_html
from app.web.state import actor, entity_or_404, records, state

bp = Blueprint("comms", __name__)

PAGE_SIZE = 50
MAX_PAGE = 200


@bp.app_template_global()
def overdue_followups() -> int:
    """How many of the signed-in user's follow-ups are overdue (once per request)."""
    if "crm_overdue_followups" not in g:
        user: Any = current_user
        if not getattr(user, "is_authenticated", False) or state().models is None:
            return 0
        g.crm_overdue_followups = overdue_count(records(), int(actor().id or 0))
    return int(g.crm_overdue_followups)


@bp.get("/<entity>/<int:record_id>/communications")
@login_required
def history(entity: str, record_id: int) -> ResponseReturnValue:
    e = entity_or_404(entity)
    check_id(record_id)
    page = small_int(request.args.get("page", "1"), MAX_PAGE) or 1
    rs = records()
    with rs.engine.connect() as conn:
        rec = rs.get(entity, record_id, conn=conn)
        events = rel.linked_events(rs, entity, record_id, page * PAGE_SIZE + 1, conn)
        events.sort(key=lambda ev: ev.at, reverse=True)
        more = len(events) > page * PAGE_SIZE
        events = events[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        refs = Refs()
        refs.user_ids |= rel.user_ids(events)
        for ev in events:
            if ev.record is not None and ev.entity:
                refs.add_record(rs.entity(ev.entity), ev.record)
        refs.resolve(conn)

    def val(f: Any, value: Any, link: bool = True) -> Any:
        return value_html(f, value, refs, link=link)

    return render_template("comms/history.html", e=e, rec=rec, title=record_title(e, rec),
                           events=events, refs=refs, val=val, entities=rs.meta.entities,
                           record_title=record_title, page=page, more=more)


@bp.get("/my-work/followups")
@login_required
def followups() -> ResponseReturnValue:
    scope = request.args.get("scope", "mine")
    if scope not in SCOPES:
        abort(404)
    rs = records()
    if ACTIVITY not in rs.meta.entities:
        abort(404)
    me = int(actor().id or 0)
    found = overdue(rs, me, scope=scope)
    with rs.engine.connect() as conn:
        manages = bool(reports_of(conn, me))
    refs = Refs()
    if found.shape is not None:
        for row in found.rows:
            refs.add_record(found.shape.entity, row)
    refs.user_ids |= {uid for uid, _rows in found.groups if uid is not None}
    refs.resolve()

    def val(f: Any, value: Any, link: bool = True) -> Any:
        return value_html(f, value, refs, link=link)

    return render_template("comms/followups.html", found=found, scope=scope, refs=refs,
                           val=val, manages=manages, record_title=record_title)
