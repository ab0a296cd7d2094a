"""Hostile input: SQL metacharacters in filters, sort and quick search, on the list page, the
export and the API list, are 200 with literal matches or 400, never 500, and leave the tables
intact; `%`, `_` and `\\` in a contains filter match literally."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.records import Actor
from tests.apikit import token_for
from tests.webkit import records_of, user_id

NAMES = ("100% Natural", "Plain_Name", "Back\\slash", "O'Brien; DROP TABLE account",
         "Plain Name", "100 Natural", "Backslash")
HOSTILE = ("' OR 1=1 --", "%", "_", "\\", ";DROP TABLE account", "'; DROP TABLE account; --",
           '" OR ""="', "\x00", "%' OR '1'='1", "\\%", "a\x00b")
OPS = ("eq", "ne", "contains", "starts_with", "in")


@pytest.fixture
def accounts(web: Flask, crm: Context) -> dict[str, int]:
    rec = records_of(web)
    me = Actor(user_id(crm, "admin"), "admin", ("admin",))
    return {n: rec.create("account", {"name": n}, me)["id"] for n in NAMES}


def count(client: FlaskClient, headers: dict[str, str]) -> int:
    body = client.get("/api/v1/account?limit=100", headers=headers).get_json()
    return len(body["data"])


def api_names(client: FlaskClient, url: str, headers: dict[str, str]) -> list[str] | int:
    resp = client.get(url, headers=headers)
    if resp.status_code != 200:
        return int(resp.status_code)
    return sorted(r["name"] for r in resp.get_json()["data"])


def test_filters_and_search_with_metacharacters_never_fail(
        client: FlaskClient, accounts: dict[str, int], crm: Context) -> None:
    headers = token_for(crm)
    for text in HOSTILE:
        q = quote(text)
        for url in [f"/account/?f.name.{op}={q}" for op in OPS] + [
                f"/account/?q={q}", f"/account/export.csv?f.name.contains={q}",
                f"/search?q={q}", f"/lookup/account?q={q}",
                f"/account/?f.employees.eq={q}", f"/account/?f.created_at.gt={q}",
                f"/admin/records/account/?search={q}", f"/lookup/_user?q={q}",
                f"/admin/records/contact/ajax/lookup/?name=account&query={q}",
                f"/admin/records/activity/ajax/lookup/?name=assigned_to&query={q}"]:
            resp = client.get(url)
            assert resp.status_code in (200, 400), (url, resp.status_code)
        for url in [f"/api/v1/account?f.name.{op}={q}" for op in OPS] + [
                f"/api/v1/account?q={q}", f"/api/v1/account?f.employees.eq={q}",
                f"/api/v1/account?f.created_at.gt={q}"]:
            resp = client.get(url, headers=headers)
            assert resp.status_code in (200, 400), (url, resp.status_code, resp.text)
    assert count(client, headers) == len(NAMES)


def test_injection_matches_nothing(client: FlaskClient, accounts: dict[str, int],
                                   crm: Context) -> None:
    h = token_for(crm)
    assert api_names(client, f"/api/v1/account?f.name.eq={quote(HOSTILE[0])}", h) == []
    assert api_names(client, f"/api/v1/account?f.name.contains={quote(HOSTILE[8])}", h) == []
    assert api_names(client, f"/api/v1/account?q={quote(HOSTILE[0])}", h) == []
    page = client.get(f"/account/?f.name.eq={quote(HOSTILE[0])}").text
    assert "Plain Name" not in page


def test_like_wildcards_match_literally(client: FlaskClient, accounts: dict[str, int],
                                        crm: Context) -> None:
    h = token_for(crm)
    assert api_names(client, "/api/v1/account?f.name.contains=%25", h) == ["100% Natural"]
    assert api_names(client, "/api/v1/account?f.name.contains=n_n", h) == ["Plain_Name"]
    assert api_names(client, "/api/v1/account?f.name.contains=k%5Cs", h) == ["Back\\slash"]
    assert api_names(client, "/api/v1/account?f.name.starts_with=100%25", h) == ["100% Natural"]
    assert api_names(client, "/api/v1/account?q=%25", h) == ["100% Natural"]
    assert api_names(client, "/api/v1/account?q=n_n", h) == ["Plain_Name"]
    assert api_names(client, f"/api/v1/account?f.name.eq={quote(NAMES[3])}", h) == [NAMES[3]]
    page = client.get("/account/?f.name.contains=%25").text
    assert "100% Natural" in page and "100 Natural" not in page
    page = client.get("/account/?q=_").text
    assert "Plain_Name" in page and "Plain Name" not in page


@pytest.mark.parametrize("sort", ["name;drop", "-id,1", "name desc", "name--", "(select 1)",
                                  "name'", "-", "--id", "1", "id;DROP TABLE account", "\x00"])
def test_hostile_sort_is_a_400(client: FlaskClient, accounts: dict[str, int], crm: Context,
                               sort: str) -> None:
    h = token_for(crm)
    q = quote(sort)
    assert client.get(f"/account/?sort={q}").status_code in (200, 400)
    assert client.get(f"/account/export.csv?sort={q}").status_code == 400
    resp = client.get(f"/api/v1/account?sort={q}", headers=h)
    assert resp.status_code == 400, resp.text
    assert count(client, h) == len(NAMES)


def test_tables_intact_after_hostile_requests(client: FlaskClient, accounts: dict[str, int],
                                              crm: Context) -> None:
    h = token_for(crm)
    for text in ("x'); DROP TABLE account; --", "1; DELETE FROM account"):
        client.get(f"/account/?f.name.contains={quote(text)}&sort={quote(text)}")
        client.get(f"/api/v1/account?f.name.in={quote(text)}", headers=h)
    body: Any = client.get("/api/v1/account?limit=100", headers=h).get_json()
    assert sorted(r["name"] for r in body["data"]) == sorted(NAMES)
