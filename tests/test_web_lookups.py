"""Search-as-you-type for lookup inputs: `/lookup/<entity>?q=` matches titles (any case,
deleted records left out, ordered by title, limited), `/lookup/_user` searches users, and bad
requests get JSON errors."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from app.records import SYSTEM
from tests.webkit import records_of, user_id


def texts(resp: object) -> list[str]:
    return [r["text"] for r in resp.json["results"]]  # type: ignore[attr-defined]


def test_matches_titles_in_any_case(client: FlaskClient, web: Flask) -> None:
    rec = records_of(web)
    ids = {name: rec.create("account", {"name": name}, SYSTEM)["id"]
           for name in ("acme labs", "Acme Corp", "Beta", "Old Acme", "上海阿克米")}
    rec.delete("account", ids["Old Acme"], SYSTEM)
    resp = client.get("/lookup/account?q=ACME")
    assert resp.status_code == 200 and resp.is_json
    assert resp.json["results"] == [{"id": ids["Acme Corp"], "text": "Acme Corp"},
                                    {"id": ids["acme labs"], "text": "acme labs"}]
    assert texts(client.get("/lookup/account?q=阿克")) == ["上海阿克米"]
    assert len(texts(client.get("/lookup/account"))) == 4  # no text: the first ones


def test_limit(client: FlaskClient, web: Flask) -> None:
    rec = records_of(web)
    for n in range(55):
        rec.create("account", {"name": f"Company {n:02d}"}, SYSTEM)
    assert texts(client.get("/lookup/account?q=company&limit=2")) == ["Company 00", "Company 01"]
    assert len(texts(client.get("/lookup/account?q=company"))) == 20
    assert len(texts(client.get("/lookup/account?q=company&limit=500"))) == 50
    for bad in ("abc", "0", "-3"):
        resp = client.get(f"/lookup/account?q=x&limit={bad}")
        assert resp.status_code == 400 and "limit" in resp.json["error"]["message"]


def test_wildcards_are_plain_text(client: FlaskClient, web: Flask) -> None:
    rec = records_of(web)
    rec.create("account", {"name": "100% Natural"}, SYSTEM)
    rec.create("account", {"name": "Plain_Name"}, SYSTEM)
    rec.create("account", {"name": "PlainXName"}, SYSTEM)
    assert texts(client.get("/lookup/account?q=%25")) == ["100% Natural"]
    assert texts(client.get("/lookup/account?q=n_n")) == ["Plain_Name"]


def test_formula_titles(client: FlaskClient, web: Flask) -> None:
    rec = records_of(web)
    cid = rec.create("contact", {"first_name": "Wei", "last_name": "Zhang"}, SYSTEM)["id"]
    rec.create("contact", {"first_name": "Li", "last_name": "Na"}, SYSTEM)
    assert client.get("/lookup/contact?q=wei zh").json["results"] == [
        {"id": cid, "text": "Wei Zhang"}]


def test_users(client: FlaskClient, web: Flask) -> None:
    ctx = web.extensions["crm"].ctx
    resp = client.get("/lookup/_user?q=rep")
    assert resp.json["results"] == [
        {"id": user_id(ctx, "rep"), "text": "Rep (rep)"},
        {"id": user_id(ctx, "rep2"), "text": "Rep2 (rep2)"}]
    assert texts(client.get("/lookup/_user?q=ADMIN")) == ["Admin (admin)"]


def test_unknown_entity_and_sign_in(client: FlaskClient, web: Flask) -> None:
    resp = client.get("/lookup/nothing?q=a")
    assert resp.status_code == 404 and resp.is_json
    assert "nothing" in resp.json["error"]["message"]
    anonymous = web.test_client().get("/lookup/account?q=a")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
