"""The web app. For now: sign in, and a home page listing the live entities with their record
counts (the generated forms, lists and boards are the next issue). Thin: reads go through the
engine's models, never raw SQL of its own."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask, flash, redirect, render_template, request, url_for
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired

from app.context import Context
from app.migrate.publish import active_version
from app.model.system import users
from app.users import check_password


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired()])
    password = PasswordField("Password", validators=[InputRequired()])


class User(UserMixin):
    def __init__(self, row: Any) -> None:
        self.id = row.id
        self.username = row.username
        self.roles = list(row.roles or [])


def create_app(ctx: Context) -> Flask:
    ctx.settings.warn_if_insecure()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=ctx.settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["crm"] = ctx
    CSRFProtect(app)
    login_manager = LoginManager(app)
    login_manager.login_view = "login"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        with ctx.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == int(user_id))).first()
        return User(row) if row is not None and row.active else None

    @app.route("/login", methods=["GET", "POST"])
    def login() -> str | Response:
        form = LoginForm()
        if form.validate_on_submit():
            with ctx.engine.connect() as conn:
                uid = check_password(conn, form.username.data or "", form.password.data or "")
                row = conn.execute(sa.select(users).where(users.c.id == uid)).first() \
                    if uid else None
            if row is not None:
                login_user(User(row))
                return redirect(url_for("home"))
            flash("Wrong username or password.")
        return render_template("login.html", form=form, name=ctx.settings.name)

    @app.route("/logout", methods=["POST"])
    def logout() -> Response:
        logout_user()
        return redirect(url_for("login"))

    @app.route("/")
    @login_required
    def home() -> str:
        locale = request.accept_languages.best_match(["en", "zh"]) or "en"
        with ctx.engine.connect() as conn:
            version, meta = active_version(conn)
            rows: list[tuple[str, int]] = []
            for e in meta or ():  # counts need only the table name: no model build per request
                table = sa.table(e.table, sa.column("deleted_at"))
                count = conn.execute(sa.select(sa.func.count()).select_from(table)
                                     .where(table.c.deleted_at.is_(None))).scalar_one()
                rows.append((e.plural_for(locale), count))
        return render_template("home.html", rows=rows, version=version, name=ctx.settings.name,
                               user=current_user)

    return app
