"""API tokens in the back office: an admin sees every user's tokens (never their text) and
revokes one; other users cannot open the page."""

from __future__ import annotations

from typing import Any

from tests.apikit import token_for
from tests.webkit import csrf, sign_in, web_app


def test_admin_lists_and_revokes_tokens(crm: Any) -> None:
    rep_token = token_for(crm, "rep")
    token_for(crm, "rep2", scope="read")
    app = web_app(crm)
    client = app.test_client()
    sign_in(client)
    page = client.get("/admin/system/tokens/")
    assert page.status_code == 200
    assert "rep2" in page.text and "Read only" in page.text
    assert rep_token["Authorization"].removeprefix("Bearer ") not in page.text
    done = client.post("/admin/system/tokens/action/", data={
        "action": "revoke", "rowid": ["1"], "csrf_token": csrf(page.text)},
        follow_redirects=True)
    assert "1 token revoked." in done.text
    assert app.test_client().get("/api/v1/me", headers=rep_token).status_code == 401
    rep = app.test_client()
    sign_in(rep, "rep")
    assert rep.get("/admin/system/tokens/").status_code in (302, 403)
