"""Bulk edit and bulk delete from a list: the field's own widget, all or nothing (a refused
record is named and nothing changes), a confirmation before deleting, records in the recycle
bin, CSRF on every POST."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.records import Records
from tests.webkit import csrf, records_of


@pytest.fixture
def rec(web: Flask) -> Records:
    return records_of(web)


@pytest.fixture
def deals(rec: Records) -> list[dict[str, Any]]:
    acc = rec.create("account", {"name": "Acme"})
    return [rec.create("opportunity", {"name": name, "account": acc["id"], "amount": 100,
                                       "close_date": close})
            for name, close in (("One", "2026-01-01"), ("Two", None), ("Three", "2026-02-02"))]


def token(client: FlaskClient) -> str:
    return csrf(client.get("/opportunity/").text)


def test_bulk_edit_shows_the_fields_widget(client: FlaskClient, deals: list[dict[str, Any]]
                                           ) -> None:
    ids = [d["id"] for d in deals[:2]]
    resp = client.post("/opportunity/bulk/edit", data={
        "csrf_token": token(client), "ids": ids, "field": "stage",
        "next": "/opportunity/?sort=name"})
    assert resp.status_code == 200
    html = resp.text
    assert re.search(r'<select[^>]*name="value"', html)
    assert re.search(r'<option [^>]*value="won">Won</option>', html)
    assert re.findall(r'<li><a href="/opportunity/\d+">([^<]+)</a></li>', html) == [
        "One", "Two"]
    date_form = client.post("/opportunity/bulk/edit", data={
        "csrf_token": token(client), "ids": ids, "field": "close_date"}).text
    assert re.search(r'<input[^>]*type="date"[^>]*name="value"|<input[^>]*name="value"'
                     r'[^>]*type="date"', date_form)
    lookup = client.post("/opportunity/bulk/edit", data={
        "csrf_token": token(client), "ids": ids, "field": "account"}).text
    assert 'data-lookup="account"' in lookup


def test_bulk_edit_changes_every_selected_record(client: FlaskClient, rec: Records,
                                                 deals: list[dict[str, Any]]) -> None:
    ids = [deals[0]["id"], deals[2]["id"]]
    resp = client.post("/opportunity/bulk/edit", data={
        "csrf_token": token(client), "ids": ids, "field": "stage", "value": "negotiation",
        "apply": "1", "next": "/opportunity/?sort=name"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/opportunity/?sort=name"
    assert [rec.get("opportunity", d["id"])["stage"] for d in deals] == [
        "negotiation", "prospecting", "negotiation"]
    html = client.get("/opportunity/?sort=name").text
    assert "Stage was changed on 2 records." in html
    assert rec.history("opportunity", ids[0])[0]["changes"] == {
        "stage": ["prospecting", "negotiation"]}


def test_bulk_edit_is_all_or_nothing_and_names_the_refused_record(
        client: FlaskClient, rec: Records, deals: list[dict[str, Any]]) -> None:
    ids = [d["id"] for d in deals]  # "Two" has no close date: a won deal needs one
    resp = client.post("/opportunity/bulk/edit", data={
        "csrf_token": token(client), "ids": ids, "field": "stage", "value": "won",
        "apply": "1"})
    assert resp.status_code == 422
    errors = re.search(r'id="bulk-errors">(.*?)</div>', resp.text, re.S)
    assert errors and "Two: A won deal needs a close date" in errors.group(1)
    assert [rec.get("opportunity", d["id"])["stage"] for d in deals] == ["prospecting"] * 3
    assert [rec.get("opportunity", d["id"])["version"] for d in deals] == [1, 1, 1]


def test_bulk_edit_refuses_bad_values_beside_the_field(client: FlaskClient, rec: Records,
                                                       deals: list[dict[str, Any]]) -> None:
    resp = client.post("/opportunity/bulk/edit", data={
        "csrf_token": token(client), "ids": [deals[0]["id"]], "field": "stage",
        "value": "nonsense", "apply": "1"})
    assert resp.status_code == 422 and "invalid-feedback" in resp.text
    assert rec.get("opportunity", deals[0]["id"])["stage"] == "prospecting"


def test_bulk_edit_in_chinese(client: FlaskClient, rec: Records,
                              deals: list[dict[str, Any]]) -> None:
    client.post("/me/language", data={"locale": "zh_CN", "csrf_token": token(client)})
    resp = client.post("/opportunity/bulk/edit", data={
        "csrf_token": token(client), "ids": [d["id"] for d in deals], "field": "stage",
        "value": "won", "apply": "1"})
    assert resp.status_code == 422 and "Two: 赢单必须填写成交日期" in resp.text


def test_bulk_actions_need_csrf_records_and_a_field(client: FlaskClient, rec: Records,
                                                    deals: list[dict[str, Any]]) -> None:
    ids = [deals[0]["id"]]
    no_csrf = client.post("/opportunity/bulk/delete", data={"ids": ids, "confirm": "yes"})
    assert no_csrf.status_code == 400
    assert client.post("/opportunity/bulk/edit", data={
        "ids": ids, "field": "stage", "value": "won", "apply": "1"}).status_code == 400
    assert rec.get("opportunity", ids[0])["stage"] == "prospecting"
    none = client.post("/opportunity/bulk/delete", data={"csrf_token": token(client)})
    assert none.status_code == 302
    assert "Select at least one record first." in client.get(none.headers["Location"]).text
    no_field = client.post("/opportunity/bulk/edit", data={
        "csrf_token": token(client), "ids": ids, "field": "expected_revenue"})
    assert no_field.status_code == 302  # a formula cannot be set
    bad = client.post("/opportunity/bulk/delete", data={"csrf_token": token(client),
                                                        "ids": ["x"]})
    assert bad.status_code == 400
    away = client.post("/opportunity/bulk/delete", data={
        "csrf_token": token(client), "ids": ids, "confirm": "yes",
        "next": "https://evil.example/"})
    assert away.headers["Location"] == "/opportunity/"


def test_bulk_delete_asks_first_then_moves_records_to_the_bin(
        client: FlaskClient, rec: Records, deals: list[dict[str, Any]]) -> None:
    ids = [deals[0]["id"], deals[1]["id"]]
    ask = client.post("/opportunity/bulk/delete", data={
        "csrf_token": token(client), "ids": ids, "next": "/opportunity/?q=o"})
    assert ask.status_code == 200
    assert "Delete 2 records?" in ask.text
    assert re.findall(r"<li>([^<]+)</li>", ask.text.split('id="delete-list"')[1])[:2] == [
        "One", "Two"]
    assert [rec.get("opportunity", i)["deleted_at"] for i in ids] == [None, None]
    done = client.post("/opportunity/bulk/delete", data={
        "csrf_token": csrf(ask.text), "ids": ids, "confirm": "yes",
        "next": "/opportunity/?q=o"})
    assert done.status_code == 302 and done.headers["Location"] == "/opportunity/?q=o"
    assert sorted(r["id"] for r in rec.recycle_bin("opportunity")) == ids
    html = client.get("/opportunity/").text
    assert "2 records were moved to the recycle bin." in html
    assert re.findall(r'crm-title">([^<]+)<', html) == ["Three"]


def test_bulk_delete_of_a_missing_record_deletes_nothing(
        client: FlaskClient, rec: Records, deals: list[dict[str, Any]]) -> None:
    resp = client.post("/opportunity/bulk/delete", data={
        "csrf_token": token(client), "ids": [deals[0]["id"], 9999], "confirm": "yes"})
    assert resp.status_code == 302
    assert "#9999" in client.get(resp.headers["Location"]).text
    assert rec.recycle_bin("opportunity") == []
