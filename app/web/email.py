"""Sending an email from a record: the compose page (endpoint `email.compose`), the "Send email"
button on records that have someone to write to, and the communication centre's API routes
(app/api/comms.py, mounted through `crm_api_blueprints`).

    GET/POST /<entity>/<id>/email/new[?to=&subject=&body=&attach=<attachment id>]

To is prefilled from the record (its email field, its contact's, its account's), the record's
attachments are offered as checkboxes (`?attach=` ticks one: the documents feature links here
with a generated PDF), the body is plain text (its HTML is made safely from it). The POST (CSRF)
goes through app/comms/email.py `send_email`: problems are shown at their fields (422), success
goes back to the record with "Email queued to …".
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.comms.email import EMAIL, EmailInvalid, OutgoingEmail, send_email, split_addresses
from app.comms.links import can_email, default_recipients
from app.i18n import _
from app.plugins import hookimpl
from app.records import RecordError
from app.textnum import SQL_INT_MAX, small_int
from app.web.detail import check_id, detail_url, record_title
from app.web.recordext import RecordAction
from app.web.state import actor, entity_or_404, records, state

bp = Blueprint("email", __name__)

#: the longest prefilled subject and body taken from the address
MAX_PREFILL = 10_000
#: form field -> the OutgoingEmail field its errors are reported under
FIELDS = {"to": "to", "cc": "cc", "subject": "subject", "body": "body_text",
          "attachments": "attachment_ids"}


def may_send(entity: str, record_id: int) -> bool:
    """Whether the signed-in user may send an email from this record."""
    rs = records()
    return (EMAIL in rs.meta.entities and can_email(rs, entity)
            and rs.access().allows(EMAIL, "create")
            and rs.permits(entity, record_id, "read"))


@hookimpl
def crm_record_actions(entity: str, record: dict[str, Any]) -> list[RecordAction] | None:
    if not may_send(entity, int(record["id"])):
        return None
    return [RecordAction("send-email", _("Send email"), f"/{entity}/{record['id']}/email/new",
                         style="outline-primary")]


@hookimpl
def crm_api_blueprints() -> list[Blueprint]:
    from app.api.comms import bp as api_bp

    return [api_bp]


def _ids(values: list[str]) -> tuple[list[int], list[str]]:
    """Attachment ids of the form (or the address) and the values that are not ids."""
    ids: list[int] = []
    bad: list[str] = []
    for raw in values:
        found = small_int(raw, SQL_INT_MAX)
        if found:
            ids.append(found)
        else:
            bad.append(raw[:40])
    return ids, bad


@bp.route("/<entity>/<int:record_id>/email/new", methods=["GET", "POST"])
@login_required
def compose(entity: str, record_id: int) -> ResponseReturnValue:
    e = entity_or_404(entity)
    check_id(record_id)
    rs = records()
    rec = rs.get(entity, record_id)  # NotFound (404) when they may not see it
    if EMAIL not in rs.meta.entities or not can_email(rs, entity):
        abort(404)
    if not rs.access().allows(EMAIL, "create"):
        abort(403)
    from app.web.attachments import store

    files = store().list(entity, record_id)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form = request.form
        values = {"to": form.get("to", ""), "cc": form.get("cc", ""),
                  "subject": form.get("subject", ""), "body": form.get("body", "")}
        chosen, bad = _ids(form.getlist("attachment"))
        if bad:
            errors["attachments"] = [_("'%(id)s' is not an attachment id.", id=bad[0])]
        else:
            out = OutgoingEmail(to=split_addresses(values["to"]), cc=split_addresses(values["cc"]),
                                subject=values["subject"], body_text=values["body"],
                                attachment_ids=tuple(chosen), entity=entity,
                                record_id=record_id)
            try:
                sent = send_email(rs, actor(), out, settings=state().ctx.settings)
            except EmailInvalid as exc:
                errors = {form_key: exc.errors[key] for form_key, key in FIELDS.items()
                          if key in exc.errors}
                for key, problems in exc.errors.items():
                    if key not in FIELDS.values():
                        errors.setdefault("subject", []).extend(problems)
            except RecordError as exc:
                if exc.status in (403, 404):
                    raise
                flash(exc.message, "danger")
                status = exc.status
            else:
                from app.notify import enqueue_pending

                enqueue_pending(state().ctx)
                flash(_("Email queued to %(to)s.", to=", ".join(out.to + out.cc)), "success")
                if sent.blocked:
                    flash(_("Not sent to %(who)s.", who="; ".join(
                        f"{a} ({why})" for a, why in sent.blocked.items())), "warning")
                return redirect(detail_url(entity, record_id), 303)
        if errors:
            status = 422
            flash(_("The email was not sent: correct the fields marked below."), "danger")
    else:
        args = request.args
        values = {"to": args.get("to") or ", ".join(default_recipients(rs, entity, rec)),
                  "cc": args.get("cc", ""),
                  "subject": args.get("subject", "")[:MAX_PREFILL],
                  "body": args.get("body", "")[:MAX_PREFILL]}
        chosen, _bad = _ids(args.getlist("attach"))
    return render_template(
        "email/compose.html", e=e, rec=rec, title=record_title(e, rec), values=values,
        files=files, chosen=set(chosen), errors=errors), status
