"""Marketing email from a campaign's page: the "Email members" button (crm_record_actions),
the compose page `/campaign/<id>/email-members` with a preview of who receives it and who is
left out and why, its POST (CSRF) sending one message per receiving member, and the result
page with the sent and blocked members. Thin: app/consent/campaign.py decides and sends."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from app.consent.campaign import (
    CAMPAIGN,
    MAX_BODY,
    MAX_SUBJECT,
    MEMBER,
    audience,
    send,
)
from app.i18n import N_, _
from app.plugins import hookimpl
from app.records import ValidationFailed
from app.web.baseform import CrmForm
from app.web.detail import check_id
from app.web.recordext import RecordAction
from app.web.state import actor, entity_or_404, records, state

bp = Blueprint("campaign_mail", __name__)


class CampaignMailForm(CrmForm):
    subject = StringField(N_("Subject"), validators=[InputRequired(), Length(max=MAX_SUBJECT)])
    body = TextAreaField(N_("Text"), validators=[InputRequired(), Length(max=MAX_BODY)])


def _sending_possible() -> bool:
    rs = records()
    return CAMPAIGN in rs.meta.entities and MEMBER in rs.meta.entities \
        and "email" in rs.meta.entities


@hookimpl
def crm_record_actions(entity: str, record: dict[str, Any]) -> list[RecordAction] | None:
    if entity != CAMPAIGN or not _sending_possible() \
            or not records().permits(CAMPAIGN, int(record["id"]), "edit"):
        return None
    return [RecordAction("campaign-email", _("Email members"), compose_url(int(record["id"])))]


def compose_url(campaign_id: int) -> str:
    return f"/{CAMPAIGN}/{campaign_id}/email-members"


@bp.route("/<entity>/<int:record_id>/email-members", methods=["GET", "POST"])
@login_required
def compose(entity: str, record_id: int) -> ResponseReturnValue:
    """(The entity is a path variable so that `campaign` stays a name entities may take.)"""
    check_id(record_id)
    if entity != CAMPAIGN:
        abort(404)
    e = entity_or_404(CAMPAIGN)
    form = CampaignMailForm()
    aud = audience(records(), actor(), record_id)
    status = 200
    if form.is_submitted():
        if form.validate():
            try:
                done = send(records(), actor(), record_id, form.subject.data, form.body.data,
                            settings=state().ctx.settings)
            except ValidationFailed as exc:
                for name, problems in exc.errors.items():
                    if name in form:
                        form[name].errors = list(problems)
                status = 422
            else:
                if done.sent:
                    from app.notify import enqueue_pending

                    enqueue_pending(state().ctx)
                return render_template("campaign_mail/result.html", e=e, aud=done.audience,
                                       done=done, subject=form.subject.data)
        else:
            status = 422
    return render_template("campaign_mail/compose.html", e=e, aud=aud, form=form), status
