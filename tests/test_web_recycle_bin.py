"""Delete with confirmation, the recycle bin, and restore, through the web pages; master-detail
children (quote lines) go to the bin and come back with their quote."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.records import Actor, NotFound, Records
from tests.webkit import csrf, records_of, user_id


def admin(ctx: Context) -> Actor:
    return Actor(user_id(ctx, "admin"), "admin", ("admin",))


def token_of(client: FlaskClient, url: str) -> str:
    return csrf(client.get(url).text)


def test_delete_needs_confirmation(client: FlaskClient, web: Flask, crm: Context) -> None:
    rs = records_of(web)
    acc = rs.create("account", {"name": "Careful Co"}, admin(crm))
    url = f"/account/{acc['id']}"
    page = client.get(url).text
    assert 'data-confirm="Move Careful Co to the recycle bin?"' in page  # the JS confirm()
    token = csrf(page)
    asked = client.post(f"{url}/delete", data={"csrf_token": token, "version": "1"})
    assert asked.status_code == 200 and 'id="confirm-delete"' in asked.text
    assert 'name="confirm" value="1"' in asked.text
    assert rs.get("account", acc["id"])["deleted_at"] is None  # nothing deleted yet
    done = client.post(f"{url}/delete", data={"csrf_token": token, "version": "1",
                                              "confirm": "1"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/account/")
    with pytest.raises(NotFound):
        rs.get("account", acc["id"])
    home = client.get("/").text  # the flash message shows on the next page
    assert "Careful Co was moved to the recycle bin." in home
    assert 'href="/account/bin"' in home


def test_delete_without_csrf_is_refused(client: FlaskClient, web: Flask, crm: Context) -> None:
    rs = records_of(web)
    acc = rs.create("account", {"name": "Guarded"}, admin(crm))
    resp = client.post(f"/account/{acc['id']}/delete", data={"confirm": "1"})
    assert resp.status_code == 400
    assert rs.get("account", acc["id"])["name"] == "Guarded"


def test_stale_delete_is_a_conflict(client: FlaskClient, web: Flask, crm: Context) -> None:
    rs = records_of(web)
    acc = rs.create("account", {"name": "Busy", "owner": user_id(crm, "rep")}, admin(crm))
    token = token_of(client, f"/account/{acc['id']}")
    rs.update("account", acc["id"], {"phone": "+86 21 5555 0000"},
              Actor(user_id(crm, "rep"), "rep", ("sales_rep",)))
    resp = client.post(f"/account/{acc['id']}/delete", data={
        "csrf_token": token, "version": "1", "confirm": "1"}, follow_redirects=True)
    assert resp.status_code == 200 and "rep changed this record" in resp.text
    assert rs.get("account", acc["id"])["deleted_at"] is None
    bad = client.post(f"/account/{acc['id']}/delete", data={
        "csrf_token": token, "version": "two", "confirm": "1"})
    assert bad.status_code == 400


def test_bin_lists_deleted_records_and_restore_brings_them_back(
        client: FlaskClient, web: Flask, crm: Context) -> None:
    rs = records_of(web)
    keep = rs.create("account", {"name": "Still here"}, admin(crm))
    acc = rs.create("account", {"name": "Binned Co", "type": "partner",
                                "owner": user_id(crm, "rep")}, admin(crm))
    rs.delete("account", acc["id"], Actor(user_id(crm, "rep"), "rep", ("sales_rep",)))
    page = client.get("/account/bin").text
    table = page.split('id="recycle-bin"')[1]
    assert "Binned Co" in table and "Still here" not in table
    row = table.split(f'data-id="{acc["id"]}"')[1].split("</tr>")[0]
    assert "Rep" in row  # who deleted it
    assert f'action="/account/{acc["id"]}/restore"' in row
    resp = client.post(f"/account/{acc['id']}/restore", data={"csrf_token": csrf(page)})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/account/{acc['id']}")
    detail = client.get(f"/account/{acc['id']}")
    assert detail.status_code == 200 and "Binned Co was restored." in detail.text
    assert "Binned Co" not in client.get("/account/bin").text.split("</nav>", 1)[1]
    assert rs.get("account", keep["id"])["deleted_at"] is None


def test_empty_bin_and_bad_requests(client: FlaskClient, web: Flask, crm: Context) -> None:
    rs = records_of(web)
    live = rs.create("account", {"name": "Live"}, admin(crm))
    page = client.get("/account/bin")
    assert page.status_code == 200 and 'id="bin-empty"' in page.text
    token = csrf(page.text)
    assert client.get("/nosuch/bin").status_code == 404
    assert client.post(f"/account/{live['id']}/restore",
                       data={"csrf_token": token}).status_code == 400  # not in the bin
    assert client.post("/account/999/restore", data={"csrf_token": token}).status_code == 404
    assert client.post("/account/999/delete", data={"csrf_token": token,
                                                    "confirm": "1"}).status_code == 404
    assert client.get("/account/999/delete").status_code == 404


def quote_with_lines(rs: Records, who: Actor) -> tuple[int, list[int]]:
    quote = rs.create("quote", {"name": "Servers for Acme"}, who)
    lines = [rs.create("quote_line", {"quote": quote["id"], "description": f"Item {i}",
                                      "quantity": 1, "unit_price": "50"}, who)["id"]
             for i in range(2)]
    return quote["id"], lines


def test_quote_lines_go_and_come_back_with_their_quote(client: FlaskClient, web: Flask,
                                                       crm: Context) -> None:
    rs = records_of(web)
    quote, lines = quote_with_lines(rs, admin(crm))
    token = token_of(client, f"/quote/{quote}")
    asked = client.post(f"/quote/{quote}/delete", data={"csrf_token": token})
    children = asked.text.split('id="delete-children"')[1].split("</ul>")[0]
    assert "Quote lines: 2" in children
    client.post(f"/quote/{quote}/delete", data={"csrf_token": token, "confirm": "1"})
    for line in lines:
        assert client.get(f"/quote_line/{line}").status_code == 404
    line_bin = client.get("/quote_line/bin").text
    assert "Item 0" in line_bin and "Item 1" in line_bin
    client.post(f"/quote/{quote}/restore", data={"csrf_token": token})
    page = client.get(f"/quote/{quote}").text
    assert len(re.findall(r'href="/quote_line/\d+"', page)) == 2
    assert 'id="bin-empty"' in client.get("/quote_line/bin").text
    assert all(rs.get("quote_line", line)["deleted_at"] is None for line in lines)
