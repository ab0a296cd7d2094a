"""Hostile input: over-long and malformed values of every field type, through the form and the
API, are a 4xx naming the field (never a 500) and save nothing: strings beyond max_length, a
1 MB text, integers beyond 32 bits, 40-digit decimals, impossible dates, NUL characters
(PostgreSQL refuses them in text), malformed JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.migrate.publish import publish
from app.records import Actor, ValidationFailed
from tests.apikit import error_of, token_for
from tests.factories import meta_of, write_schema
from tests.webkit import csrf, deployment, records_of, sign_in, user_id, web_app, wrapper

WIDGET: dict[str, Any] = {
    "entity": "widget",
    "title": "name",
    "fields": {
        "name": {"type": "string", "required": True, "max_length": 20},
        "notes": {"type": "text"},
        "body": {"type": "rich_text"},
        "email": {"type": "email"},
        "phone": {"type": "phone"},
        "site": {"type": "url"},
        "qty": {"type": "integer"},
        "weight": {"type": "decimal", "scale": 3},
        "price": {"type": "currency"},
        "ratio": {"type": "percent"},
        "due": {"type": "date"},
        "at": {"type": "datetime"},
        "alarm": {"type": "time"},
        "active": {"type": "boolean"},
        "labels": {"type": "tags"},
        "data": {"type": "json"},
        "kind": {"type": "picklist", "choices": ["big", "small"]},
    },
}
NUL = "\u0000"
#: field -> values refused for it (through both the form and the API)
BAD: dict[str, list[Any]] = {
    "name": ["x" * 21, "a" + NUL + "b", NUL],
    "notes": ["a" + NUL + "b"],
    "body": ["<p>a" + NUL + "b</p>"],
    "email": ["a" + NUL + "@b.example", "x" * 300 + "@b.example"],
    "phone": ["021" + NUL + "5555 1234", "1" * 60],
    "site": ["https://example.com/" + NUL, "https://example.com/" + "x" * 3000],
    "qty": ["2147483648" + "0" * 12, str(2**63), "1e400", "NaN", "1" + NUL],
    "weight": ["1" * 40, "0." + "1" * 40 + NUL, "Infinity"],
    "price": ["9" * 40],
    "ratio": ["9" * 40],
    "due": ["2026-02-30", "2026-13-01", "9" * 30, "2026-01-01" + NUL],
    "at": ["2026-02-30T10:00", "2026-01-01T25:00", "2026-01-01T10:00" + NUL],
    "alarm": ["25:61", "10:00" + NUL],
    "labels": ["a" + NUL + "b"],
    "data": ["{bad", '{"a": "b' + NUL + '"}', "[1, 2"],
    "kind": ["big" + NUL],
}


@pytest.fixture
def widgets(tmp_path: Path, database_url: str) -> Iterator[tuple[Context, Flask]]:
    ctx = deployment(tmp_path, database_url, pack="small")
    write_schema(tmp_path / "schemas", "widget", WIDGET)
    publish(ctx.engine, meta_of(tmp_path / "schemas"))
    try:
        yield ctx, web_app(ctx)
    finally:
        ctx.dispose()


@pytest.fixture
def admin(widgets: tuple[Context, Flask]) -> FlaskClient:
    c = widgets[1].test_client()
    sign_in(c)
    return c



def count(client: FlaskClient, headers: dict[str, str]) -> int:
    body = client.get("/api/v1/widget?limit=100", headers=headers).get_json()
    return len(body["data"])


def test_form_refuses_each_bad_value_beside_its_field(admin: FlaskClient,
                                                      widgets: tuple[Context, Flask]) -> None:
    ctx, _app = widgets
    h = token_for(ctx)
    token = csrf(admin.get("/widget/new").text)
    for field, values in BAD.items():
        if field == "body":
            continue  # the form sanitises rich text first: a NUL is dropped (see below)
        for value in values:
            if field == "at" and value.endswith(NUL):
                continue  # the datetime form widget parses it leniently (no NUL is stored)
            data = {"name": "ok", field: value, "csrf_token": token}
            resp = admin.post("/widget/new", data=data)
            assert resp.status_code == 422, (field, value[:30], resp.status_code)
            assert "invalid-feedback" in wrapper(resp.text, field), (field, value[:30])
    rich = admin.post("/widget/new", data={"name": "rich", "body": "<p>a" + NUL + "b</p>",
                                           "csrf_token": token})
    assert rich.status_code in (302, 422), rich.status_code
    listed = admin.get("/api/v1/widget?limit=100", headers=h).get_json()["data"]
    assert all(NUL not in (r["body"] or "") for r in listed)
    assert len(listed) == (1 if rich.status_code == 302 else 0)


def test_api_refuses_each_bad_value_naming_the_field(admin: FlaskClient,
                                                     widgets: tuple[Context, Flask]) -> None:
    ctx, _app = widgets
    h = token_for(ctx)
    for field, values in BAD.items():
        for value in values:
            if field == "data" and NUL not in value:
                continue  # through the API a json field takes any JSON, "{bad" is a string
            body: dict[str, Any] = {"name": "ok", field: value}
            if field == "labels":
                body[field] = [value]
            resp = admin.post("/api/v1/widget", json=body, headers=h)
            assert resp.status_code in (400, 422), (field, value[:30], resp.status_code)
            assert field in error_of(resp).get("fields", {}), (field, value[:30], resp.text)
    for field, value in (("qty", 2**80), ("qty", -(2**70)), ("weight", 1e300),
                         ("data", {"k": NUL}), ("labels", [NUL]), ("name", ["x"]),
                         ("notes", {"a": 1}), ("notes", "\ud800"), ("data", {"\udfff": 1})):
        resp = admin.post("/api/v1/widget", json={"name": "ok", field: value}, headers=h)
        assert resp.status_code in (400, 422), (field, resp.status_code, resp.text)
        assert field in error_of(resp).get("fields", {}), (field, resp.text)
    made = admin.post("/api/v1/widget", json={"name": "ok"}, headers=h).get_json()
    resp = admin.patch(f"/api/v1/widget/{made['id']}", json={"notes": "a" + NUL},
                       headers=h)
    assert resp.status_code == 422 and "notes" in error_of(resp)["fields"]
    assert count(admin, h) == 1


def test_api_rejects_malformed_json_bodies(admin: FlaskClient,
                                           widgets: tuple[Context, Flask]) -> None:
    h = token_for(widgets[0])
    for raw in ('{"name": "x"', '{"name": "\\u0000"}', '{"name": "\\ud800"}', "\x00",
                '{"qty": 1e99999}'):
        resp = admin.post("/api/v1/widget", data=raw.encode("utf-8", "surrogatepass"),
                          content_type="application/json", headers=h)
        assert 400 <= resp.status_code < 500, (raw, resp.status_code, resp.text)
    assert count(admin, h) == 0


def test_big_text_is_stored_or_refused_cleanly(admin: FlaskClient,
                                               widgets: tuple[Context, Flask]) -> None:
    ctx, app = widgets
    h = token_for(ctx)
    big = "长" * (1024 * 1024)
    resp = admin.post("/api/v1/widget", json={"name": "big", "notes": big}, headers=h)
    assert resp.status_code in (201, 413, 422), resp.status_code
    if resp.status_code == 201:
        assert records_of(app).get("widget", resp.get_json()["id"])["notes"] == big
    token = csrf(admin.get("/widget/new").text)
    form = admin.post("/widget/new", data={"name": "big2", "notes": big, "csrf_token": token})
    assert form.status_code in (302, 413, 422), form.status_code


def test_service_refuses_nul_naming_the_field(widgets: tuple[Context, Flask]) -> None:
    ctx, app = widgets
    me = Actor(user_id(ctx, "admin"), "admin", ("admin",))
    with pytest.raises(ValidationFailed) as caught:
        records_of(app).create("widget", {"name": "a" + NUL, "notes": NUL,
                                          "labels": ["x" + NUL]}, me)
    assert {"name", "notes", "labels"} <= set(caught.value.errors)
