"""Users of the CRM in the back office: list, create, edit; roles from the config; passwords set
through a separate "new password" field and stored as Argon2id hashes by `app.users` (a hash is
never read into a page). Users are deactivated, never deleted (the audit trail names them).

An admin cannot take away their own admin role or deactivate themselves, and the last active
admin stays an admin, so nobody locks the back office. Each change is written to `sys_audit`
(entity `sys_user`), with the password recorded only as "changed".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import wtforms
from flask import flash
from flask_admin.form import BaseForm
from flask_admin.helpers import get_form_data
from flask_login import current_user
from wtforms import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp

from app import seclog
from app.admin.common import EqualsFilter, Lazy, Row, SelectView, as_bool, when, yes_no
from app.fields.text import is_email
from app.i18n import LOCALES, _, get_locale
from app.meta.types import label_text
from app.model.system import users
from app.records import side
from app.users import MIN_PASSWORD, UserError, create_user, set_password, set_teams, teams_of
from app.web.auth import LANGUAGE_NAMES
from app.web.seclog import who
from app.web.state import state

#: the columns a page may show (never password_hash)
SHOWN = ("id", "username", "full_name", "email", "roles", "active", "locale", "created_at")
EDITED = ("username", "full_name", "email", "roles", "active", "locale")
AUDIT_ENTITY = "sys_user"
PASSWORD_MARK = "******"


class RoleFilter(EqualsFilter):
    """Users who have a role (roles are a JSON list)."""

    def apply(self, query: Any, value: Any) -> Any:
        column = sa.cast(query.selected_columns["roles"], sa.Text)
        return query.where(column.contains(f'"{self.clean(value)}"', autoescape=True))


def _email_check(form: Any, field: Any) -> None:
    if field.data and not is_email(field.data.strip()):
        raise wtforms.ValidationError(_("Enter an email address like name@example.com."))


class UsersView(SelectView):
    column_list = ["username", "full_name", "email", "roles", "teams", "active", "locale",
                   "created_at"]
    column_sortable_list = ["username", "full_name", "email", "active", "created_at"]
    search_columns = ("username", "full_name", "email")
    default_order = ("username", False)
    can_delete = False

    def __init__(self, roles: Sequence[str], category: Lazy,
                 teams: Sequence[tuple[str, Any]] = ()) -> None:
        self.roles = tuple(roles)
        #: (name, labels) of the access config's teams
        self.teams = tuple(teams)
        self.column_labels = {
            "username": Lazy(lambda: _("Username")), "full_name": Lazy(lambda: _("Full name")),
            "email": Lazy(lambda: _("Email")), "roles": Lazy(lambda: _("Roles")),
            "teams": Lazy(lambda: _("Teams")),
            "active": Lazy(lambda: _("Active")), "locale": Lazy(lambda: _("Language")),
            "created_at": Lazy(lambda: _("Created")),
        }
        self.column_formatters = {
            "roles": lambda v, c, m, n: ", ".join(m.roles or []),
            "teams": lambda v, c, m, n: ", ".join(self._team_text(t) for t in self._teams_of(
                int(m.id))),
            "locale": lambda v, c, m, n: LANGUAGE_NAMES.get(m.locale or "", ""),
            "created_at": lambda v, c, m, n: when(m.created_at),
        }
        self.column_filters = [
            RoleFilter("roles", Lazy(lambda: _("Role")), [(r, r) for r in self.roles]),
            EqualsFilter("active", Lazy(lambda: _("Active")), yes_no(), convert=as_bool),
        ]
        self._forms: dict[tuple[str, bool], type[BaseForm]] = {}
        super().__init__(Row, name=Lazy(lambda: _("Users")), category=category,
                         endpoint="admin_sys_user", url="/admin/system/users")

    def engine(self) -> sa.Engine:
        return state().ctx.engine

    def query(self) -> sa.Select[Any]:
        return sa.select(*[users.c[c] for c in SHOWN])

    def scaffold_list_columns(self) -> list[str]:
        return list(self.column_list or [])

    # --- forms -------------------------------------------------------------------------------
    def scaffold_form(self) -> type[BaseForm]:
        return self._form_class(creating=True)

    def _form_class(self, *, creating: bool) -> type[BaseForm]:
        key = (get_locale(), creating)
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = self._build_form(creating)
        return form

    def _build_form(self, creating: bool) -> type[BaseForm]:
        languages = [SelectChoice("", _("The deployment's default")),
                     *[SelectChoice(k, LANGUAGE_NAMES[k]) for k in LOCALES]]
        attrs: dict[str, Any] = {
            "username": wtforms.StringField(_("Username"), validators=[
                InputRequired(), Length(max=80),
                Regexp(r"^\S+$", message=_("A username has no spaces."))]),
            "full_name": wtforms.StringField(_("Full name"),
                                             validators=[Optional(), Length(max=120)]),
            "email": wtforms.StringField(_("Email"), validators=[
                Optional(), Length(max=254), _email_check]),
            "roles": wtforms.SelectMultipleField(
                _("Roles"), choices=[SelectChoice(r, r) for r in self.roles],
                validators=[Optional()]),
            "teams": wtforms.SelectMultipleField(
                _("Teams"), choices=[SelectChoice(n, self._team_text(n)) for n, _l in self.teams],
                validators=[Optional()]),
            "active": wtforms.BooleanField(_("Active"), default=True),
            "locale": wtforms.SelectField(_("Language"), choices=languages,
                                          validators=[Optional()]),
            "new_password": wtforms.PasswordField(
                _("Password") if creating else _("New password"),
                validators=[InputRequired() if creating else Optional(),
                            Length(min=MIN_PASSWORD)],
                description=_("At least %(n)s characters.", n=MIN_PASSWORD) if creating else
                _("Leave blank to keep the current password.")),
        }
        return type("UserAdminForm", (self.form_base_class,), attrs)

    def create_form(self, obj: Any = None) -> Any:
        return self._form_class(creating=True)(get_form_data(), obj=obj)

    def edit_form(self, obj: Any = None) -> Any:
        form = self._form_class(creating=False)(get_form_data(), obj=obj)
        if obj is not None and get_form_data() is None:
            form.teams.data = self._teams_of(int(obj["id"]))
        return form

    def _teams_of(self, uid: int) -> list[str]:
        with self.engine().connect() as conn:
            return teams_of(conn, uid)

    def _team_text(self, name: str) -> str:
        labels = dict(self.teams).get(name) or {}
        return label_text(labels, get_locale(), name)

    def _chosen_teams(self, form: Any) -> list[str]:
        return [n for n, _l in self.teams if n in (form.teams.data or [])]

    def _new_values(self, form: Any) -> dict[str, Any]:
        return {
            "username": (form.username.data or "").strip(),
            "full_name": (form.full_name.data or "").strip() or None,
            "email": (form.email.data or "").strip() or None,
            "roles": [r for r in self.roles if r in (form.roles.data or [])],
            "active": bool(form.active.data),
            "locale": form.locale.data or None,
        }

    def _taken(self, conn: sa.Connection, username: str, other_than: int | None) -> bool:
        stmt = sa.select(users.c.id).where(users.c.username == username)
        if other_than is not None:
            stmt = stmt.where(users.c.id != other_than)
        return conn.execute(stmt).first() is not None

    # --- writes ------------------------------------------------------------------------------
    def create_model(self, form: Any) -> Any:
        new = self._new_values(form)
        try:
            with self.engine().begin() as conn:
                if self._taken(conn, new["username"], None):
                    return self._refuse(form, "username", _(
                        "A user called %(name)s already exists.", name=new["username"]))
                uid = create_user(conn, new["username"], form.new_password.data or "",
                                  new["roles"], self.roles, email=new["email"],
                                  full_name=new["full_name"], by=who())
                set_teams(conn, uid, self._chosen_teams(form), [n for n, _l in self.teams],
                          by=who())
                conn.execute(sa.update(users).where(users.c.id == uid)
                             .values(active=new["active"], locale=new["locale"]))
                changes: dict[str, Any] = {k: [None, v] for k, v in new.items()}
                changes["password"] = [None, PASSWORD_MARK]
                self._audit(conn, uid, "create", changes)
        except UserError as exc:
            flash(str(exc), "error")
            return False
        return Row(id=uid, **new)

    def update_model(self, form: Any, model: Any) -> bool:
        new = self._new_values(form)
        uid = int(model["id"])
        problem = self._lockout(uid, model, new)
        if problem:
            flash(problem, "error")
            return False
        password = form.new_password.data or ""
        try:
            with self.engine().begin() as conn:
                if self._taken(conn, new["username"], uid):
                    return self._refuse(form, "username", _(
                        "A user called %(name)s already exists.", name=new["username"]))
                conn.execute(sa.update(users).where(users.c.id == uid).values(**new))
                teams, before = self._chosen_teams(form), teams_of(conn, uid)
                new_teams: dict[str, Any] = {}
                if set(teams) != set(before):
                    set_teams(conn, uid, teams, [n for n, _l in self.teams], by=who())
                    new_teams["teams"] = [before, sorted(teams)]
                if password:
                    set_password(conn, new["username"], password, by=who())
                changes = {k: [model.get(k), v] for k, v in new.items() if model.get(k) != v}
                if password:
                    changes["password"] = [PASSWORD_MARK, PASSWORD_MARK]
                changes.update(new_teams)
                if changes:
                    self._audit(conn, uid, "update", changes)
                    _log_access_changes(conn, uid, new["username"], changes)
        except UserError as exc:
            flash(str(exc), "error")
            return False
        model.update(new)
        return True

    def _lockout(self, uid: int, model: Any, new: dict[str, Any]) -> str | None:
        """Why this change would lock admins out, else None."""
        was_admin = "admin" in (model.get("roles") or []) and model.get("active")
        stays_admin = "admin" in new["roles"] and new["active"]
        if not was_admin or stays_admin:
            return None
        if uid == int(current_user.id):
            return _("You cannot remove your own admin role or deactivate yourself.")
        with self.engine().connect() as conn:
            others = conn.execute(sa.select(users.c.roles).where(
                users.c.active.is_(True), users.c.id != uid)).scalars().all()
        if not any("admin" in (r or []) for r in others):
            return _("This is the last active admin; make someone else an admin first.")
        return None

    def _refuse(self, form: Any, field: str, message: str) -> bool:
        form[field].errors = [*form[field].errors, message]
        flash(message, "error")
        return False

    def _audit(self, conn: sa.Connection, uid: int, action: str, changes: dict[str, Any]
               ) -> None:
        side.write_audit(conn, entity=AUDIT_ENTITY, record_id=uid, action=action,
                         user_id=int(current_user.id), changes=changes, version=None)


#: the changes of a user account that the security log records here (passwords and teams are
#: logged by `app.users.set_password` and `app.users.set_teams`)
ACCESS_EVENTS = {"roles": seclog.USER_ROLES, "active": seclog.USER_ACTIVE}


def _log_access_changes(conn: sa.Connection, uid: int, username: str,
                        changes: dict[str, Any]) -> None:
    by = who()
    for key, event in ACCESS_EVENTS.items():
        if key in changes:
            old, new = changes[key]
            seclog.record(conn, event, who=by, entity=seclog.USER_ENTITY, record_id=uid,
                          detail={"user": username, "from": old, "to": new})
