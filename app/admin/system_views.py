"""Read-only system pages of the back office: the audit log, config versions and roles.

They read system tables with SQLAlchemy Core (no Flask-SQLAlchemy session: flask-admin 2
deprecates bare sessions for its SQLAlchemy views, and these pages only list rows).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask_admin import BaseView, expose
from markupsafe import Markup

from app.admin.common import (
    AdminAccess,
    EqualsFilter,
    Lazy,
    Row,
    SelectView,
    bullet_list,
    label_of,
    when,
)
from app.i18n import _, get_locale
from app.meta.types import Meta, label_text
from app.model.system import audit, config_versions, users
from app.web.state import state

ACTIONS = {
    "create": lambda: _("Created"),
    "update": lambda: _("Changed"),
    "delete": lambda: _("Deleted"),
    "restore": lambda: _("Restored"),
}
USER_ENTITY = "sys_user"


class ReadOnlyView(SelectView):
    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = True

    def engine(self) -> sa.Engine:
        return state().ctx.engine

    def scaffold_list_columns(self) -> list[str]:
        return list(self.column_list or [])

    def scaffold_form(self) -> Any:
        return self.form_base_class


class AuditView(ReadOnlyView):
    """Every change of every record, newest first; filter by entity, user and action."""

    column_list = ["at", "username", "entity", "record_id", "action", "version", "changes"]
    column_details_list = ["id", *column_list]
    column_sortable_list = ["at", "username", "entity", "record_id", "action"]
    search_columns = ("entity", "username")

    def __init__(self, meta: Meta | None, category: Lazy) -> None:
        self.meta = meta
        self.column_labels = {
            "id": Lazy(lambda: _("ID")), "at": Lazy(lambda: _("When")),
            "username": Lazy(lambda: _("User")), "entity": Lazy(lambda: _("Entity")),
            "record_id": Lazy(lambda: _("Record")), "action": Lazy(lambda: _("Action")),
            "version": Lazy(lambda: _("Version")), "changes": Lazy(lambda: _("Changes")),
        }
        self.column_formatters = {
            "at": lambda v, c, m, n: when(m.at),
            "entity": lambda v, c, m, n: self._entity_label(m.entity),
            "record_id": lambda v, c, m, n: self._record_link(m),
            "action": lambda v, c, m, n: ACTIONS[m.action]() if m.action in ACTIONS
            else m.action,
            "changes": lambda v, c, m, n: self._changes(m),
        }
        entities: list[tuple[str, Any]] = [
            (e.name, label_of(e.label, e.name)) for e in (meta or ())]
        entities.append((USER_ENTITY, Lazy(lambda: _("User account"))))
        self.column_filters = [
            EqualsFilter("entity", Lazy(lambda: _("Entity")), entities),
            EqualsFilter("username", Lazy(lambda: _("User"))),
            EqualsFilter("action", Lazy(lambda: _("Action")),
                         [(k, Lazy(v)) for k, v in ACTIONS.items()]),
        ]
        super().__init__(Row, name=Lazy(lambda: _("Audit log")), category=category,
                         endpoint="admin_sys_audit", url="/admin/system/audit")

    def query(self) -> sa.Select[Any]:
        return sa.select(audit.c.id, audit.c.at, audit.c.user_id, users.c.username,
                         audit.c.entity, audit.c.record_id, audit.c.action, audit.c.version,
                         audit.c.changes).select_from(
            audit.outerjoin(users, users.c.id == audit.c.user_id))

    def _entity_label(self, name: str | None) -> str:
        if name == USER_ENTITY:
            return _("User account")
        e = self.meta.entities.get(name or "") if self.meta else None
        return e.label_for(get_locale()) if e is not None else (name or "")

    def _record_link(self, row: Row) -> Any:
        if row.record_id is None:
            return ""
        if self.meta is not None and row.entity in self.meta.entities:
            return Markup('<a href="/{}/{}">#{}</a>').format(row.entity, row.record_id,
                                                             row.record_id)
        return f"#{row.record_id}"

    def _changes(self, row: Row) -> Markup:
        """`Field: old → new`, one line per field, labels in the user's language."""
        changes = row.changes
        if isinstance(changes, str):
            try:
                changes = json.loads(changes)
            except ValueError:
                return Markup("{}").format(changes)
        if not isinstance(changes, dict):
            return Markup("")
        e = self.meta.entities.get(row.entity or "") if self.meta else None
        lines: list[Markup] = []
        for name, pair in changes.items():
            f = e.fields.get(name) if e is not None else None
            label = f.label_for(get_locale()) if f is not None else name
            old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
            lines.append(Markup("<strong>{}</strong>: {} → {}").format(
                label, _shown(f, old), _shown(f, new)))
        return bullet_list(lines)


def _shown(f: Any, value: Any) -> str:
    if value is None or value == "":
        return "∅"
    kind = f.type if f is not None else ""
    if kind == "picklist":
        for c in f.choices:
            if c.value == value:
                return label_text(c.label, get_locale(), c.value)
    if kind == "boolean" and isinstance(value, bool):
        return _("Yes") if value else _("No")
    if kind in ("lookup", "master_detail", "user") and isinstance(value, int):
        return f"#{value}"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class ConfigVersionsView(ReadOnlyView):
    """Published config versions (without their snapshots), newest first."""

    column_list = ["id", "digest", "parent_id", "created_at", "author", "message",
                   "migration_id"]
    column_details_list = column_list
    column_sortable_list = ["id", "created_at", "author"]
    search_columns = ("author", "message", "digest")

    def __init__(self, category: Lazy) -> None:
        self.column_labels = {
            "id": Lazy(lambda: _("Version")), "digest": Lazy(lambda: _("Digest")),
            "parent_id": Lazy(lambda: _("Based on")), "created_at": Lazy(lambda: _("Published")),
            "author": Lazy(lambda: _("Author")), "message": Lazy(lambda: _("Message")),
            "migration_id": Lazy(lambda: _("Migration")),
        }
        self.column_formatters = {
            "id": lambda v, c, m, n: self._version(m.id),
            "digest": lambda v, c, m, n: Markup("<code title='{}'>{}</code>").format(
                m.digest, (m.digest or "")[:12]),
            "created_at": lambda v, c, m, n: when(m.created_at),
        }
        super().__init__(Row, name=Lazy(lambda: _("Config versions")), category=category,
                         endpoint="admin_sys_config_version", url="/admin/system/config")

    def query(self) -> sa.Select[Any]:
        c = config_versions.c
        return sa.select(c.id, c.digest, c.parent_id, c.created_at, c.author, c.message,
                         c.migration_id)

    def _version(self, version: int) -> Markup:
        if version == state().version:
            return Markup('{} <span class="badge badge-success">{}</span>').format(
                version, _("live"))
        return Markup("{}").format(version)


class RolesView(AdminAccess, BaseView):
    """The roles of the config with how many users have each (roles are set in config.yaml)."""

    def __init__(self, roles: Sequence[str], category: Lazy) -> None:
        self.roles = tuple(roles)
        super().__init__(name=Lazy(lambda: _("Roles")), category=category,
                         endpoint="admin_sys_role", url="/admin/system/roles")

    @expose("/")
    def index(self) -> str:
        with state().ctx.engine.connect() as conn:
            rows = conn.execute(sa.select(users.c.roles, users.c.active)).all()
        counts = {r: [0, 0] for r in self.roles}
        for row in rows:
            for role in row.roles or []:
                if role in counts:
                    counts[role][0 if row.active else 1] += 1
        return self.render("crm_admin/roles.html", roles=[
            (r, counts[r][0], counts[r][1]) for r in self.roles])
