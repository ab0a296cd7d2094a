"""The back office's "Security log" page: `sys_security_log`, read-only, newest first, with
filters by event and by user (`app.seclog`). There is no create, edit or delete, and the
database refuses changes to the table anyway."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup

from app import seclog
from app.admin.common import EqualsFilter, Lazy, Row, bullet_list, when
from app.admin.system_views import ReadOnlyView
from app.i18n import _
from app.model.system import security_log


class SecurityLogView(ReadOnlyView):
    column_list = ["at", "event", "username", "ip", "entity", "record_id", "detail"]
    column_details_list = ["id", *column_list, "user_id"]
    column_sortable_list = ["at", "event", "username", "ip"]
    search_columns = ("username", "ip", "event")

    def __init__(self, category: Lazy) -> None:
        self.column_labels = {
            "id": Lazy(lambda: _("ID")), "at": Lazy(lambda: _("When")),
            "event": Lazy(lambda: _("Event")), "username": Lazy(lambda: _("User")),
            "user_id": Lazy(lambda: _("User ID")), "ip": Lazy(lambda: _("Address")),
            "entity": Lazy(lambda: _("Entity")), "record_id": Lazy(lambda: _("Record")),
            "detail": Lazy(lambda: _("Details")),
        }
        self.column_formatters = {
            "at": lambda v, c, m, n: when(m.at),
            "event": lambda v, c, m, n: Markup('<span title="{}">{}</span>').format(
                m.event, seclog.label(m.event)),
            "record_id": lambda v, c, m, n: "" if m.record_id is None else f"#{m.record_id}",
            "detail": lambda v, c, m, n: _detail(m),
        }
        self.column_filters = [
            EqualsFilter("event", Lazy(lambda: _("Event")),
                         [(code, Lazy(make)) for code, make in seclog.EVENTS.items()]),
            EqualsFilter("username", Lazy(lambda: _("User"))),
            EqualsFilter("ip", Lazy(lambda: _("Address"))),
        ]
        super().__init__(Row, name=Lazy(lambda: _("Security log")), category=category,
                         endpoint="admin_sys_security_log", url="/admin/system/security")

    def query(self) -> sa.Select[Any]:
        c = security_log.c
        return sa.select(c.id, c.at, c.event, c.user_id, c.username, c.ip, c.entity,
                         c.record_id, c.detail)


def _detail(row: Row) -> Markup:
    """`key: value` per line, values as compact JSON (escaped)."""
    detail = row.detail
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            return Markup("{}").format(detail)
    if not isinstance(detail, dict) or not detail:
        return Markup("")
    lines = [Markup("<strong>{}</strong>: {}").format(
        k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        for k, v in detail.items() if v is not None]
    return bullet_list(lines)
