"""The back office at /admin/ (flask-admin, admin role only).

`init_admin(app)` gives each Flask app (one per config version) a NEW `flask_admin.Admin` with a
view per entity of that version, grouped under "Records", and the system pages under "System":
users, roles, the audit log, the security log and config versions. Entity views read and
write only through the records service. The theme is flask-admin's Bootstrap 4, served from
its own static files.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.theme import Bootstrap4Theme

from app.admin.access_view import AccessExplainView
from app.admin.backups_view import BackupsView
from app.admin.common import AdminAccess, Lazy
from app.admin.mail_view import MailLogView
from app.admin.records_view import EntityView
from app.admin.seclog_view import SecurityLogView
from app.admin.system_views import AuditView, ConfigVersionsView, RolesView
from app.admin.tokens_view import ApiTokensView
from app.admin.users_view import UsersView
from app.admin.webhooks_view import WebhookDeliveriesView
from app.i18n import _, get_locale
from app.web.state import WebState, records, state

__all__ = ["init_admin"]


class HomeView(AdminAccess, AdminIndexView):
    """The back office's first page: every entity with its live and deleted records."""

    @expose("/")
    def index(self) -> str:
        meta = state().meta
        rows: list[dict[str, Any]] = []
        if meta is not None and state().models is not None:
            rec = records()
            with rec.engine.connect() as conn:
                for e in sorted(meta, key=lambda e: e.plural_for(get_locale())):
                    table = rec.table(e.name)
                    live, deleted = conn.execute(sa.select(
                        sa.func.count().filter(table.c.deleted_at.is_(None)),
                        sa.func.count().filter(table.c.deleted_at.is_not(None)),
                    ).select_from(table)).one()
                    rows.append({"entity": e, "live": live, "deleted": deleted,
                                 "endpoint": f"admin_{e.name}.index_view"})
        return self.render("crm_admin/index.html", rows=rows, version=state().version)


def init_admin(app: Flask) -> None:
    """Add the back office to `app` (called once per Flask app by `app.web.create_app`)."""
    st: WebState = app.extensions["crm"]
    app.register_blueprint(Blueprint("crm_admin", __name__, template_folder="templates"))
    admin = Admin(
        app,
        name=Lazy(lambda: _("Back office")),
        index_view=HomeView(name=Lazy(lambda: _("Overview")), url="/admin", endpoint="admin"),
        theme=Bootstrap4Theme(base_template="crm_admin/base.html", fluid=True),
    )
    records_menu = Lazy(lambda: _("Data"))
    system_menu = Lazy(lambda: _("System"))
    if st.meta is not None and st.models is not None:
        for entity in st.meta:
            admin.add_view(EntityView(entity, records_menu))
    roles = st.meta.roles if st.meta is not None and st.meta.roles else st.ctx.settings.roles
    access = st.meta.access if st.meta is not None else None
    teams = [(t.name, t.label) for t in access.teams.values()] if access is not None else []
    admin.add_view(UsersView(roles, system_menu, teams))
    admin.add_view(RolesView(roles, system_menu))
    admin.add_view(AccessExplainView(system_menu))
    admin.add_view(AuditView(st.meta, system_menu))
    admin.add_view(SecurityLogView(system_menu))
    admin.add_view(ConfigVersionsView(system_menu))
    admin.add_view(WebhookDeliveriesView(system_menu))
    admin.add_view(MailLogView(system_menu))
    admin.add_view(ApiTokensView(system_menu))
    admin.add_view(BackupsView(system_menu))
