"""Making API tokens: the "API tokens" page (shown once, listed by prefix, revoked) and
`crm token create|list|revoke`; each token made works against the API at once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from app.cli import main
from tests.webkit import post_form, sign_in, web_app

TOKEN = re.compile(r'<code id="new-token"[^>]*>(crm_[^<]+)</code>')


def test_page_makes_shows_once_and_revokes(crm: Any) -> None:
    c = web_app(crm).test_client()
    sign_in(c, "rep")
    page = post_form(c, "/me/tokens", {"name": "ERP sync", "scope": "read",
                                       "expires_days": "30"})
    assert page.status_code == 200
    token = TOKEN.search(page.text).group(1)  # type: ignore[union-attr]
    api = web_app(crm).test_client()
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["username"] == "rep"
    again = c.get("/me/tokens").text
    assert token not in again and token[:10] in again and "ERP sync" in again
    assert "Read only" in again
    token_id = re.search(r'/me/tokens/(\d+)/revoke', again).group(1)  # type: ignore[union-attr]
    done = post_form(c, f"/me/tokens/{token_id}/revoke", {}, follow_redirects=True)
    assert "revoked" in done.text
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}
                   ).status_code == 401


def test_page_refuses_bad_input_and_others_tokens(crm: Any) -> None:
    c = web_app(crm).test_client()
    sign_in(c, "rep")
    bad = post_form(c, "/me/tokens", {"name": "", "scope": "admin"})
    assert bad.status_code == 200 and "new-token" not in bad.text
    assert "is-invalid" in bad.text
    sign_in(c, "rep2")
    post_form(c, "/me/tokens", {"name": "mine", "scope": "write"})
    sign_in(c, "rep")
    assert "mine" not in c.get("/me/tokens").text
    theirs = post_form(c, "/me/tokens/1/revoke", {}, follow_redirects=True)
    assert "There is no active token" in theirs.text


def test_page_in_chinese(crm: Any) -> None:
    c = web_app(crm).test_client()
    sign_in(c)
    post_form(c, "/me/language", {"locale": "zh_CN"})
    assert "API 令牌" in c.get("/me/tokens").text


def test_cli_create_list_revoke(crm: Any) -> None:
    config = Path(crm.settings.config_file)
    env = {"CRM_DATABASE_URL": crm.settings.database_url, "CRM_SECRET_KEY": "test-secret"}

    def run(*args: str) -> Any:
        result = CliRunner().invoke(main, ["--config", str(config), *args], env=env)
        assert "Traceback" not in result.output
        return result

    made = run("token", "create", "rep", "--name", "BI export", "--read-only")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("crm_")
    api = web_app(crm).test_client()
    h = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/me", headers=h).get_json()["username"] == "rep"
    assert api.post("/api/v1/account", json={"name": "x"}, headers=h).status_code == 403
    listed = run("token", "list", "rep")
    assert "BI export" in listed.output and token not in listed.output
    assert run("token", "create", "nobody", "--name", "x").exit_code == 1
    token_id = listed.output.split()[0]
    assert run("token", "revoke", token_id).exit_code == 0
    assert api.get("/api/v1/me", headers=h).status_code == 401
    assert run("token", "revoke", token_id).exit_code == 1
