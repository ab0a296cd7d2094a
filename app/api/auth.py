"""Who calls the API: a bearer token (`Authorization: Bearer crm_...`) or the browser session
(then writes need the CSRF token in `X-CSRFToken`). Read-only tokens may only read."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import g, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import Forbidden, Unauthorized
from wtforms.validators import ValidationError

from app.i18n import _
from app.model.system import users
from app.records import Actor
from app.tokens import TokenUser, check_token
from app.web.auth import User
from app.web.state import actor, state

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiUnauthorized(Unauthorized):
    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [*super().get_headers(*args, **kwargs),
                ("WWW-Authenticate", 'Bearer realm="crm"')]


def authenticate() -> None:
    """Set `g.api_user` (and `g.api_token_id`) or refuse with 401/403."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiUnauthorized(_("Use 'Authorization: Bearer <token>'."))
        found, row = _token_user(token.strip())
        if found is None or row is None:
            raise ApiUnauthorized(_("The token is unknown, revoked or expired."))
        if found.scope == "read" and request.method not in SAFE_METHODS:
            raise Forbidden(_("This token may only read."))
        g.api_user = User(row)
        g.api_token_id = found.token_id
        return
    user: Any = current_user
    if not getattr(user, "is_authenticated", False):
        raise ApiUnauthorized(_("Sign in, or send an API token."))
    if request.method not in SAFE_METHODS:
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except ValidationError:
            raise Forbidden(_("A signed-in browser must send its CSRF token in the "
                              "X-CSRFToken header to change data.")) from None
    g.api_user = user
    g.api_token_id = None


def api_user() -> Any:
    return g.api_user


def api_user_id() -> int:
    return int(g.api_user.id)


def api_actor() -> Actor:
    return actor(g.api_user)


def _token_user(token: str) -> tuple[TokenUser | None, Any]:
    """The token's grant and its user row, looked up once per request (the rate limiter asks
    first, then the sign-in)."""
    if "api_token_lookup" not in g:
        with state().ctx.engine.begin() as conn:
            found = check_token(conn, token)
            row = conn.execute(sa.select(users).where(users.c.id == found.user_id)).first() \
                if found else None
        g.api_token_lookup = (found, row)
    result: tuple[TokenUser | None, Any] = g.api_token_lookup
    return result


def rate_limit_key() -> str:
    """Limits count per valid token, else per signed-in user, else per address: made-up
    tokens count against the caller's address. (The limiter runs before the API signs the
    caller in, so this reads the credentials itself.)"""
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if header and scheme.lower() == "bearer" and token.strip():
        found, row = _token_user(token.strip())
        if found is not None and row is not None:
            return f"token:{found.token_id}"
        return f"ip:{request.remote_addr}"
    user: Any = current_user
    if getattr(user, "is_authenticated", False):
        return f"user:{user.id}"
    return f"ip:{request.remote_addr}"
