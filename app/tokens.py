"""API tokens: made for one user, shown once, stored as a SHA-256 digest, read-only or
read-write, optionally expiring, revocable. A token is 32 random bytes (`secrets`), so a fast
digest is enough: there is nothing to guess that a slow hash would protect."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app import seclog
from app.i18n import _
from app.model.system import users
from app.model.tokens import api_tokens

PREFIX = "crm_"
SCOPES = ("read", "write")


class TokenError(ValueError):
    """A token request that cannot be done; the message says why."""


@dataclass(frozen=True)
class TokenUser:
    """Who a valid token signs in, and what it may do."""

    token_id: int
    user_id: int
    scope: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: sa.Connection, user_id: int, name: str, *, scope: str = "write",
                 expires_days: int | None = None, by: seclog.Who | None = None
                 ) -> tuple[int, str]:
    """A new token for `user_id`: (its id, the token text — shown this once, never stored).
    Logged in the security log (`by`: who made it)."""
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise TokenError(_("A token needs a name of 1 to 80 characters."))
    if scope not in SCOPES:
        raise TokenError(_("A token's scope is read or write, not '%(scope)s'.", scope=scope))
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise TokenError(_("A token expires after 1 to 3650 days."))
    if not conn.execute(sa.select(users.c.id).where(users.c.id == user_id,
                                                    users.c.active.is_(True))).first():
        raise TokenError(_("There is no active user with id %(id)s.", id=user_id))
    text = PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    token_id = conn.execute(api_tokens.insert().values(
        user_id=user_id, name=name, prefix=text[:10], digest=digest(text), scope=scope,
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    ).returning(api_tokens.c.id)).scalar_one()
    seclog.record(conn, seclog.TOKEN_CREATED, who=by, entity=seclog.TOKEN_ENTITY,
                  record_id=int(token_id), detail={"owner_id": user_id, "name": name,
                                                   "scope": scope, "expires_days": expires_days})
    return int(token_id), text


def check_token(conn: sa.Connection, text: str) -> TokenUser | None:
    """The user a token signs in, or None when it is unknown, revoked, expired or its user is
    inactive. Records when it was last used (at most once a minute)."""
    if not text.startswith(PREFIX) or len(text) > 200:
        return None
    row = conn.execute(
        sa.select(api_tokens.c.id, api_tokens.c.user_id, api_tokens.c.scope,
                  api_tokens.c.expires_at, api_tokens.c.revoked_at, api_tokens.c.last_used_at)
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(api_tokens.c.digest == digest(text), users.c.active.is_(True))).first()
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and _aware(row.expires_at) <= now:
        return None
    if row.last_used_at is None or now - _aware(row.last_used_at) > timedelta(minutes=1):
        conn.execute(api_tokens.update().where(api_tokens.c.id == row.id)
                     .values(last_used_at=now))
    return TokenUser(int(row.id), int(row.user_id), str(row.scope))


def list_tokens(conn: sa.Connection, user_id: int | None = None) -> list[dict[str, Any]]:
    """Tokens (never their text), newest first; of one user, or of everyone."""
    stmt = (sa.select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.prefix,
                      api_tokens.c.scope, api_tokens.c.created_at, api_tokens.c.expires_at,
                      api_tokens.c.last_used_at, api_tokens.c.revoked_at,
                      users.c.username)
            .join(users, users.c.id == api_tokens.c.user_id)
            .order_by(api_tokens.c.id.desc()))
    if user_id is not None:
        stmt = stmt.where(api_tokens.c.user_id == user_id)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def revoke_token(conn: sa.Connection, token_id: int, user_id: int | None = None, *,
                 by: seclog.Who | None = None) -> None:
    """Revoke a token (of `user_id` only, when given); logged in the security log (`by`: who
    revoked it)."""
    stmt = api_tokens.update().where(api_tokens.c.id == token_id,
                                     api_tokens.c.revoked_at.is_(None))
    if user_id is not None:
        stmt = stmt.where(api_tokens.c.user_id == user_id)
    done = conn.execute(stmt.values(revoked_at=datetime.now(UTC)).returning(
        api_tokens.c.user_id, api_tokens.c.name)).first()
    if done is None:
        raise TokenError(_("There is no active token with id %(id)s.", id=token_id))
    seclog.record(conn, seclog.TOKEN_REVOKED, who=by, entity=seclog.TOKEN_ENTITY,
                  record_id=token_id, detail={"owner_id": int(done.user_id),
                                              "name": done.name})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
