"""The security log: each security event appears after the action (web, back office, CLI),
the database refuses to change or delete its rows, the back-office page and `crm
security-log` list and filter it."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from app import seclog
from app.cli import main
from app.context import Context
from app.model.system import create_system_tables, security_log, users
from tests.factories import account, write_schema
from tests.webkit import csrf, deployment, post_form, sign_in, user_id, web_app

SECURITY = "/admin/system/security/"


@pytest.fixture
def small(tmp_path: Path, database_url: str) -> Iterator[Context]:
    ctx = deployment(tmp_path, database_url, pack="small")
    try:
        yield ctx
    finally:
        ctx.dispose()


@pytest.fixture
def app(small: Context) -> Flask:
    return web_app(small)


def events(ctx: Context, event: str | None = None, **kw: Any) -> list[dict[str, Any]]:
    with ctx.engine.connect() as conn:
        return seclog.query(conn, event=event, **kw)


def admin_client(app: Flask) -> FlaskClient:
    c = app.test_client()
    sign_in(c)
    return c


def cli(ctx: Context, *args: str) -> Result:
    env = {"CRM_DATABASE_URL": ctx.settings.database_url, "CRM_SECRET_KEY": "test-secret"}
    result = CliRunner(env=env).invoke(
        main, ["--config", str(ctx.settings.config_file), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


# --- events after the action -----------------------------------------------------------------
def test_sign_in_failure_success_and_sign_out(app: Flask, small: Context) -> None:
    c = app.test_client()
    wrong = c.post("/login", data={"username": "admin", "password": "not-the-one",
                                   "csrf_token": csrf(c.get("/login").text)})
    assert wrong.status_code == 200
    [failed] = events(small, seclog.LOGIN_FAILED)
    assert (failed["username"], failed["user_id"], failed["ip"]) == ("admin", None, "127.0.0.1")
    assert failed["at"] > datetime.now(UTC) - timedelta(minutes=5)
    assert "not-the-one" not in json.dumps(failed["detail"])
    sign_in(c)
    [ok] = events(small, seclog.LOGIN_OK)
    assert (ok["username"], ok["user_id"]) == ("admin", user_id(small, "admin"))
    c.post("/logout", data={"csrf_token": csrf(c.get("/").text)})
    [out] = events(small, seclog.LOGOUT)
    assert out["username"] == "admin" and out["ip"] == "127.0.0.1"


def test_rate_limited_sign_ins_are_logged_once_per_window(tmp_path: Path,
                                                          database_url: str) -> None:
    ctx = deployment(tmp_path, database_url, pack="small",
                     extra_config="login_rate_limit: 2 per minute\n")
    try:
        c = web_app(ctx).test_client()
        token = csrf(c.get("/login").text)
        codes = [c.post("/login", data={"username": f"guess{i}", "password": "wrong-wrong",
                                        "csrf_token": token}).status_code for i in range(6)]
        assert codes == [200, 200, 429, 429, 429, 429]
        assert [e["username"] for e in events(ctx, seclog.LOGIN_FAILED)] == ["guess1", "guess0"]
        [limited] = events(ctx, seclog.LOGIN_LIMITED)
        assert limited["username"] == "guess2" and limited["ip"] == "127.0.0.1"
    finally:
        ctx.dispose()


def test_tokens_made_and_revoked_on_the_web_and_the_cli(app: Flask, small: Context) -> None:
    c = app.test_client()
    sign_in(c, "rep")
    made = post_form(c, "/me/tokens", {"name": "ERP sync", "scope": "read"})
    assert made.status_code == 200 and "crm_" in made.text
    [created] = events(small, seclog.TOKEN_CREATED)
    assert created["username"] == "rep" and created["entity"] == seclog.TOKEN_ENTITY
    assert created["detail"]["name"] == "ERP sync" and created["detail"]["scope"] == "read"
    assert not any(v.startswith("crm_") for v in map(str, created["detail"].values()))
    c.post(f"/me/tokens/{created['record_id']}/revoke",
           data={"csrf_token": csrf(c.get("/me/tokens").text)})
    [revoked] = events(small, seclog.TOKEN_REVOKED)
    assert (revoked["username"], revoked["record_id"]) == ("rep", created["record_id"])
    assert cli(small, "token", "create", "rep2", "--name", "BI").exit_code == 0
    by_cli = events(small, seclog.TOKEN_CREATED)[0]
    assert by_cli["username"] is None and by_cli["detail"]["via"].startswith("cli:")
    assert by_cli["detail"]["owner_id"] == user_id(small, "rep2")
    assert cli(small, "token", "revoke", str(by_cli["record_id"])).exit_code == 0
    assert events(small, seclog.TOKEN_REVOKED)[0]["record_id"] == by_cli["record_id"]


def test_admin_revoking_a_token_is_logged(app: Flask, small: Context) -> None:
    assert cli(small, "token", "create", "rep", "--name", "ERP").exit_code == 0
    client = admin_client(app)
    page = client.get("/admin/system/tokens/")
    client.post("/admin/system/tokens/action/", data={
        "action": "revoke", "rowid": ["1"], "csrf_token": csrf(page.text)})
    [revoked] = events(small, seclog.TOKEN_REVOKED)
    assert (revoked["username"], revoked["record_id"]) == ("admin", 1)
    assert revoked["detail"]["owner_id"] == user_id(small, "rep")


def test_back_office_user_changes(app: Flask, small: Context) -> None:
    client = admin_client(app)
    new = post_form(client, "/admin/system/users/new/", {
        "username": "carol", "roles": ["sales_rep"], "active": "y",
        "new_password": "carol-pass-1"})
    assert new.status_code == 302, new.text
    carol = user_id(small, "carol")
    [created] = events(small, seclog.USER_CREATED, user="admin")
    assert (created["record_id"], created["detail"]["roles"]) == (carol, ["sales_rep"])
    assert created["ip"] == "127.0.0.1"
    edit = f"/admin/system/users/edit/?id={carol}"
    changed = post_form(client, edit, {"username": "carol", "roles": ["sales_manager"],
                                       "new_password": "carol-pass-2"})  # active unticked
    assert changed.status_code == 302, changed.text
    [roles] = events(small, seclog.USER_ROLES)
    assert roles["detail"] == {"user": "carol", "from": ["sales_rep"], "to": ["sales_manager"]}
    [active] = events(small, seclog.USER_ACTIVE)
    assert (active["detail"]["from"], active["detail"]["to"]) == (True, False)
    [password] = events(small, seclog.USER_PASSWORD, user="admin")
    assert password["record_id"] == carol and "carol-pass-2" not in json.dumps(
        password["detail"])
    assert all(e["username"] == "admin" for e in events(small) if e["record_id"] == carol)


def test_own_password_change_is_logged(app: Flask, small: Context) -> None:
    c = app.test_client()
    sign_in(c, "rep")
    post_form(c, "/me/password", {"current": "rep-pass-12", "new": "new-pass-123",
                                  "repeat": "new-pass-123"})
    [changed] = events(small, seclog.USER_PASSWORD)
    assert (changed["username"], changed["record_id"]) == ("rep", user_id(small, "rep"))


def test_cli_user_create_and_passwd(small: Context) -> None:
    assert cli(small, "user", "create", "dan", "--role", "sales_rep",
               "--password", "dan-pass-123").exit_code == 0
    [created] = events(small, seclog.USER_CREATED, limit=1)
    assert created["detail"]["user"] == "dan" and created["detail"]["via"].startswith("cli:")
    assert cli(small, "user", "passwd", "dan", "--password", "dan-pass-456").exit_code == 0
    [changed] = events(small, seclog.USER_PASSWORD)
    assert changed["record_id"] == user_id(small, "dan")


def test_an_export_is_logged_with_its_query(app: Flask, small: Context) -> None:
    client = admin_client(app)
    assert client.get("/account/export.csv?q=acme&sort=name").status_code == 200
    [export] = events(small, seclog.EXPORT)
    assert (export["username"], export["entity"]) == ("admin", "account")
    assert export["detail"]["format"] == "csv" and "q=acme" in export["detail"]["query"]
    assert "name" in export["detail"]["columns"]
    client.get("/account/export.xlsx")
    assert events(small, seclog.EXPORT)[0]["detail"]["format"] == "xlsx"


def test_published_config_versions_are_logged(small: Context) -> None:
    [first] = events(small, seclog.CONFIG_PUBLISHED)
    assert first["detail"]["version"] == 1 and first["detail"]["based_on"] is None
    write_schema(small.settings.schema_dirs[-1], "account", account(motto={"type": "text"}))
    done = cli(small, "migrate", "--author", "ops-li", "-m", "motto")
    assert done.exit_code == 0, done.output
    [second, _first] = events(small, seclog.CONFIG_PUBLISHED)
    assert second["username"] == "ops-li"
    with small.engine.connect() as conn:
        digest = conn.execute(sa.text("SELECT digest FROM sys_config_version WHERE id = 2")
                              ).scalar_one()
    assert second["detail"] | {"migration": None} == {
        "version": 2, "digest": digest, "based_on": 1, "migration": None, "message": "motto"}


def test_denials_are_logged_once_a_minute(app: Flask, small: Context) -> None:
    from app.web.seclog import denied

    with app.test_request_context("/account/3"):
        assert denied(entity="account", record_id=3, action="read", reason="not shared")
        assert not denied(entity="account", record_id=3, action="read")
        assert denied(entity="account", record_id=4, action="read")
    rows = events(small, seclog.ACCESS_DENIED)
    assert [r["record_id"] for r in rows] == [4, 3]
    assert rows[1]["detail"] == {"action": "read", "reason": "not shared", "path": "/account/3"}


# --- append-only -----------------------------------------------------------------------------
def _one_event(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        create_system_tables(conn)
        seclog.record(conn, seclog.LOGIN_FAILED, username="mallory", ip="10.0.0.9")


@pytest.mark.parametrize("statement", [
    "UPDATE sys_security_log SET username = 'nobody'",
    "DELETE FROM sys_security_log",
])
def test_the_database_refuses_changes(engine: sa.Engine, statement: str) -> None:
    _one_event(engine)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement))
    with engine.connect() as conn:
        assert conn.execute(sa.select(security_log.c.username)).scalars().all() == ["mallory"]


def test_postgresql_also_refuses_truncate(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    _one_event(engine)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE sys_security_log"))


def test_an_existing_table_gets_the_guards(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        security_log.create(conn)  # as a database made before the guards: no triggers
        conn.execute(sa.insert(security_log).values(event="logout"))
        conn.execute(sa.update(security_log).values(username="allowed-before"))
    with engine.begin() as conn:
        create_system_tables(conn)
        create_system_tables(conn)  # idempotent
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.delete(security_log))


def test_a_database_without_the_table_gets_it_on_first_event(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        users.create(conn)
        assert seclog.record(conn, seclog.LOGOUT, username="early")
    with engine.connect() as conn:
        assert [r["username"] for r in seclog.query(conn)] == ["early"]
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.delete(security_log))


def test_bad_event_codes_are_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        create_system_tables(conn)
        for bad in ("", "Login", "x" * 41, "login failed"):
            with pytest.raises(ValueError, match="event code"):
                seclog.record(conn, bad)


def test_query_filters_and_keyset_pages(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        create_system_tables(conn)
        for i in range(5):
            seclog.record(conn, seclog.LOGIN_OK if i % 2 else seclog.LOGIN_FAILED,
                          username=f"u{i % 2}", user_id=i, ip="1.2.3.4" * 20)
    with engine.connect() as conn:
        first = seclog.query(conn, limit=2)
        rest = seclog.query(conn, before_id=first[-1]["id"])
        assert [r["id"] for r in first + rest] == [5, 4, 3, 2, 1]
        assert len(first[0]["ip"]) == 45
        assert [r["id"] for r in seclog.query(conn, event=seclog.LOGIN_OK)] == [4, 2]
        assert [r["id"] for r in seclog.query(conn, user="u0")] == [5, 3, 1]
        assert [r["id"] for r in seclog.query(conn, user=3)] == [4]
        today = datetime.now(UTC).date()
        assert len(seclog.query(conn, since=today, until=today + timedelta(days=1))) == 5
        assert seclog.query(conn, until=today) == []
        assert seclog.query(conn, since=date(2999, 1, 1)) == []


# --- the back-office page --------------------------------------------------------------------
def _cells(page: str, column: str) -> list[str]:
    found = re.findall(rf'<td class="col-{column}">\s*(.*?)\s*</td>', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in found]


def test_admin_page_lists_and_filters(app: Flask, small: Context) -> None:
    c = app.test_client()
    c.post("/login", data={"username": "rep", "password": "wrong-wrong",
                           "csrf_token": csrf(c.get("/login").text)})
    client = admin_client(app)
    page = client.get(SECURITY)
    assert page.status_code == 200
    shown = _cells(page.text, "event")
    assert shown[:2] == ["Signed in", "Sign-in failed"]  # newest first
    assert "Config version published" in shown and "User created" in shown
    assert _cells(page.text, "ip")[:2] == ["127.0.0.1", "127.0.0.1"]
    failed = client.get(f"{SECURITY}?flt0_0={seclog.LOGIN_FAILED}").text
    assert _cells(failed, "event") == ["Sign-in failed"]
    assert _cells(failed, "username") == ["rep"]
    by_user = client.get(f"{SECURITY}?flt0_1=admin").text
    assert _cells(by_user, "event") == ["Signed in"]
    assert client.get(f"{SECURITY}?flt0_0=drop.table").status_code == 200
    assert "/admin/system/security/new/" not in page.text
    assert "/admin/system/security/edit/" not in page.text
    assert client.get(f"{SECURITY}new/").status_code in (302, 403, 404)
    client.post("/me/language", data={"locale": "zh_CN", "csrf_token": csrf(page.text)})
    assert client.get(SECURITY).status_code == 200


def test_non_admins_get_403(app: Flask) -> None:
    c = app.test_client()
    sign_in(c, "rep")
    assert c.get(SECURITY).status_code == 403
    assert app.test_client().get(SECURITY).status_code == 302  # to the sign-in page


# --- crm security-log ------------------------------------------------------------------------
def test_cli_lists_filters_and_prints_json(app: Flask, small: Context) -> None:
    c = app.test_client()
    c.post("/login", data={"username": "eve", "password": "wrong-wrong",
                           "csrf_token": csrf(c.get("/login").text)})
    sign_in(c, "rep")
    out = cli(small, "security-log")
    assert out.exit_code == 0
    lines = out.output.splitlines()
    assert "login.ok" in lines[0] and "rep" in lines[0] and "127.0.0.1" in lines[0]
    assert "login.failed" in lines[1] and "eve" in lines[1]
    only = cli(small, "security-log", "--event", "login.failed", "--user", "eve", "--json")
    rows = json.loads(only.output)
    assert [(r["event"], r["username"], r["ip"]) for r in rows] == [
        ("login.failed", "eve", "127.0.0.1")]
    assert datetime.fromisoformat(rows[0]["at"]).tzinfo is not None
    assert len(json.loads(cli(small, "security-log", "--limit", "1", "--json").output)) == 1
    today = datetime.now(UTC).date()
    assert "No security events match." in cli(
        small, "security-log", "--until", str(today - timedelta(days=1))).output
    assert "login.ok" in cli(small, "security-log", "--since", str(today)).output
    bad = cli(small, "security-log", "--since", "last week")
    assert bad.exit_code == 2 and "'last week' is not a date" in bad.output
    assert cli(small, "security-log", "--event", "DROP TABLE").exit_code == 2


def test_cli_does_not_print_control_characters(app: Flask, small: Context) -> None:
    c = app.test_client()
    c.post("/login", data={"username": "\x1b[2Jevil", "password": "wrong-wrong",
                           "csrf_token": csrf(c.get("/login").text)})
    out = cli(small, "security-log", "--event", "login.failed").output
    assert "?[2Jevil" in out and "\x1b" not in out


def test_team_changes_are_logged(engine: sa.Engine) -> None:
    from app.users import create_user, set_teams

    by = seclog.Who(7, "boss", "10.1.1.1")
    with engine.begin() as conn:
        create_system_tables(conn)
        uid = create_user(conn, "ann", "ann-pass-123", ["sales_rep"], ["sales_rep"], by=by)
        set_teams(conn, uid, ["east"], ["east", "north"], by=by)
        set_teams(conn, uid, ["east"], ["east", "north"], by=by)  # no change: not logged
        set_teams(conn, uid, ["north", "east"], ["east", "north"], by=by)
        rows = seclog.query(conn, event=seclog.USER_TEAMS)
    assert [(r["username"], r["ip"], r["record_id"]) for r in rows] == [
        ("boss", "10.1.1.1", uid)] * 2
    assert [r["detail"] for r in rows] == [{"from": ["east"], "to": ["east", "north"]},
                                           {"from": [], "to": ["east"]}]
