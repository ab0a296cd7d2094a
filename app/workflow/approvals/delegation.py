"""Out of office: an approver names a delegate who gets their new approval tasks while the
delegation holds (`starts_at` <= now < `ends_at`; open ends: until removed). Tasks already
open stay with the approver, who may still decide them (and so may an admin). A user may not
delegate to themselves, to an inactive user, or to someone who delegates back to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from app import clock
from app.i18n import _
from app.model.approvals import delegations
from app.model.system import users
from app.records.errors import ValidationFailed


@dataclass(frozen=True)
class Delegation:
    user_id: int
    delegate_id: int
    delegate: str
    starts_at: datetime | None
    ends_at: datetime | None

    @property
    def active(self) -> bool:
        now = clock.now()
        return (self.starts_at is None or self.starts_at <= now) and \
            (self.ends_at is None or now < self.ends_at)

    def as_json(self) -> dict[str, object]:
        return {"delegate_id": self.delegate_id, "delegate": self.delegate,
                "starts_at": self.starts_at.isoformat() if self.starts_at else None,
                "ends_at": self.ends_at.isoformat() if self.ends_at else None,
                "active": self.active}


def _aware(value: datetime | None) -> datetime | None:
    """In UTC (naive means UTC): SQLite keeps no offset, so it is stored as UTC."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def delegation_of(conn: sa.Connection, user_id: int) -> Delegation | None:
    row = conn.execute(sa.select(delegations, users.c.full_name, users.c.username).join(
        users, users.c.id == delegations.c.delegate_id).where(
        delegations.c.user_id == user_id)).first()
    if row is None:
        return None
    return Delegation(user_id, int(row.delegate_id), row.full_name or row.username,
                      _aware(row.starts_at), _aware(row.ends_at))


def set_delegation(conn: sa.Connection, user_id: int, delegate_id: int, *,
                   starts_at: datetime | None = None, ends_at: datetime | None = None
                   ) -> Delegation:
    """Replace the user's delegation (raises ValidationFailed naming the field)."""
    starts_at, ends_at = _aware(starts_at), _aware(ends_at)
    if delegate_id == user_id:
        raise ValidationFailed({"delegate": [_("Choose someone else than yourself.")]})
    active = conn.execute(sa.select(users.c.active).where(users.c.id == delegate_id)).scalar()
    if not active:
        raise ValidationFailed({"delegate": [_("Choose an active user.")]})
    back = conn.execute(sa.select(delegations.c.user_id).where(
        delegations.c.user_id == delegate_id, delegations.c.delegate_id == user_id)).first()
    if back is not None:
        raise ValidationFailed({"delegate": [_("That user delegates their approvals to you; "
                                               "choose someone else.")]})
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValidationFailed({"ends_at": [_("The end must be after the start.")]})
    if ends_at and ends_at <= clock.now():
        raise ValidationFailed({"ends_at": [_("The end must be in the future.")]})
    conn.execute(delegations.delete().where(delegations.c.user_id == user_id))
    conn.execute(delegations.insert().values(user_id=user_id, delegate_id=delegate_id,
                                             starts_at=starts_at, ends_at=ends_at,
                                             created_at=clock.now()))
    found = delegation_of(conn, user_id)
    assert found is not None
    return found


def clear_delegation(conn: sa.Connection, user_id: int) -> bool:
    return bool(conn.execute(delegations.delete().where(delegations.c.user_id == user_id))
                .rowcount)
