"""Manual sharing: one record shared with a user or a team, for read or edit.

Whoever may edit a record may share it (and take shares back); the share lets its users reach
the record as far as their roles' grants on the entity allow (a role with `read: none` sees
nothing, shared or not: docs/access.md). Each share and unshare is written to the record's
audit trail and to the security log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.i18n import _
from app.meta.access import SHARE_ACCESS
from app.model.access import shares
from app.model.system import users
from app.records import side
from app.records.change import Actor
from app.records.errors import NotFound, ValidationFailed

if TYPE_CHECKING:
    from app.records.service import Records


class ShareNotFound(NotFound):
    """The share to take back does not exist (any more)."""


@dataclass(frozen=True)
class Share:
    id: int
    user_id: int | None
    username: str | None
    #: the user's full name (else username)
    name: str | None
    team: str | None
    access: str
    created_by: str | None
    created_at: datetime


def shares_of(records: Records, entity: str, record_id: int) -> list[Share]:
    """The shares of a record, users first then teams."""
    by = users.alias("by")
    stmt = (sa.select(shares, users.c.username,
                      sa.func.coalesce(users.c.full_name, users.c.username).label("display"),
                      by.c.username.label("by_name"))
            .select_from(shares.outerjoin(users, users.c.id == shares.c.user_id)
                         .outerjoin(by, by.c.id == shares.c.created_by_id))
            .where(shares.c.entity == entity, shares.c.record_id == record_id)
            .order_by(shares.c.team.is_not(None), users.c.username, shares.c.team))
    with records.engine.connect() as conn:
        return [Share(int(r.id), r.user_id, r.username, r.display, r.team, str(r.access),
                      r.by_name, r.created_at) for r in conn.execute(stmt)]


def _check_editable(records: Records, entity: str, record_id: int, actor: Actor,
                    conn: sa.Connection) -> None:
    from app.records import guard

    guard.may(records, conn, entity, record_id, actor, "edit")


def share(records: Records, entity: str, record_id: int, actor: Actor, *,
          user_id: int | None = None, team: str | None = None, access: str = "read") -> int:
    """Share the record with a user or a team (changing the access of an existing share).
    Returns the share's id."""
    records.entity(entity)
    problems: dict[str, list[str]] = {}
    if (user_id is None) == (team is None):
        problems["__record__"] = [_("Share with one user or one team.")]
    if access not in SHARE_ACCESS:
        problems["access"] = [_("Access must be read or edit.")]
    known_teams = records.meta.access.teams if records.meta.access is not None else {}
    if team is not None and team not in known_teams:
        problems["team"] = [_("There is no team '%(name)s'.", name=team)]
    if problems:
        raise ValidationFailed(problems)
    with records.transaction() as conn:
        table = records.table(entity)
        if conn.execute(sa.select(table.c.id).where(
                table.c.id == record_id, table.c.deleted_at.is_(None))).first() is None:
            raise NotFound(_("%(entity)s #%(id)s does not exist or was deleted.",
                             entity=records.entity(entity).label_for(_locale()),
                             id=record_id))
        _check_editable(records, entity, record_id, actor, conn)
        name = None
        if user_id is not None:
            row = conn.execute(sa.select(users.c.id, users.c.active, users.c.username,
                                         users.c.full_name).where(users.c.id == user_id)).first()
            if row is None or not row.active:
                raise ValidationFailed({"user": [_("There is no active user with id %(id)s.",
                                                   id=user_id)]})
            name = row.full_name or row.username
        who = shares.c.user_id == user_id if user_id is not None else shares.c.team == team
        found = conn.execute(sa.select(shares.c.id).where(
            shares.c.entity == entity, shares.c.record_id == record_id, who)).scalar()
        if found is not None:
            conn.execute(sa.update(shares).where(shares.c.id == found).values(access=access))
            share_id = int(found)
        else:
            share_id = int(conn.execute(sa.insert(shares).values(
                entity=entity, record_id=record_id, user_id=user_id, team=team, access=access,
                created_by_id=actor.id, created_at=datetime.now(UTC)).returning(shares.c.id)
            ).scalar_one())
        _log(conn, records, entity, record_id, actor, "share",
             {"user_id": user_id, "name": name, "team": team, "access": access})
    return share_id


def unshare(records: Records, entity: str, record_id: int, share_id: int, actor: Actor) -> None:
    with records.transaction() as conn:
        row = conn.execute(sa.select(shares).where(
            shares.c.id == share_id, shares.c.entity == entity,
            shares.c.record_id == record_id)).first()
        if row is None:
            raise ShareNotFound(_("This share does not exist (any more)."))
        _check_editable(records, entity, record_id, actor, conn)
        conn.execute(sa.delete(shares).where(shares.c.id == share_id))
        name = conn.execute(sa.select(sa.func.coalesce(users.c.full_name, users.c.username))
                            .where(users.c.id == row.user_id)).scalar() if row.user_id else None
        _log(conn, records, entity, record_id, actor, "unshare",
             {"user_id": row.user_id, "name": name, "team": row.team, "access": row.access})


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()


def _log(conn: sa.Connection, records: Records, entity: str, record_id: int, actor: Actor,
         action: str, what: dict[str, Any]) -> None:
    side.write_audit(conn, entity=entity, record_id=record_id, action=action,
                     user_id=actor.id, version=None, changes={"sharing": [None, what]})
    from app import seclog

    event = seclog.RECORD_SHARED if action == "share" else seclog.RECORD_UNSHARED
    seclog.record(conn, event, user_id=actor.id, username=actor.username, entity=entity,
                  record_id=record_id, detail=what)
