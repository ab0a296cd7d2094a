"""The web side of the security log (`app.seclog`): who the request's user is and which address
the request came from.

The address is `request.remote_addr`, never `X-Forwarded-For`: the header is whatever the
client wrote, and config.yaml has no setting that names a trusted proxy. (Flask-Limiter counts
sign-in attempts by the same address.) Behind a reverse proxy every event shows the proxy's
address until such a setting exists and the app is wrapped in werkzeug's `ProxyFix`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user

from app import seclog
from app.web.state import state

#: a denial by the same user, from the same address, of the same record, is logged once a minute
DENIAL_WINDOW = timedelta(minutes=1)


def client_ip() -> str | None:
    """The address of the client of this request (see the module's note about proxies)."""
    return request.remote_addr if has_request_context() else None


def who() -> seclog.Who:
    """The signed-in user (if any) and the client address of this request."""
    user: Any = (g.get("api_user") if has_request_context() else None) or current_user
    if has_request_context() and getattr(user, "is_authenticated", False):
        return seclog.Who(int(user.id), str(user.username), client_ip())
    return seclog.Who(ip=client_ip())


def record(event: str, *, entity: str | None = None, record_id: int | None = None,
           detail: Mapping[str, Any] | None = None, username: str | None = None,
           user_id: int | None = None, once_per: timedelta | None = None) -> bool:
    """Log `event` for this request in a transaction of its own; returns whether a row was
    written (see `app.seclog.record`)."""
    with state().ctx.engine.begin() as conn:
        return seclog.record(conn, event, who=who(), entity=entity, record_id=record_id,
                             detail=detail, username=username, user_id=user_id,
                             once_per=once_per)


def denied(*, entity: str | None = None, record_id: int | None = None,
           action: str | None = None, reason: str | None = None) -> bool:
    """Log an access denial of the permission layer (call it where the 403 is decided): at
    most once a minute for the same user, address, entity and record."""
    detail = {k: v for k, v in (("action", action), ("reason", reason),
                                ("path", request.path if has_request_context() else None))
              if v}
    return record(seclog.ACCESS_DENIED, entity=entity, record_id=record_id, detail=detail,
                  once_per=DENIAL_WINDOW)
