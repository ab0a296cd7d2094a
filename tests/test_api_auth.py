"""Who may call the API: tokens (unknown, revoked, expired, read-only), the browser session
with its CSRF header, and the rate limit per token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.model.tokens import api_tokens
from app.tokens import revoke_token
from tests.apikit import error_of, token_for
from tests.webkit import deployment, sign_in, web_app


def test_no_or_bad_credentials_are_401_with_a_bearer_challenge(crm: Any) -> None:
    c = web_app(crm).test_client()
    for headers in ({}, {"Authorization": "Bearer crm_not-a-token"},
                    {"Authorization": "Basic YWRtaW46eA=="}, {"Authorization": "Bearer"}):
        resp = c.get("/api/v1/account", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert error_of(resp)["message"]
    assert c.get("/api/v1/openapi.json").status_code == 401


def test_revoked_and_expired_tokens_stop_working(crm: Any) -> None:
    c = web_app(crm).test_client()
    h = token_for(crm)
    assert c.get("/api/v1/account", headers=h).status_code == 200
    with crm.engine.begin() as conn:
        token_id = conn.execute(sa.select(sa.func.max(api_tokens.c.id))).scalar_one()
        assert conn.execute(sa.select(api_tokens.c.last_used_at)).scalar_one() is not None
        revoke_token(conn, token_id)
    assert c.get("/api/v1/account", headers=h).status_code == 401
    later = token_for(crm, expires_days=1)
    assert c.get("/api/v1/account", headers=later).status_code == 200
    with crm.engine.begin() as conn:
        conn.execute(api_tokens.update().values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert c.get("/api/v1/account", headers=later).status_code == 401


def test_tokens_are_stored_as_digests_only(crm: Any) -> None:
    h = token_for(crm)
    text = h["Authorization"].removeprefix("Bearer ")
    with crm.engine.connect() as conn:
        stored = [str(v) for row in conn.execute(sa.select(api_tokens)) for v in row]
    assert not any(text in v or (v in text and len(v) > 12) for v in stored)


def test_read_only_token_reads_but_cannot_write(crm: Any) -> None:
    c = web_app(crm).test_client()
    h = token_for(crm, scope="read")
    assert c.get("/api/v1/account", headers=h).status_code == 200
    refused = c.post("/api/v1/account", json={"name": "X"}, headers=h)
    assert refused.status_code == 403 and "only read" in error_of(refused)["message"]
    assert c.get("/api/v1/account", headers=h).get_json()["data"] == []


def test_token_acts_as_its_user(crm: Any) -> None:
    c = web_app(crm).test_client()
    made = c.post("/api/v1/account", json={"name": "Rep's"}, headers=token_for(crm, "rep"))
    me = c.get("/api/v1/me", headers=token_for(crm, "rep")).get_json()
    assert me["username"] == "rep" and me["roles"] == ["sales_rep"]
    assert made.get_json()["owner"] == me["id"] == made.get_json()["created_by"]


def test_session_reads_and_writes_with_the_csrf_header(crm: Any) -> None:
    c = web_app(crm).test_client()
    sign_in(c)
    assert c.get("/api/v1/account").status_code == 200
    refused = c.post("/api/v1/account", json={"name": "X"})
    assert refused.status_code == 403 and "X-CSRFToken" in error_of(refused)["message"]
    page = c.get("/me/tokens").text
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    made = c.post("/api/v1/account", json={"name": "X"}, headers={"X-CSRFToken": token})
    assert made.status_code == 201, made.text


def test_rate_limit_per_token(tmp_path: Path, database_url: str) -> None:
    ctx = deployment(tmp_path, database_url, pack="small",
                     extra_config="api_rate_limit: 3 per minute\n")
    try:
        c = web_app(ctx).test_client()
        h, other = token_for(ctx), token_for(ctx, "rep")
        codes = [c.get("/api/v1/account", headers=h).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert "Retry-After" in c.get("/api/v1/account", headers=h).headers
        assert c.get("/api/v1/meta", headers=h).status_code == 429  # one budget for all routes
        assert c.get("/api/v1/account", headers=other).status_code == 200
        made_up = [c.get("/api/v1/me", headers={"Authorization": f"Bearer crm_fake{n}"})
                   .status_code for n in range(4)]
        assert made_up == [401, 401, 401, 429]  # made-up tokens count per address
    finally:
        ctx.dispose()
