"""The back office's access rules and system pages: users (roles, passwords), roles, the audit
log and config versions."""

from __future__ import annotations

import html
import re
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.model.system import audit, users
from app.records import Actor
from tests.webkit import csrf, records_of, sign_in, user_id

NEW_USER = "/admin/system/users/new/"


def _cells(page: str, column: str) -> list[str]:
    found = re.findall(rf'<td class="col-{column}">\s*(.*?)\s*</td>', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in found]


def _post(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    token = csrf(client.get(url).text)
    return client.post(url, data={**data, "csrf_token": token})


def _user(crm: Any, username: str) -> Any:
    with crm.engine.connect() as conn:
        return conn.execute(sa.select(users).where(users.c.username == username)).first()


def test_anonymous_visitors_are_sent_to_sign_in(web: Flask) -> None:
    c = web.test_client()
    for url in ("/admin/", "/admin/records/account/", "/admin/system/users/"):
        resp = c.get(url)
        assert resp.status_code == 302 and resp.headers["Location"] == f"/login?next={url}"


def test_a_sales_rep_gets_403(web: Flask) -> None:
    c = web.test_client()
    sign_in(c, "rep")
    for url in ("/admin/", "/admin/records/account/", "/admin/system/users/",
                "/admin/system/audit/", "/admin/system/roles/"):
        resp = c.get(url)
        assert resp.status_code == 403, url
        assert "You do not have permission to do this." in resp.text
    resp = c.post(NEW_USER, data={"username": "x", "csrf_token": csrf(c.get("/").text)})
    assert resp.status_code == 403


def test_create_a_user_then_sign_in_with_it(web: Flask, crm: Any,
                                            client: FlaskClient) -> None:
    resp = _post(client, NEW_USER, {
        "username": "carol", "full_name": "Carol Chen", "email": "carol@example.com",
        "roles": ["sales_manager", "sales_rep"], "active": "y", "locale": "zh_CN",
        "new_password": "carol-pass-1"})
    assert resp.status_code == 302, resp.text
    row = _user(crm, "carol")
    assert (row.full_name, row.email, row.roles, row.active, row.locale) == (
        "Carol Chen", "carol@example.com", ["sales_manager", "sales_rep"], True, "zh_CN")
    assert row.password_hash.startswith("$argon2id$")
    listing = client.get("/admin/system/users/")
    assert "carol" in _cells(listing.text, "username")
    assert "sales_manager, sales_rep" in _cells(listing.text, "roles")
    assert "argon2" not in listing.text and "password_hash" not in listing.text
    edit = client.get(f"/admin/system/users/edit/?id={row.id}").text
    assert "argon2" not in edit
    carol = web.test_client()
    sign_in(carol, "carol", "carol-pass-1")
    assert carol.get("/").status_code == 200
    assert carol.get("/admin/").status_code == 403  # not an admin
    with crm.engine.connect() as conn:
        logged = conn.execute(sa.select(audit).where(audit.c.entity == "sys_user",
                                                     audit.c.record_id == row.id)).one()
    assert logged.action == "create" and logged.changes["password"][1] == "******"
    assert "carol-pass-1" not in str(logged.changes)


def test_user_form_refuses_bad_input(crm: Any, client: FlaskClient) -> None:
    dup = _post(client, NEW_USER, {"username": "rep", "roles": ["sales_rep"],
                                   "new_password": "long-enough-1"})
    assert dup.status_code == 200 and "A user called rep already exists." in dup.text
    short = _post(client, NEW_USER, {"username": "dave", "new_password": "short"})
    assert short.status_code == 200 and "Field must be at least 8 characters long." in short.text
    spaces = _post(client, NEW_USER, {"username": "d ave", "new_password": "long-enough-1"})
    assert "A username has no spaces." in spaces.text
    role = _post(client, NEW_USER, {"username": "eve", "roles": ["boss"],
                                    "new_password": "long-enough-1"})
    assert role.status_code == 200
    assert "'boss' is not a valid choice for this field." in html.unescape(role.text)
    mail = _post(client, NEW_USER, {"username": "fay", "email": "fay-at-home",
                                    "new_password": "long-enough-1"})
    assert "Enter an email address like name@example.com." in mail.text
    for name in ("dave", "d ave", "eve", "fay"):
        assert _user(crm, name) is None


def test_edit_password_roles_and_deactivate(web: Flask, crm: Any, client: FlaskClient) -> None:
    rep = _user(crm, "rep")
    url = f"/admin/system/users/edit/?id={rep.id}"
    resp = _post(client, url, {"username": "rep", "full_name": "Rep One",
                               "roles": ["sales_manager"], "active": "y", "locale": "",
                               "new_password": "new-rep-pass-1"})
    assert resp.status_code == 302, resp.text
    after = _user(crm, "rep")
    assert after.roles == ["sales_manager"] and after.full_name == "Rep One"
    assert after.password_hash != rep.password_hash
    fresh = web.test_client()
    sign_in(fresh, "rep", "new-rep-pass-1")
    rep2 = _user(crm, "rep2")
    resp = _post(client, f"/admin/system/users/edit/?id={rep2.id}", {
        "username": "rep2", "roles": ["sales_rep"], "locale": "", "new_password": ""})
    assert resp.status_code == 302
    assert _user(crm, "rep2").active is False
    assert _user(crm, "rep2").password_hash == rep2.password_hash  # blank keeps it
    gone = web.test_client()
    token = csrf(gone.get("/login").text)
    denied = gone.post("/login", data={"username": "rep2", "password": "rep2-pass-12",
                                       "csrf_token": token})
    assert denied.status_code == 200 and "Wrong username or password." in denied.text


def test_admins_cannot_lock_themselves_out(crm: Any, client: FlaskClient) -> None:
    admin = _user(crm, "admin")
    resp = _post(client, f"/admin/system/users/edit/?id={admin.id}", {
        "username": "admin", "roles": ["sales_rep"], "active": "y", "locale": ""})
    assert resp.status_code == 200
    assert "You cannot remove your own admin role or deactivate yourself." in resp.text
    assert _user(crm, "admin").roles == ["admin"]


def test_roles_page_counts_users(client: FlaskClient) -> None:
    page = client.get("/admin/system/roles/").text
    rows = dict(re.findall(r'data-role="(\w+)">.*?<td class="text-right">(\d+)</td>', page,
                           re.S))
    assert rows == {"admin": "1", "sales_director": "0", "sales_manager": "0",
                    "sales_rep": "2", "service_manager": "0", "service_agent": "0",
                    "marketing": "0"}
    reps = client.get("/admin/system/users/?flt0_0=sales_rep").text
    assert sorted(_cells(reps, "username")) == ["rep", "rep2"]


def test_audit_log_lists_and_filters_changes(web: Flask, crm: Any,
                                             client: FlaskClient) -> None:
    rec = records_of(web)
    admin = Actor(user_id(crm, "admin"), "admin", ("admin",), "en")
    rep = Actor(user_id(crm, "rep"), "rep", ("sales_rep",), "en")
    acc = rec.create("account", {"name": "Acme", "type": "prospect", "owner": rep.id}, admin)
    rec.update("account", acc["id"], {"type": "customer"}, rep, version=1)
    page = client.get("/admin/system/audit/")
    assert page.status_code == 200
    assert _cells(page.text, "username") == ["rep", "admin"]  # newest first
    assert _cells(page.text, "action") == ["Changed", "Created"]
    assert "Type: Prospect → Customer" in _cells(page.text, "changes")[0]
    assert f'href="/account/{acc["id"]}"' in page.text
    by_user = client.get("/admin/system/audit/?flt0_1=admin")
    assert _cells(by_user.text, "username") == ["admin"]
    by_action = client.get("/admin/system/audit/?flt0_2=update")
    assert _cells(by_action.text, "action") == ["Changed"]
    by_entity = client.get("/admin/system/audit/?flt0_0=contact")
    assert _cells(by_entity.text, "action") == []
    assert client.get("/admin/system/audit/?flt0_2=drop").status_code == 200
    assert client.get("/admin/system/audit/new/").status_code == 302  # read-only


def test_config_versions_page_shows_versions_without_snapshots(web: Flask,
                                                               client: FlaskClient) -> None:
    page = client.get("/admin/system/config/")
    assert page.status_code == 200
    meta = web.extensions["crm"].meta
    assert meta.digest[:12] in page.text
    assert "live" in _cells(page.text, "id")[0]
    assert "snapshot" not in page.text.lower() and '"entities"' not in page.text
