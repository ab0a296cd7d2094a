"""Signing in and out, changing one's password, choosing the UI language.

Passwords are Argon2id hashes (app.users); sign-in attempts are rate limited per client address
(Flask-Limiter, memory or Redis storage from config.yaml); every form carries a CSRF token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from werkzeug.wrappers import Response
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from app import seclog
from app.i18n import LOCALES, N_, gettext
from app.model.system import users
from app.users import MIN_PASSWORD, UserError, check_password, set_password
from app.web import seclog as web_seclog
from app.web.baseform import CrmForm
from app.web.security import safe_next
from app.web.state import state

bp = Blueprint("auth", __name__)
LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}


class User(UserMixin):
    def __init__(self, row: Any) -> None:
        self.id = row.id
        self.username = row.username
        self.full_name = row.full_name or row.username
        self.roles = list(row.roles or [])
        self.locale = row.locale

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class LoginForm(CrmForm):
    username = StringField(N_("Username"), validators=[InputRequired()])
    password = PasswordField(N_("Password"), validators=[InputRequired()])


class PasswordForm(CrmForm):
    current = PasswordField(N_("Current password"), validators=[InputRequired()])
    new = PasswordField(N_("New password"), validators=[InputRequired(), Length(min=MIN_PASSWORD)])
    repeat = PasswordField(N_("Repeat the new password"),
                           validators=[InputRequired(), EqualTo("new", message=N_(
                               "The two new passwords differ."))])


class LanguageForm(CrmForm):
    locale = SelectField(N_("Language"),
                         choices=[SelectChoice(k, LANGUAGE_NAMES[k]) for k in LOCALES])


def init_login(app: Any) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = N_("Please sign in to open this page.")
    manager.localize_callback = gettext

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        with state().ctx.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == int(user_id))).first()
        return User(row) if row is not None and row.active else None


def _safe_next(target: str | None) -> str:
    """`target` when it is a path on this site, else the home page (no open redirect)."""
    return safe_next(target) or url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        with state().ctx.engine.connect() as conn:
            uid = check_password(conn, form.username.data or "", form.password.data or "")
            row = conn.execute(sa.select(users).where(users.c.id == uid)).first() \
                if uid else None
        if row is not None:
            # a fresh session: nothing planted before signing in survives (session fixation),
            # except the language chosen on the sign-in page
            chosen = session.get("locale")
            session.clear()
            login_user(User(row))
            if row.locale or chosen in LOCALES:
                session["locale"] = row.locale or chosen
            web_seclog.record(seclog.LOGIN_OK)
            return redirect(_safe_next(request.args.get("next")))
        web_seclog.record(seclog.LOGIN_FAILED, username=form.username.data or "")
        flash(gettext("Wrong username or password."), "danger")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    if current_user.is_authenticated:
        web_seclog.record(seclog.LOGOUT)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/me/password", methods=["GET", "POST"])
@login_required
def password() -> str | Response:
    form = PasswordForm()
    if form.validate_on_submit():
        engine = state().ctx.engine
        with engine.begin() as conn:
            ok = check_password(conn, current_user.username, form.current.data or "")
            if ok is None:
                form.current.errors = [gettext("The current password is wrong.")]
            else:
                try:
                    set_password(conn, current_user.username, form.new.data or "",
                                 by=web_seclog.who())
                except UserError as exc:
                    form.new.errors = [str(exc)]
                else:
                    flash(gettext("Your password was changed."), "success")
                    return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form)


@bp.after_request
def log_rate_limited(response: Response) -> Response:
    """A sign-in refused by the rate limit (429) is logged at most once per limit window and
    client address: an attacker's flood of attempts cannot fill the disk. (Failed sign-ins
    below the limit are each logged by `login`.)"""
    if response.status_code == 429 and request.endpoint == "auth.login":
        tried = request.form.get("username", "") if request.method == "POST" else ""
        web_seclog.record(seclog.LOGIN_LIMITED, username=tried or None,
                          once_per=_limit_window())
    return response


def _limit_window() -> timedelta:
    """The shortest window of `login_rate_limit` ("10 per minute" -> one minute)."""
    from limits import parse_many

    try:
        seconds = min(item.get_expiry() for item in parse_many(
            state().ctx.settings.login_rate_limit))
    except ValueError:
        seconds = 60
    return timedelta(seconds=max(1, seconds))


@bp.route("/me/language", methods=["POST"])
def language() -> Response:
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            with state().ctx.engine.begin() as conn:
                conn.execute(sa.update(users).where(users.c.id == current_user.id)
                             .values(locale=form.locale.data))
    return redirect(_safe_next(request.form.get("next")))
