"""Access control on the web pages and the API of the default pack: the menu, 403 pages with
the reason, buttons only where the grant allows, a hidden field absent from the detail page,
form, list, export, search and API, manual sharing from the detail page and the API, and teams
set in the back office."""

from __future__ import annotations

import csv
import io
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.model.access import shares, user_teams
from app.records.change import SYSTEM
from tests.apikit import error_of, token_for
from tests.webkit import csrf, post_form, records_of, sign_in, user_id


def seed(web: Flask, crm: Context) -> dict[str, int]:
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme Tea"}, SYSTEM)["id"]
    mine = rec.create("opportunity", {"name": "Rep Tea deal", "account": acc, "margin": 31,
                                      "amount": 1000, "owner": user_id(crm, "rep")}, SYSTEM)
    theirs = rec.create("opportunity", {"name": "Rep2 Tea deal", "account": acc, "margin": 42,
                                        "owner": user_id(crm, "rep2")}, SYSTEM)
    return {"account": acc, "mine": mine["id"], "theirs": theirs["id"]}


def client_for(web: Flask, who: str) -> FlaskClient:
    c = web.test_client()
    sign_in(c, who)
    return c


def test_rep_sees_own_deals_without_margin(web: Flask, crm: Context) -> None:
    ids = seed(web, crm)
    c = client_for(web, "rep")
    listing = c.get("/opportunity/?columns=name,amount").text
    assert "Rep Tea deal" in listing and "Rep2 Tea deal" not in listing
    detail = c.get(f"/opportunity/{ids['mine']}").text
    assert "Margin" not in detail and "31" not in detail.split("record-info")[0]
    assert 'data-field="margin"' not in c.get(f"/opportunity/{ids['mine']}/edit").text
    assert c.get(f"/opportunity/{ids['theirs']}").status_code == 404
    assert c.get("/opportunity/?f.margin.gt=1").status_code == 400
    search = c.get("/search?q=Tea").text
    assert "Rep Tea deal" in search and "Rep2 Tea deal" not in search
    # the manager (subordinates) sees both, margin included
    boss = client_for(web, "admin")
    assert "Margin" in boss.get(f"/opportunity/{ids['theirs']}").text


def test_export_and_api_leave_the_margin_out(web: Flask, crm: Context) -> None:
    ids = seed(web, crm)
    c = client_for(web, "rep")
    exported = c.get("/opportunity/export.csv?cols=name,amount,margin")
    assert exported.status_code == 400  # no such column for them
    rows = list(csv.reader(io.StringIO(c.get("/opportunity/export.csv").get_data(
        as_text=True).lstrip("\ufeff"))))
    assert "Margin (%)" not in rows[0] and [r[0] for r in rows[1:]] == ["Rep Tea deal"]
    api = web.test_client()
    headers = token_for(crm, "rep")
    body = api.get(f"/api/v1/opportunity/{ids['mine']}", headers=headers).get_json()
    assert "margin" not in body and body["name"] == "Rep Tea deal"
    listed = api.get("/api/v1/opportunity", headers=headers).get_json()["data"]
    assert [r["name"] for r in listed] == ["Rep Tea deal"]
    assert api.get(f"/api/v1/opportunity/{ids['theirs']}", headers=headers).status_code == 404
    bad = api.get("/api/v1/opportunity?f.margin.gt=1", headers=headers)
    assert bad.status_code == 400 and "margin" in error_of(bad)["message"]
    write = api.patch(f"/api/v1/opportunity/{ids['mine']}", json={"margin": 99},
                      headers={**headers, "If-Match": f'"{body["version"]}"'})
    assert write.status_code == 422 and "margin" in str(error_of(write))
    # an admin's export keeps it
    admin = client_for(web, "admin")
    rows = list(csv.reader(io.StringIO(admin.get(
        "/opportunity/export.csv?cols=name,margin").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][1] == "Margin (%)"


def test_entities_without_read_are_not_in_the_menu_and_answer_403(web: Flask, crm: Context
                                                                   ) -> None:
    from app.users import create_user

    with crm.engine.begin() as conn:
        create_user(conn, "agent", "agent-pass-1", ["service_agent"], crm.settings.roles)
    c = web.test_client()
    sign_in(c, "agent", "agent-pass-1")
    home = c.get("/").text
    assert 'href="/case/"' in home and 'href="/opportunity/"' not in home
    page = c.get("/opportunity/")
    assert page.status_code == 403 and "You may not see Opportunities" in page.text
    api = web.test_client().get("/api/v1/opportunity", headers=token_for(crm, "agent"))
    assert api.status_code == 403
    assert 'id="new-record"' not in c.get("/product/").text  # read only for service agents
    assert c.get("/case/export.csv").status_code == 403  # no export grant
    assert 'id="export-csv"' not in c.get("/case/").text


def test_buttons_follow_the_grant(web: Flask, crm: Context) -> None:
    ids = seed(web, crm)
    c = client_for(web, "rep")
    account = c.get(f"/account/{ids['account']}").text  # reps read all accounts, edit own
    assert 'id="edit-record"' not in account and 'id="delete-record"' not in account
    assert c.get(f"/account/{ids['account']}/edit").status_code == 403
    mine = c.get(f"/opportunity/{ids['mine']}").text
    assert 'id="edit-record"' in mine and 'id="delete-record"' in mine


def test_share_a_record_from_its_page(web: Flask, crm: Context) -> None:
    ids = seed(web, crm)
    rep, rep2 = client_for(web, "rep"), client_for(web, "rep2")
    url = f"/opportunity/{ids['mine']}"
    page = rep.get(url).text
    assert 'id="sharing"' in page
    resp = rep.post(f"{url}/shares", data={"with": f"user:{user_id(crm, 'rep2')}",
                                          "access": "read", "csrf_token": csrf(page)})
    assert resp.status_code == 302
    shown = rep2.get(url)
    assert shown.status_code == 200 and 'id="edit-record"' not in shown.text
    assert 'id="sharing"' not in shown.text  # read access: may not share it further
    assert "Shared with" in rep.get(url).text  # the timeline says so
    with crm.engine.connect() as conn:
        sid = conn.execute(sa.select(shares.c.id)).scalar_one()
    page = rep.get(url).text
    rep.post(f"{url}/shares/{sid}/delete", data={"csrf_token": csrf(page)})
    assert rep2.get(url).status_code == 404
    # nobody may share what they may not edit (here: not even see)
    denied = rep2.post(f"{url}/shares", data={
        "with": f"user:{user_id(crm, 'rep2')}", "csrf_token": csrf(rep2.get("/").text)})
    assert denied.status_code == 404
    with crm.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(shares)).scalar_one() == 0


def test_share_through_the_api(web: Flask, crm: Context) -> None:
    ids = seed(web, crm)
    api = web.test_client()
    rep = token_for(crm, "rep")
    url = f"/api/v1/opportunity/{ids['mine']}/shares"
    made = api.post(url, json={"user": user_id(crm, "rep2"), "access": "edit"}, headers=rep)
    assert made.status_code == 201 and made.get_json()["access"] == "edit"
    assert api.get(url, headers=rep).get_json()["data"][0]["username"] == "rep2"
    rep2 = token_for(crm, "rep2")
    body = api.get(f"/api/v1/opportunity/{ids['mine']}", headers=rep2).get_json()
    saved = api.patch(f"/api/v1/opportunity/{ids['mine']}", json={"name": "Shared edit"},
                      headers={**rep2, "If-Match": f'"{body["version"]}"'})
    assert saved.status_code == 200
    assert api.post(url, json={"team": "mars"}, headers=rep).status_code == 422
    assert api.post(url, json={"user": "x"}, headers=rep).status_code == 400
    assert api.post(url, json=[1], headers=rep).status_code == 400
    sid = made.get_json()["id"]
    assert api.delete(f"{url}/{sid}", headers=rep).status_code == 204
    assert api.get(f"/api/v1/opportunity/{ids['mine']}", headers=rep2).status_code == 404


def test_teams_in_the_back_office(web: Flask, crm: Context) -> None:
    admin = client_for(web, "admin")
    edit = f"/admin/system/users/edit/?id={user_id(crm, 'rep')}"
    resp = post_form(admin, edit, {"username": "rep", "roles": ["sales_rep"],
                                   "teams": ["east", "north"], "active": "y", "locale": ""})
    assert resp.status_code == 302, resp.text
    with crm.engine.connect() as conn:
        teams = conn.execute(sa.select(user_teams.c.team).where(
            user_teams.c.user_id == user_id(crm, "rep"))).scalars().all()
    assert sorted(teams) == ["east", "north"]
    assert "East China" in admin.get("/admin/system/users/").text
    page: Any = admin.get(edit).text
    assert 'value="east" selected' in page or "selected value=\"east\"" in page


def test_denials_reach_the_security_log(web: Flask, crm: Context) -> None:
    from app import seclog

    ids = seed(web, crm)
    c = client_for(web, "rep")
    assert c.get(f"/account/{ids['account']}/edit").status_code == 403
    api = web.test_client()
    api.patch(f"/api/v1/account/{ids['account']}", json={"name": "x"},
              headers=token_for(crm, "rep2"))
    with crm.engine.connect() as conn:
        rows = seclog.query(conn, event=seclog.ACCESS_DENIED)
    assert {(r["username"], r["entity"]) for r in rows} == {("rep", "account"),
                                                             ("rep2", "account")}
