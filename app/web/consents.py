"""The consent report, "who agreed to what": `/consents/report` (contacts x purposes for one
channel, with the date and source of each consent; filters by channel, purpose and status) and
`/consents/report.csv`. For whoever may read consent records (marketing, administrators, and
the roles the consent entity's permissions let read them), counting only the consents they
may read. The matrix is computed by app/consent/report.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.consent import CONSENT, GRANTED
from app.consent.report import STATUSES, matrix, options
from app.i18n import _, get_locale
from app.records.errors import Forbidden
from app.records.export_writers import csv_chunks
from app.web.state import may, records

bp = Blueprint("consents", __name__)

#: contacts per page
PAGE = 100
MAX_PAGE = 10_000


def _filters() -> tuple[str, list[str], str | None]:
    channel = request.args.get("channel", "").strip() or "email"
    purposes = [p for p in request.args.getlist("purpose") if p.strip()]
    status = request.args.get("status", "").strip() or None
    return channel, purposes, status


@bp.app_template_global()
def may_see_consents() -> bool:
    """Whether the signed-in user may open the consent report (the nav link)."""
    rs = records()
    return CONSENT in rs.meta.entities and rs.access().allows(CONSENT, "read")


def _page() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_PAGE else 1


@bp.route("/consents/report")
@login_required
def report() -> ResponseReturnValue:
    if CONSENT not in records().meta.entities:
        return render_template("error.html", status=404, message=_(
            "This CRM has no consent records."), detail=None), 404
    channel, purposes, status = _filters()
    m = matrix(records(), channel, purposes, status)
    page = _page()
    shown = m.rows[(page - 1) * PAGE:page * PAGE]
    args: list[tuple[str, str]] = [("channel", channel), *(("purpose", p) for p in purposes)]
    if status:
        args.append(("status", status))
    rs = records()
    return render_template(
        "consents/report.html", m=m, rows=shown, page=page, pages=max(1, -(-len(m.rows) // PAGE)),
        channels=options(rs, "channel"), all_purposes=options(rs, "purpose"),
        statuses=[(s, lab) for s, lab in options(rs, "status") if s in STATUSES],
        sources=dict(options(rs, "source")), status_labels=dict(options(rs, "status")),
        chosen=set(purposes), query=urlencode(args), granted=GRANTED,
        may_export=may(CONSENT, "export"), locale=get_locale())


@bp.route("/consents/report.csv")
@login_required
def report_csv() -> ResponseReturnValue:
    from app.consent.report import csv_rows

    rs = records()
    if CONSENT not in rs.meta.entities:
        return render_template("error.html", status=404, message=_(
            "This CRM has no consent records."), detail=None), 404
    if not may(CONSENT, "export"):
        raise Forbidden(_("You may not export %(entities)s.",
                          entities=rs.entity(CONSENT).plural_for(get_locale())))
    channel, purposes, status = _filters()
    m = matrix(rs, channel, purposes, status)
    _log(m)
    header, rows = csv_rows(rs, m)
    name = f"consents-{channel}.csv"
    return Response(stream_with_context(csv_chunks(header, rows)),
                    mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _log(m: Any) -> None:
    from app import seclog
    from app.web.seclog import record as log_security

    log_security(seclog.EXPORT, entity=CONSENT, detail={  # who exported what
        "format": "csv", "report": "consents", "query": request.query_string.decode(
            "utf-8", "replace"), "rows": len(m.rows)})
