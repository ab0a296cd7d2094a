"""Duplicates in the REST API (app/api/duplicates.py): groups, merge, "not duplicates", and
the refusals as JSON errors (400, 403, 409, 422)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.context import Context
from tests.apikit import error_of, token_for
from tests.mergekit import current, deployment, make
from tests.webkit import web_app


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = deployment(tmp_path, database_url)
    yield c
    c.dispose()


@pytest.fixture
def app(ctx: Context) -> Flask:
    return web_app(ctx)


def test_find_merge_and_dismiss(app: Flask, ctx: Context) -> None:
    c = app.test_client()
    h = token_for(ctx, "manager")
    keep = make(ctx, "contact", "rep", last_name="Li", mobile="+86 138-0013-8000")
    lose = make(ctx, "contact", "rep", last_name="Lee", mobile="13800138000",
                email="lee@x.cn")
    call = make(ctx, "activity", subject="Call", related_contact=lose["id"])
    found = c.get("/api/v1/contact/duplicates?rule=contact_mobile", headers=h)
    assert found.status_code == 200, found.text
    group, = found.get_json()["data"]
    assert group["ids"] == [keep["id"], lose["id"]] and group["key"] == ["13800138000"]
    assert [r["id"] for r in group["records"]] == group["ids"]
    assert "secret" not in group["records"][0]  # hidden from sales managers

    done = c.post("/api/v1/contact/merge", headers=h, json={
        "survivor": keep["id"], "losers": [lose["id"]], "choices": {"last_name": lose["id"]},
        "versions": {str(keep["id"]): keep["version"], str(lose["id"]): lose["version"]}})
    assert done.status_code == 200, done.text
    body = done.get_json()
    assert body["merged"] == [lose["id"]] and body["moved"] == {"activity": 1}
    assert body["taken"] == {"last_name": lose["id"], "email": lose["id"]}
    assert body["data"]["last_name"] == "Lee" and body["data"]["email"] == "lee@x.cn"
    assert current(ctx, "activity", call["id"])["related_contact"] == keep["id"]

    a, b = (make(ctx, "account", name=n) for n in ("Acme", "ACME Ltd"))
    dismissed = c.post("/api/v1/account/duplicates/dismiss", headers=h,
                       json={"ids": [a["id"], b["id"]]})
    assert dismissed.get_json() == {"dismissed_pairs": 1}
    assert c.get("/api/v1/account/duplicates", headers=h).get_json() == {"data": []}


def test_refusals(app: Flask, ctx: Context) -> None:
    c = app.test_client()
    admin = token_for(ctx, "admin")
    keep = make(ctx, "contact", last_name="Li")
    lose = make(ctx, "contact", last_name="Li")
    url = "/api/v1/contact/merge"
    rep = c.get("/api/v1/contact/duplicates", headers=token_for(ctx, "rep"))
    assert rep.status_code == 403 and "may not merge" in error_of(rep)["message"]
    assert c.get("/api/v1/contact/duplicates?x=1", headers=admin).status_code == 400
    assert c.get("/api/v1/contact/duplicates?limit=0", headers=admin).status_code == 400
    assert c.post(url, headers=admin, data="x").status_code == 415
    assert c.post(url, headers=admin, json={"survivor": 1}).status_code == 400
    assert c.post(url, headers=admin, json={"survivor": 1, "losers": [2],
                                            "extra": 1}).status_code == 400
    other = c.post(url, headers=admin, json={
        "survivor": keep["id"], "losers": [{"entity": "account", "id": lose["id"]}]})
    assert other.status_code == 422 and "one entity" in error_of(other)["message"]
    bad = c.post(url, headers=admin, json={"survivor": keep["id"], "losers": [lose["id"]],
                                           "choices": {"last_name": 12345}})
    assert bad.status_code == 422 and set(error_of(bad)["fields"]) == {"last_name"}
    stale = c.post(url, headers=admin, json={"survivor": keep["id"], "losers": [lose["id"]],
                                             "versions": {str(lose["id"]): 7}})
    assert stale.status_code == 409 and error_of(stale)["current"]["id"] == lose["id"]
    missing = c.post(url, headers=admin, json={"survivor": keep["id"], "losers": [99999]})
    assert missing.status_code == 404
    assert current(ctx, "contact", lose["id"])["deleted_at"] is None
    done = c.post(url, headers=admin, json={"survivor": keep["id"], "losers": [lose["id"]]})
    assert done.status_code == 200
