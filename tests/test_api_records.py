"""The records API: create, read, update with If-Match, delete, filters, sort, cursor pages,
field selection, expansion and bulk writes, with field-level errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apikit import error_of, token_for
from tests.webkit import web_app


@pytest.fixture
def api(crm: Any) -> tuple[Any, dict[str, str]]:
    return web_app(crm).test_client(), token_for(crm)


def test_create_read_update_delete(api: tuple[Any, dict[str, str]]) -> None:
    c, h = api
    made = c.post("/api/v1/account", json={"name": "Acme 上海", "rating": "hot"}, headers=h)
    assert made.status_code == 201, made.text
    acc = made.get_json()
    assert acc["name"] == "Acme 上海" and acc["version"] == 1 and acc["owner"] == 1
    assert made.headers["Location"] == f"/api/v1/account/{acc['id']}"
    assert made.headers["ETag"] == '"1"'
    got = c.get(f"/api/v1/account/{acc['id']}", headers=h)
    assert got.get_json()["name"] == "Acme 上海" and got.headers["ETag"] == '"1"'
    changed = c.patch(f"/api/v1/account/{acc['id']}", json={"phone": "021-5555 1234"},
                      headers={**h, "If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.get_json()["version"] == 2 and changed.headers["ETag"] == '"2"'
    stale = c.patch(f"/api/v1/account/{acc['id']}", json={"name": "Old view"},
                    headers={**h, "If-Match": '"1"'})
    assert stale.status_code == 412
    err = error_of(stale)
    assert err["current"]["version"] == 2
    assert c.get(f"/api/v1/account/{acc['id']}", headers=h).get_json()["name"] == "Acme 上海"
    assert c.delete(f"/api/v1/account/{acc['id']}", headers={**h, "If-Match": '"1"'}
                    ).status_code == 412
    gone = c.delete(f"/api/v1/account/{acc['id']}", headers=h)
    assert gone.status_code == 204 and gone.data == b""
    assert c.get(f"/api/v1/account/{acc['id']}", headers=h).status_code == 404


def test_validation_errors_name_each_field(api: tuple[Any, dict[str, str]]) -> None:
    c, h = api
    bad = c.post("/api/v1/opportunity", json={"amount": "lots", "stage": "nowhere",
                                              "colour": "red"}, headers=h)
    assert bad.status_code == 422
    fields = error_of(bad)["fields"]
    assert {"amount", "stage", "colour", "name"} <= set(fields)
    assert fields["colour"] == ["There is no field 'colour'."]
    zh = c.post("/api/v1/account", json={}, headers={**h, "Accept-Language": "zh-CN"})
    assert zh.status_code == 422
    assert any("必" in m or "填" in m for m in error_of(zh)["fields"]["name"])


def test_bad_requests_get_the_right_4xx(api: tuple[Any, dict[str, str]]) -> None:
    c, h = api
    assert c.post("/api/v1/account", data="name=x", headers=h).status_code == 415
    assert c.post("/api/v1/account", data="[1]", content_type="application/json",
                  headers=h).status_code == 400
    assert c.post("/api/v1/account", data="{bad", content_type="application/json",
                  headers=h).status_code == 400
    assert c.get("/api/v1/nothing_here", headers=h).status_code == 404
    assert c.get("/api/v1/account/99999", headers=h).status_code == 404
    assert c.get("/api/v1/account/99999999999", headers=h).status_code == 404
    assert c.put("/api/v1/account/1", json={}, headers=h).status_code == 405
    assert c.get("/api/v1/account?sort=nope", headers=h).status_code == 400
    assert c.get("/api/v1/account?limit=0", headers=h).status_code == 400
    assert c.get("/api/v1/account?cursor=garbage", headers=h).status_code == 400
    assert c.get("/api/v1/account?f.name.frobnicate=x", headers=h).status_code == 400
    unknown = c.get("/api/v1/account?colour=red", headers=h)
    assert unknown.status_code == 400 and "colour" in error_of(unknown)["message"]
    assert c.patch("/api/v1/account/1", json={}, headers={**h, "If-Match": "yesterday"}
                   ).status_code in (400, 404)


def test_filters_sort_and_cursor_pages(api: tuple[Any, dict[str, str]]) -> None:
    c, h = api
    acc = c.post("/api/v1/account", json={"name": "Big"}, headers=h).get_json()
    for n in range(7):
        made = c.post("/api/v1/opportunity", json={
            "name": f"Deal {n}", "account": acc["id"], "amount": str(1000 * n),
            "close_date": f"2026-0{n + 1}-15"}, headers=h)
        assert made.status_code == 201, made.text
    big = c.get("/api/v1/opportunity?f.amount.gte=3000&sort=-amount", headers=h).get_json()
    assert [r["name"] for r in big["data"]] == ["Deal 6", "Deal 5", "Deal 4", "Deal 3"]
    assert big["count"] == 4 and big["has_more"] is False and big["next_cursor"] is None
    seen: list[str] = []
    url = "/api/v1/opportunity?sort=amount&limit=3"
    while url:
        page = c.get(url, headers=h).get_json()
        seen += [r["name"] for r in page["data"]]
        url = (f"/api/v1/opportunity?sort=amount&limit=3&cursor={page['next_cursor']}"
               if page["has_more"] else "")
    assert seen == [f"Deal {n}" for n in range(7)]
    one = c.get("/api/v1/opportunity?f.name=Deal 2&fields=name,amount", headers=h).get_json()
    assert one["data"] == [{"id": one["data"][0]["id"], "version": 1, "name": "Deal 2",
                            "amount": "2000.00"}]
    found = c.get("/api/v1/opportunity?q=deal 4", headers=h).get_json()
    assert [r["name"] for r in found["data"]] == ["Deal 4"]


def test_expand_lookups_and_users(api: tuple[Any, dict[str, str]]) -> None:
    c, h = api
    acc = c.post("/api/v1/account", json={"name": "Parent Co"}, headers=h).get_json()
    con = c.post("/api/v1/contact", json={"last_name": "李", "account": acc["id"]},
                 headers=h).get_json()
    got = c.get(f"/api/v1/contact/{con['id']}?expand=account,owner", headers=h).get_json()
    assert got["account"] == acc["id"]
    assert got["expanded"]["account"]["name"] == "Parent Co"
    assert got["expanded"]["owner"]["username"] == "admin"
    listed = c.get("/api/v1/contact?expand=account", headers=h).get_json()
    assert listed["data"][0]["expanded"]["account"]["id"] == acc["id"]
    narrow = c.get(f"/api/v1/contact/{con['id']}?fields=last_name&expand=account,owner",
                   headers=h).get_json()
    assert narrow["expanded"]["account"]["name"] == "Parent Co"
    assert narrow["expanded"]["owner"]["username"] == "admin"
    listed = c.get("/api/v1/contact?fields=last_name&expand=account", headers=h).get_json()
    assert listed["data"][0]["expanded"]["account"]["id"] == acc["id"]
    bad = c.get("/api/v1/contact?expand=last_name", headers=h)
    assert bad.status_code == 400 and "last_name" in error_of(bad)["message"]


def test_bulk_writes_all_or_nothing(api: tuple[Any, dict[str, str]]) -> None:
    c, h = api
    done = c.post("/api/v1/account/bulk", json={"records": [{"name": "A"}, {"name": "B"}]},
                  headers=h)
    assert done.status_code == 200, done.text
    a, b = done.get_json()["data"]
    refused = c.post("/api/v1/account/bulk", json={"records": [
        {"id": a["id"], "version": 1, "name": "A2"}, {"name": "C"}, {"rating": "warmish"}]},
        headers=h)
    assert refused.status_code == 422
    err = error_of(refused)
    assert err["index"] == 2 and "rating" in err["fields"]
    names = sorted(r["name"] for r in c.get("/api/v1/account", headers=h).get_json()["data"])
    assert names == ["A", "B"]  # nothing of the refused batch was saved
    ok = c.post("/api/v1/account/bulk", json={"records": [
        {"id": a["id"], "version": 1, "name": "A2"}, {"id": b["id"], "phone": "+86 21 5555 1234"}]},
        headers=h)
    assert ok.status_code == 200, ok.text
    assert [r["version"] for r in ok.get_json()["data"]] == [2, 2]
    stale = c.post("/api/v1/account/bulk", json={"records": [
        {"id": a["id"], "version": 1, "name": "A3"}]}, headers=h)
    assert stale.status_code == 409 and error_of(stale)["index"] == 0
    assert c.post("/api/v1/account/bulk", json={"records": []}, headers=h).status_code == 400
    assert c.post("/api/v1/account/bulk", json={"records": [{}] * 201},
                  headers=h).status_code == 400
