"""API tokens in the back office: every user's tokens (never their text), when each was last
used, and a "revoke" action for an admin who must cut off an integration."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash
from flask_admin.actions import action

from app.admin.common import EqualsFilter, Lazy, Row, when
from app.admin.system_views import ReadOnlyView
from app.i18n import _, ngettext
from app.model.system import users
from app.model.tokens import api_tokens
from app.textnum import small_int
from app.tokens import TokenError, revoke_token
from app.web.seclog import who
from app.web.state import state


class ApiTokensView(ReadOnlyView):
    """sys_api_token joined to its user, newest first."""

    column_list = ["id", "username", "name", "prefix", "scope", "created_at", "last_used_at",
                   "expires_at", "revoked_at"]
    column_details_list = column_list
    column_sortable_list = ["id", "username", "name", "created_at", "last_used_at"]
    search_columns = ("name", "username")

    def __init__(self, category: Lazy) -> None:
        self.column_labels = {
            "id": Lazy(lambda: _("Token")), "username": Lazy(lambda: _("User")),
            "name": Lazy(lambda: _("Name")), "prefix": Lazy(lambda: _("Starts with")),
            "scope": Lazy(lambda: _("Access")), "created_at": Lazy(lambda: _("Created")),
            "last_used_at": Lazy(lambda: _("Last used")),
            "expires_at": Lazy(lambda: _("Expires")), "revoked_at": Lazy(lambda: _("Revoked")),
        }
        self.column_formatters = {
            "created_at": lambda v, c, m, n: when(m.created_at),
            "last_used_at": lambda v, c, m, n: when(m.last_used_at),
            "expires_at": lambda v, c, m, n: when(m.expires_at),
            "revoked_at": lambda v, c, m, n: when(m.revoked_at),
            "prefix": lambda v, c, m, n: f"{m.prefix}…",
            "scope": lambda v, c, m, n: _("Read only") if m.scope == "read"
            else _("Read and write"),
        }
        self.column_filters = [EqualsFilter("username", Lazy(lambda: _("User")))]
        super().__init__(Row, name=Lazy(lambda: _("API tokens")), category=category,
                         endpoint="admin_sys_api_token", url="/admin/system/tokens")

    def query(self) -> sa.Select[Any]:
        t = api_tokens.c
        return (sa.select(t.id, users.c.username, t.name, t.prefix, t.scope, t.created_at,
                          t.last_used_at, t.expires_at, t.revoked_at)
                .join(users, users.c.id == t.user_id))

    @action("revoke", Lazy(lambda: _("Revoke")),
            Lazy(lambda: _("Revoke the selected tokens? Programs using them are refused.")))
    def action_revoke(self, ids: list[str]) -> None:
        done = 0
        by = who()
        with state().ctx.engine.begin() as conn:
            for token_id in (n for n in map(small_int, ids) if n is not None):
                try:
                    revoke_token(conn, token_id, by=by)
                except TokenError:
                    continue  # already revoked
                done += 1
        flash(ngettext("%(num)d token revoked.", "%(num)d tokens revoked.", done), "success")
