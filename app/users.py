"""Users: create, change password, check a password. Hashing is Argon2id (argon2-cffi), the
algorithm OWASP recommends first, from a library that tracks its reference implementation."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.i18n import _
from app.model.system import users

hasher = PasswordHasher()
MIN_PASSWORD = 8


class UserError(ValueError):
    """A user request that cannot be done; the message says why."""


def create_user(conn: sa.Connection, username: str, password: str, roles: Sequence[str],
                known_roles: Sequence[str], *, email: str | None = None,
                full_name: str | None = None) -> int:
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
    return int(conn.execute(sa.insert(users).values(
        username=username, password_hash=hasher.hash(password), roles=list(roles),
        email=email, full_name=full_name or username, active=True,
    ).returning(users.c.id)).scalar_one())


def set_password(conn: sa.Connection, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(_("A password needs at least %(n)s characters.", n=MIN_PASSWORD))
    done = conn.execute(sa.update(users).where(users.c.username == username)
                        .values(password_hash=hasher.hash(password)))
    if done.rowcount != 1:
        raise UserError(_("There is no user '%(name)s'.", name=username))


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
