"""Users: create, change password, check a password. Hashing is Argon2id (argon2-cffi), the
algorithm OWASP recommends first, from a library that tracks its reference implementation."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app import seclog
from app.i18n import _
from app.model.system import users

hasher = PasswordHasher()
MIN_PASSWORD = 8


class UserError(ValueError):
    """A user request that cannot be done; the message says why."""


def create_user(conn: sa.Connection, username: str, password: str, roles: Sequence[str],
                known_roles: Sequence[str], *, email: str | None = None,
                full_name: str | None = None, by: seclog.Who | None = None) -> int:
    """A new active user's id; logged in the security log (`by`: who made it)."""
    if not username or len(username) > 80:
        raise UserError(_("A username needs 1 to 80 characters."))
    unknown = [r for r in roles if r not in known_roles]
    if unknown:
        raise UserError(_("Unknown role(s) %(unknown)s; the roles are: %(roles)s.",
                          unknown=", ".join(unknown), roles=", ".join(known_roles)))
    if len(password) < MIN_PASSWORD:
        raise UserError(_("A password needs at least %(n)s characters.", n=MIN_PASSWORD))
    if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
        raise UserError(_("User '%(name)s' already exists.", name=username))
    uid = int(conn.execute(sa.insert(users).values(
        username=username, password_hash=hasher.hash(password), roles=list(roles),
        email=email, full_name=full_name or username, active=True,
    ).returning(users.c.id)).scalar_one())
    seclog.record(conn, seclog.USER_CREATED, who=by, entity=seclog.USER_ENTITY,
                  record_id=uid, detail={"user": username, "roles": list(roles)})
    return uid


def set_password(conn: sa.Connection, username: str, password: str, *,
                 by: seclog.Who | None = None) -> None:
    """Set a user's password; logged in the security log (`by`: who set it)."""
    if len(password) < MIN_PASSWORD:
        raise UserError(_("A password needs at least %(n)s characters.", n=MIN_PASSWORD))
    done = conn.execute(sa.update(users).where(users.c.username == username)
                        .values(password_hash=hasher.hash(password)).returning(users.c.id)
                        ).first()
    if done is None:
        raise UserError(_("There is no user '%(name)s'.", name=username))
    seclog.record(conn, seclog.USER_PASSWORD, who=by, entity=seclog.USER_ENTITY,
                  record_id=int(done.id), detail={"user": username})


def check_password(conn: sa.Connection, username: str, password: str) -> int | None:
    """The user's id when the password is right and the user is active, else None."""
    row = conn.execute(sa.select(users.c.id, users.c.password_hash, users.c.active)
                       .where(users.c.username == username)).first()
    if row is None or not row.active or not row.password_hash:
        hasher.hash(password)  # same work either way: no user-enumeration by timing
        return None
    try:
        hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return int(row.id)


def teams_of(conn: sa.Connection, user_id: int) -> list[str]:
    """The teams a user is in, by name."""
    from app.model.access import user_teams

    return sorted(conn.execute(sa.select(user_teams.c.team)
                               .where(user_teams.c.user_id == user_id)).scalars())


def set_teams(conn: sa.Connection, user_id: int, teams: Sequence[str],
              known: Sequence[str], *, by: seclog.Who | None = None) -> None:
    """Put a user in exactly these teams (names from the access config's `teams:`); a change
    is logged in the security log (`by`: who made it)."""
    from app.model.access import user_teams

    unknown = [t for t in teams if t not in known]
    if unknown:
        raise UserError(_("Unknown team(s) %(unknown)s; the teams are: %(teams)s.",
                          unknown=", ".join(unknown), teams=", ".join(known) or "-"))
    before = teams_of(conn, user_id)
    conn.execute(sa.delete(user_teams).where(user_teams.c.user_id == user_id))
    if teams:
        conn.execute(sa.insert(user_teams), [{"user_id": user_id, "team": t}
                                             for t in dict.fromkeys(teams)])
    if set(before) != set(teams):
        seclog.record(conn, seclog.USER_TEAMS, who=by, entity=seclog.USER_ENTITY,
                      record_id=user_id, detail={"from": before, "to": sorted(set(teams))})
