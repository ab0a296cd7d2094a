"""Overdue follow-ups: open activities past their due time, for the person responsible and for
their manager.

An activity belongs to its owner and its assignees (user fields such as `assigned_to`).
`overdue(rs, user_id, scope="mine")` lists the user's own (owned or assigned); `scope="team"`
lists those of the users who report to them (`sys_user.manager_id`, directly or further down),
grouped by person (the assignee when they are one of them, else the owner). Both show only
activities the records service's actor may read (a manager's role must let them see their
reports' activities; in the default pack a sales manager reads their subordinates').
Time is `app.clock.now()`; done and cancelled activities are never overdue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from app import clock
from app.model.system import users
from app.records import Records
from app.records.mywork import ACTIVITY, ActivityShape, activity_shape

SCOPES = ("mine", "team")
#: at most this many activities are listed (the count covers all)
LIMIT = 200
#: levels of reports followed down from a manager
MAX_DEPTH = 10


@dataclass
class Overdue:
    """Overdue activities, oldest due first, grouped by the user responsible."""

    shape: ActivityShape | None
    scope: str
    groups: list[tuple[int | None, list[dict[str, Any]]]] = field(default_factory=list)
    total: int = 0

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [row for _uid, rows in self.groups for row in rows]


def reports_of(conn: sa.Connection, manager_id: int) -> set[int]:
    """Users who report to `manager_id`, directly or through their own managers."""
    found: set[int] = set()
    level = {manager_id}
    for _depth in range(MAX_DEPTH):
        below = {int(i) for i in conn.execute(sa.select(users.c.id).where(
            users.c.manager_id.in_(sorted(level)))).scalars()} - found - {manager_id}
        if not below:
            break
        found |= below
        level = below
    return found


def _cutoff(shape: ActivityShape, now: datetime) -> date | datetime:
    return now.date() if shape.due.type == "date" else now


def responsible(shape: ActivityShape, row: dict[str, Any]) -> int | None:
    """The assignee of an activity, else its owner."""
    for f in shape.assignees:
        if row.get(f.name) is not None:
            return int(row[f.name])
    owner = row.get("owner_id")
    return int(owner) if owner is not None else None


def overdue(rs: Records, user_id: int, *, scope: str = "mine", now: datetime | None = None,
            limit: int = LIMIT) -> Overdue:
    """The overdue activities of `user_id` ("mine") or of their reports ("team")."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    shape = activity_shape(rs)
    if shape is None or not rs.access().allows(ACTIVITY, "read"):
        return Overdue(None, scope)
    table = rs.table(ACTIVITY)
    columns = rs.spec(ACTIVITY).columns
    status = table.c[columns[shape.status.name]]
    due = table.c[columns[shape.due.name]]
    assignees = [table.c[columns[f.name]] for f in shape.assignees if f.name in columns]
    with rs.engine.connect() as conn:
        people = {user_id} if scope == "mine" else reports_of(conn, user_id)
        if not people:
            return Overdue(shape, scope)
        wanted = sorted(people)
        whose = sa.or_(table.c.owner_id.in_(wanted), *(a.in_(wanted) for a in assignees))
        where = [table.c.deleted_at.is_(None), whose, due.is_not(None),
                 due < _cutoff(shape, now or clock.now()),
                 sa.or_(status.is_(None), status.not_in(shape.closed))]
        readable = rs.readable(ACTIVITY)
        if readable is not None:
            where.append(readable)
        stmt = rs.select(ACTIVITY).where(*where).order_by(due, table.c.id).limit(limit)
        rows = [rs.to_record(r) for r in conn.execute(stmt)]
        total = int(conn.execute(sa.select(sa.func.count()).select_from(table)
                                 .where(*where)).scalar_one())
    groups: dict[int | None, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(user_id if scope == "mine" else _whose(shape, row, people),
                          []).append(row)
    return Overdue(shape, scope, list(groups.items()), total)


def _whose(shape: ActivityShape, row: dict[str, Any], people: set[int]) -> int | None:
    """Of `people`, the one an activity is listed under: its assignee, else its owner."""
    for f in shape.assignees:
        if row.get(f.name) in people:
            return int(row[f.name])
    owner = row.get("owner_id")
    return int(owner) if owner in people else responsible(shape, row)


def overdue_count(rs: Records, user_id: int, now: datetime | None = None) -> int:
    """How many of the user's own activities are overdue (the home page's badge)."""
    return overdue(rs, user_id, now=now, limit=1).total
