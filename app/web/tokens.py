"""`/me/tokens`: a user's API tokens: create one (shown once), see when each was last used,
revoke. The API docs page links here."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from wtforms import IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.i18n import N_, gettext
from app.tokens import TokenError, create_token, list_tokens, revoke_token
from app.web.baseform import CrmForm
from app.web.seclog import who
from app.web.state import state

bp = Blueprint("tokens", __name__)


class TokenForm(CrmForm):
    name = StringField(N_("Name"), validators=[InputRequired(), Length(max=80)])
    scope = SelectField(N_("Access"), choices=[SelectChoice("write", N_("Read and write")),
                                               SelectChoice("read", N_("Read only"))])
    expires_days = IntegerField(N_("Expires after (days)"),
                                validators=[Optional(), NumberRange(min=1, max=3650)])


class RevokeForm(CrmForm):
    pass


def _token_form(**kw: object) -> TokenForm:
    form = TokenForm(**kw)
    form.scope.choices = [SelectChoice("write", gettext("Read and write")),
                          SelectChoice("read", gettext("Read only"))]
    return form


@bp.route("/me/tokens", methods=["GET", "POST"])
@login_required
def index() -> ResponseReturnValue:
    form = _token_form()
    made: str | None = None
    if form.validate_on_submit():
        try:
            with state().ctx.engine.begin() as conn:
                _id, made = create_token(conn, int(current_user.id), form.name.data or "",
                                         scope=form.scope.data or "write",
                                         expires_days=form.expires_days.data, by=who())
        except TokenError as exc:
            form.name.errors = [str(exc)]
        else:
            form = _token_form(formdata=None)
    with state().ctx.engine.connect() as conn:
        tokens = list_tokens(conn, int(current_user.id))
    return render_template("auth/tokens.html", form=form, made=made, tokens=tokens,
                           revoke_form=RevokeForm())


@bp.post("/me/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> ResponseReturnValue:
    form = RevokeForm()
    if form.validate_on_submit():
        try:
            with state().ctx.engine.begin() as conn:
                revoke_token(conn, token_id, int(current_user.id), by=who())
        except TokenError as exc:
            flash(str(exc), "danger")
        else:
            flash(gettext("The token was revoked; programs using it are refused from now on."),
                  "success")
    return redirect(url_for(".index"))
