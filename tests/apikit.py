"""Test kit for the REST API: a deployment's app and a bearer token for a user."""

from __future__ import annotations

from typing import Any

from app.context import Context
from app.tokens import create_token
from tests.webkit import user_id


def token_for(ctx: Context, username: str = "admin", *, scope: str = "write",
              expires_days: int | None = None) -> dict[str, str]:
    """Headers that sign in `username` with a new token."""
    with ctx.engine.begin() as conn:
        _id, text = create_token(conn, user_id(ctx, username), "test", scope=scope,
                                 expires_days=expires_days)
    return {"Authorization": f"Bearer {text}"}


def error_of(resp: Any) -> dict[str, Any]:
    body = resp.get_json()
    assert isinstance(body, dict) and "error" in body, resp.text
    assert body["error"]["status"] == resp.status_code
    return dict(body["error"])
