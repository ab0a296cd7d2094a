"""Reports and dashboards users build, kept in the database (`sys_report`, `sys_dashboard`).

A user report is a config report's definition (`data_of_report`) with an owner; once read it is
a ReportDef named `u<id>` (origin "user", ref = its id). Its owner (or an admin) may change and
delete it; when `shared`, everyone sees it (running it still needs read permission on its
entity, and counts only the records they may read). A user dashboard is a list of widgets; only
its owner sees and changes it. `get_report` and `dashboards_for` join both sources with the
config's (`Meta.reports`, `Meta.dashboards`).

"who" arguments are anything with `id` and `roles` (app.records.Actor, the web's signed-in
user). Every write runs in the caller's transaction (`engine.begin()`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.i18n import _
from app.meta.types import Meta, thaw
from app.model.reports import user_dashboards
from app.model.reports import user_reports as report_rows
from app.model.system import users
from app.records.errors import Forbidden, NotFound, RecordError
from app.reports.definition import (
    USER_REF,
    DefinitionError,
    dashboard_from_data,
    data_of_report,
    data_of_widget,
    report_from_data,
)
from app.reports.types import DashboardDef, ReportDef, Widget

log = logging.getLogger(__name__)

ADMIN = "admin"
#: most user reports listed at once
MAX_LISTED = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def ref_id(ref: str | int | None) -> int | None:
    """The id of a user report or dashboard ref (`u12` or 12); None when it is not one."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref if ref > 0 else None
    match = USER_REF.match(str(ref or ""))
    return int(match.group(1)) if match else None


def is_admin(who: Any) -> bool:
    return ADMIN in (getattr(who, "roles", None) or ())


# --- reports -----------------------------------------------------------------------------------
def _report(row: Any) -> ReportDef | None:
    try:
        r = report_from_data(f"u{row.id}", row.definition or {})
    except DefinitionError as exc:  # written by an older version, say: left out, not a 500
        log.warning("user report %s cannot be read: %s", row.id, exc)
        return None
    return replace(r, origin="user", ref=int(row.id))


def save_report(conn: sa.Connection, owner_id: int, r: ReportDef, *, shared: bool = False
                ) -> int:
    """Store `r` as a new report of `owner_id`; its id (the report is `u<id>`)."""
    now = _now()
    return int(conn.execute(report_rows.insert().values(
        owner_id=owner_id, name=r.name[:120], label=thaw(r.label),
        definition=_jsonable(data_of_report(r)), shared=bool(shared), created_at=now,
        updated_at=now).returning(report_rows.c.id)).scalar_one())


def update_report(conn: sa.Connection, report_id: int, r: ReportDef, *,
                  shared: bool | None = None) -> None:
    """Replace the definition of user report `report_id` (and its `shared` flag when given).
    NotFound when there is none. Whether the caller may is `may_change`'s question."""
    values: dict[str, Any] = {"label": thaw(r.label), "definition": _jsonable(data_of_report(r)),
                              "updated_at": _now()}
    if shared is not None:
        values["shared"] = bool(shared)
    done = conn.execute(report_rows.update().where(report_rows.c.id == report_id)
                        .values(**values))
    if not done.rowcount:
        raise NotFound(_("There is no report u%(id)s.", id=report_id))


def delete_report(conn: sa.Connection, report_id: int) -> None:
    """Delete user report `report_id` (NotFound when there is none)."""
    done = conn.execute(report_rows.delete().where(report_rows.c.id == report_id))
    if not done.rowcount:
        raise NotFound(_("There is no report u%(id)s.", id=report_id))


def owner_of_report(bind: sa.Connection | sa.Engine, report_id: int | None) -> int | None:
    """The owner's id of user report `report_id` (None when there is none)."""
    if report_id is None:
        return None
    stmt = sa.select(report_rows.c.owner_id).where(report_rows.c.id == report_id)
    if isinstance(bind, sa.Engine):
        with bind.connect() as conn:
            found = conn.execute(stmt).scalar()
    else:
        found = bind.execute(stmt).scalar()
    return int(found) if found is not None else None


def may_change(conn: sa.Connection, who: Any, report_id: int) -> bool:
    """Whether `who` may change or delete user report `report_id`: its owner or an admin."""
    owner = owner_of_report(conn, report_id)
    return owner is not None and (owner == getattr(who, "id", None) or is_admin(who))


def check_may_change(conn: sa.Connection, who: Any, report_id: int) -> None:
    """NotFound (no such report, or one `who` may not even see), Forbidden (not theirs)."""
    row = conn.execute(sa.select(report_rows.c.owner_id, report_rows.c.shared)
                       .where(report_rows.c.id == report_id)).first()
    if row is None or not (row.shared or row.owner_id == getattr(who, "id", None)
                           or is_admin(who)):
        raise NotFound(_("There is no report u%(id)s.", id=report_id))
    if not may_change(conn, who, report_id):
        raise Forbidden(_("Only the owner of a report (or an administrator) may change it."))


def is_shared(conn: sa.Connection, report_id: int) -> bool:
    return bool(conn.execute(sa.select(report_rows.c.shared)
                             .where(report_rows.c.id == report_id)).scalar())


def user_reports(conn: sa.Connection, user_id: int) -> list[ReportDef]:
    """The user's own reports, newest first."""
    rows = conn.execute(sa.select(report_rows).where(report_rows.c.owner_id == user_id)
                        .order_by(report_rows.c.id.desc()).limit(MAX_LISTED))
    return [r for r in (_report(row) for row in rows) if r is not None]


def shared_reports(conn: sa.Connection, user_id: int) -> list[tuple[ReportDef, str]]:
    """Reports other users shared, with the owner's name, newest first."""
    c = report_rows.c
    rows = conn.execute(
        sa.select(report_rows, users.c.full_name, users.c.username)
        .select_from(report_rows.join(users, users.c.id == c.owner_id))
        .where(c.shared.is_(True), c.owner_id != user_id)
        .order_by(c.id.desc()).limit(MAX_LISTED))
    out = []
    for row in rows:
        r = _report(row)
        if r is not None:
            out.append((r, row.full_name or row.username))
    return out


def reports_visible_to(conn: sa.Connection, user_id: int
                       ) -> tuple[list[ReportDef], list[tuple[ReportDef, str]]]:
    """(the user's own reports, (report, owner name) of the others' shared ones)."""
    return user_reports(conn, user_id), shared_reports(conn, user_id)


def get_report(meta: Meta, conn: sa.Connection, who: Any, name_or_id: str | int
               ) -> ReportDef | None:
    """The config report `name_or_id`, or the user report `u<id>` (or its id) when `who` owns
    it, it is shared, or `who` is an admin; None otherwise. Whether `who` may read its entity
    is checked when it runs."""
    if isinstance(name_or_id, str) and name_or_id in meta.reports:
        return meta.reports[name_or_id]
    rid = ref_id(name_or_id)
    if rid is None:
        return None
    row = conn.execute(sa.select(report_rows).where(report_rows.c.id == rid)).first()
    if row is None or not (row.shared or row.owner_id == getattr(who, "id", None)
                           or is_admin(who)):
        return None
    return _report(row)


def all_reports(meta: Meta, conn: sa.Connection, who: Any) -> list[ReportDef]:
    """Config reports, then `who`'s own, then the others' shared ones."""
    uid = int(getattr(who, "id", 0) or 0)
    return [*meta.reports.values(), *user_reports(conn, uid),
            *(r for r, _owner in shared_reports(conn, uid))]


# --- dashboards --------------------------------------------------------------------------------
def _dashboard(row: Any) -> DashboardDef | None:
    try:
        d = dashboard_from_data(f"u{row.id}", {"label": row.label or {},
                                               "widgets": row.widgets or []})
    except DefinitionError as exc:
        log.warning("user dashboard %s cannot be read: %s", row.id, exc)
        return None
    return replace(d, origin="user", ref=int(row.id))


def dashboards_for(meta: Meta, conn: sa.Connection, who: Any) -> list[DashboardDef]:
    """The config dashboards whose roles include one of `who`'s (all of them for an admin;
    a dashboard without roles is everyone's), then `who`'s own (their default first)."""
    roles = set(getattr(who, "roles", None) or ())
    config = [d for d in meta.dashboards.values()
              if not d.roles or ADMIN in roles or roles & set(d.roles)]
    c = user_dashboards.c
    rows = conn.execute(sa.select(user_dashboards).where(
        c.owner_id == getattr(who, "id", None)).order_by(c.is_default.desc(), c.id))
    own = [d for d in (_dashboard(row) for row in rows) if d is not None]
    return [*config, *own]


def save_dashboard(conn: sa.Connection, owner_id: int, d: DashboardDef, *,
                   is_default: bool = False) -> int:
    """Store `d` as a new dashboard of `owner_id`; its id (the dashboard is `u<id>`)."""
    now = _now()
    return int(conn.execute(user_dashboards.insert().values(
        owner_id=owner_id, name=d.name[:120], label=thaw(d.label),
        widgets=[data_of_widget(w) for w in d.widgets], is_default=is_default,
        created_at=now, updated_at=now).returning(user_dashboards.c.id)).scalar_one())


def _own_dashboard(conn: sa.Connection, user_id: int, dashboard: str | int) -> Any:
    """The row of `user_id`'s dashboard `dashboard` (`u<id>` or id); a config dashboard is
    Forbidden (changed in reports/*.yaml), another user's or a missing one NotFound."""
    did = ref_id(dashboard)
    if did is None:
        raise Forbidden(_("Dashboards of the configuration cannot be changed here; add the "
                          "widget to one of your own dashboards."))
    row = conn.execute(sa.select(user_dashboards).where(
        user_dashboards.c.id == did, user_dashboards.c.owner_id == user_id)).first()
    if row is None:
        raise NotFound(_("There is no dashboard u%(id)s of yours.", id=did))
    return row


def set_widgets(conn: sa.Connection, user_id: int, dashboard: str | int,
                widgets: Sequence[Widget]) -> None:
    """Replace the widgets of `user_id`'s own dashboard (removing or reordering them)."""
    row = _own_dashboard(conn, user_id, dashboard)
    conn.execute(user_dashboards.update().where(user_dashboards.c.id == row.id).values(
        widgets=[data_of_widget(w) for w in widgets], updated_at=_now()))


def add_widget(conn: sa.Connection, user_id: int, dashboard_ref: str | int, widget: Widget
               ) -> None:
    """Append `widget` to `user_id`'s own dashboard `dashboard_ref` (`u<id>`)."""
    row = _own_dashboard(conn, user_id, dashboard_ref)
    if not 1 <= widget.width <= 12:
        raise RecordError(_("A widget's width is 1 to 12 (twelfths of the row)."))
    widgets = [*(row.widgets or []), data_of_widget(widget)]
    conn.execute(user_dashboards.update().where(user_dashboards.c.id == row.id).values(
        widgets=widgets, updated_at=_now()))


def rename_dashboard(conn: sa.Connection, user_id: int, dashboard: str | int,
                     label: dict[str, str]) -> None:
    row = _own_dashboard(conn, user_id, dashboard)
    conn.execute(user_dashboards.update().where(user_dashboards.c.id == row.id).values(
        label=dict(label), updated_at=_now()))


def set_default_dashboard(conn: sa.Connection, user_id: int, dashboard: str | int) -> None:
    """Make `dashboard` the user's default (listed first); the others stop being it."""
    row = _own_dashboard(conn, user_id, dashboard)
    c = user_dashboards.c
    conn.execute(user_dashboards.update().where(c.owner_id == user_id)
                 .values(is_default=c.id == row.id))


def delete_dashboard(conn: sa.Connection, user_id: int, dashboard: str | int) -> None:
    row = _own_dashboard(conn, user_id, dashboard)
    conn.execute(user_dashboards.delete().where(user_dashboards.c.id == row.id))
