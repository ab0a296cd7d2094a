"""The back office's entity views (flask-admin at /admin/records/<entity>/) read and write only
through the records service: autonumbers, validation, optimistic locking, audit, recycle bin."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.records import SYSTEM, NotFound, Records
from tests.webkit import csrf, records_of, sign_in, user_id, web_app

NEW = "/admin/records/account/new/"


def _cells(page: str, column: str) -> list[str]:
    found = re.findall(rf'<td class="col-{column}">\s*(.*?)\s*</td>', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in found]


def _names(rec: Records) -> list[str]:
    import sqlalchemy as sa

    stmt = rec.select("account").where(rec.table("account").c.deleted_at.is_(None))
    with rec.engine.connect() as conn:
        return [r._mapping["name"] for r in conn.execute(stmt.order_by(sa.text("id")))]


def _find(rec: Records, name: str) -> dict[str, Any]:
    stmt = rec.select("account").where(rec.table("account").c.name == name)
    with rec.engine.connect() as conn:
        return dict(conn.execute(stmt).one()._mapping)


def _post(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    token = csrf(client.get(url).text)
    return client.post(url, data={**data, "csrf_token": token})


def test_list_shows_the_accounts_of_the_default_pack(web: Flask, client: FlaskClient) -> None:
    rec = records_of(web)
    rec.create("account", {"name": "Acme Trading", "type": "customer"}, SYSTEM)
    rec.create("account", {"name": "Beta Works"}, SYSTEM)
    page = client.get("/admin/records/account/")
    assert page.status_code == 200
    assert _cells(page.text, "name") == ["Beta Works", "Acme Trading"]  # newest first
    assert _cells(page.text, "account_number") == ["ACC-00002", "ACC-00001"]
    assert "Account name" in page.text
    menu = re.search(r'Data<i[^>]*></i>\s*</a>\s*<ul class="dropdown-menu">(.*?)</ul>',
                     page.text, re.S)
    assert menu and 'href="/admin/records/account/"' in menu.group(1)
    assert 'href="/admin/records/opportunity/"' in menu.group(1)
    found = client.get("/admin/records/account/?search=acme")
    assert _cells(found.text, "name") == ["Acme Trading"]
    overview = client.get("/admin/")
    assert overview.status_code == 200
    assert re.search(r'data-entity="account">.*?<td class="text-right">2</td>', overview.text,
                     re.S)


def test_create_goes_through_the_records_service(web: Flask, crm: Any,
                                                 client: FlaskClient) -> None:
    rec = records_of(web)
    parent = rec.create("account", {"name": "Group HQ"}, SYSTEM)
    resp = _post(client, NEW, {"name": "Acme Branch", "type": "customer", "employees": "12",
                               "parent": str(parent["id"]), "tags": "smb, listed"})
    assert resp.status_code == 302, resp.text
    row = _find(rec, "Acme Branch")
    admin = user_id(crm, "admin")
    assert row["account_number"] == "ACC-00002"  # drawn by the service
    assert row["employees"] == 12 and row["parent"] == parent["id"]
    assert row["tags"] == ["smb", "listed"]
    assert row["created_by_id"] == admin and row["owner_id"] == admin
    history = rec.history("account", row["id"])
    assert [(h["action"], h["username"]) for h in history] == [("create", "admin")]
    assert history[0]["changes"]["name"] == [None, "Acme Branch"]
    listed = client.get("/admin/records/account/")
    assert "Record was successfully created." in listed.text
    assert "Group HQ" in _cells(listed.text, "parent")


def test_required_field_is_flashed_and_nothing_saved(web: Flask, client: FlaskClient) -> None:
    resp = _post(client, NEW, {"name": "", "type": "partner", "employees": "3"})
    assert resp.status_code == 200
    assert "Account name is required." in resp.text
    assert 'class="invalid-feedback"' in resp.text  # shown beside the field as well
    assert 'value="3"' in resp.text  # the form keeps what was typed
    assert _names(records_of(web)) == []
    bad = _post(client, NEW, {"name": "Acme", "employees": "many"})
    assert bad.status_code == 200 and "Not a valid integer value." in bad.text
    assert _names(records_of(web)) == []


def test_rule_and_pattern_errors_come_from_the_service(web: Flask, client: FlaskClient) -> None:
    resp = _post(client, NEW, {"name": "Acme", "unified_social_credit_code": "12345"})
    assert resp.status_code == 200
    assert "Unified social credit code" in resp.text
    assert _names(records_of(web)) == []


def test_edit_saves_with_the_version_read(web: Flask, client: FlaskClient) -> None:
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme", "employees": 5}, SYSTEM)
    url = f"/admin/records/account/edit/?id={acc['id']}"
    form = client.get(url).text
    assert re.search(r'name="version" type="hidden" value="1"', form)
    resp = client.post(url, data={"csrf_token": csrf(form), "version": "1", "name": "Acme 2",
                                  "employees": "6"})
    assert resp.status_code == 302, resp.text
    now = rec.get("account", acc["id"])
    assert (now["name"], now["employees"], now["version"]) == ("Acme 2", 6, 2)
    assert rec.history("account", acc["id"])[0]["changes"]["employees"] == [5, 6]


def test_edit_with_a_stale_version_is_a_conflict(web: Flask, client: FlaskClient) -> None:
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme", "employees": 5}, SYSTEM)
    url = f"/admin/records/account/edit/?id={acc['id']}"
    form = client.get(url).text  # the admin opens the form at version 1 ...
    rec.update("account", acc["id"], {"employees": 7}, SYSTEM, version=1)  # ... someone saves
    resp = client.post(url, data={"csrf_token": csrf(form), "version": "1", "name": "Mine",
                                  "employees": "5"})
    assert resp.status_code == 200
    assert "changed this record after you opened it" in resp.text
    assert "Employees: 5 → 7" in html.unescape(resp.text)
    now = rec.get("account", acc["id"])
    assert (now["name"], now["employees"], now["version"]) == ("Acme", 7, 2)


def test_delete_moves_the_record_to_the_recycle_bin(web: Flask, client: FlaskClient) -> None:
    rec = records_of(web)
    acc = rec.create("account", {"name": "Doomed Ltd"}, SYSTEM)
    keep = rec.create("account", {"name": "Kept Ltd"}, SYSTEM)
    token = csrf(client.get("/admin/records/account/").text)
    resp = client.post("/admin/records/account/delete/",
                       data={"id": str(acc["id"]), "csrf_token": token})
    assert resp.status_code == 302
    with pytest.raises(NotFound):
        rec.get("account", acc["id"])
    gone = rec.get("account", acc["id"], deleted=True)
    assert gone["deleted_at"] is not None and gone["name"] == "Doomed Ltd"
    assert [r["id"] for r in rec.recycle_bin("account")] == [acc["id"]]
    assert [h["action"] for h in rec.history("account", acc["id"])] == ["delete", "create"]
    assert _cells(client.get("/admin/records/account/").text, "name") == [keep["name"]]


def test_bulk_action_moves_selected_records_to_the_bin(web: Flask, client: FlaskClient) -> None:
    rec = records_of(web)
    ids = [rec.create("account", {"name": f"A{i}"}, SYSTEM)["id"] for i in range(3)]
    token = csrf(client.get("/admin/records/account/").text)
    resp = client.post("/admin/records/account/action/", data={
        "action": "delete", "rowid": [str(ids[0]), str(ids[2])], "csrf_token": token})
    assert resp.status_code == 302
    assert _names(rec) == ["A1"]
    assert sorted(r["id"] for r in rec.recycle_bin("account")) == [ids[0], ids[2]]


def test_posts_without_csrf_are_refused(web: Flask, client: FlaskClient) -> None:
    resp = client.post(NEW, data={"name": "No token"})
    assert resp.status_code == 400
    assert _names(records_of(web)) == []


def test_lookup_search_returns_titles(web: Flask, client: FlaskClient) -> None:
    rec = records_of(web)
    acme = rec.create("account", {"name": "Acme 100%"}, SYSTEM)
    rec.create("account", {"name": "Other"}, SYSTEM)
    resp = client.get("/admin/records/contact/ajax/lookup/?name=account&query=acme 100%")
    assert resp.status_code == 200
    assert resp.get_json() == [[acme["id"], "Acme 100%"]]
    assert client.get("/admin/records/contact/ajax/lookup/?name=nope&query=a").status_code \
        == 404


def test_bad_query_parameters_do_not_break_pages(web: Flask, client: FlaskClient) -> None:
    records_of(web).create("account", {"name": "Acme"}, SYSTEM)
    page = client.get("/admin/records/account/?page=-3&sort=99&desc=x&flt0_0=nope&page_size=7")
    assert page.status_code == 200 and _cells(page.text, "name") == ["Acme"]
    assert client.get("/admin/records/account/edit/?id=abc").status_code == 302
    assert client.get("/admin/records/account/edit/?id=999").status_code == 302
    assert client.get("/admin/records/account/details/?id=999").status_code == 302
    filtered = client.get("/admin/records/account/?flt0_0=customer")
    assert filtered.status_code == 200 and _cells(filtered.text, "name") == []


def test_labels_follow_the_language(web: Flask, client: FlaskClient) -> None:
    token = csrf(client.get("/").text)
    client.post("/me/language", data={"locale": "zh_CN", "csrf_token": token})
    page = client.get("/admin/records/account/")
    assert "客户名称" in page.text  # the entity's YAML label
    assert "列表" in page.text and "创建" in page.text  # flask-admin's own texts
    resp = _post(client, NEW, {"name": ""})
    assert "客户名称" in resp.text and "Account name is required." not in resp.text
    made = _post(client, NEW, {"name": "新公司"})
    assert made.status_code == 302
    assert "创建记录成功。" in client.get("/admin/records/account/").text  # flask-admin's flash


def test_each_app_gets_its_own_back_office(web: Flask, crm: Any) -> None:
    """A new config version builds a new Flask app, with a new flask-admin Admin and views."""
    second = web_app(crm)
    first_admin, second_admin = web.extensions["admin"], second.extensions["admin"]
    assert len(first_admin) == len(second_admin) == 1
    assert first_admin[0] is not second_admin[0]
    assert "admin_account" in {v.endpoint for v in second_admin[0]._views}
    c = second.test_client()
    sign_in(c)
    assert c.get("/admin/records/account/").status_code == 200
