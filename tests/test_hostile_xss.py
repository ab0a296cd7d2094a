"""Hostile input: script, HTML and template syntax in every text-like field of the default pack
is shown escaped on every page (list, detail with timeline and related lists, edit form, kanban,
search, lookups, My work, saved views, back office), sanitised in rich text, plain in JSON, and
neutralised for spreadsheets in exports."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from app.context import Context
from app.records import Actor
from tests.apikit import token_for
from tests.webkit import csrf, records_of, user_id

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
TEMPLATE = "{{7*7}}"
PAYLOAD = f"{SCRIPT} {IMG} {TEMPLATE}"
#: what must never appear in an HTML page: the payload's tags as markup
RAW = ("<script>alert(1)", "<img src=x onerror", "<img src=\"x\" onerror", "onerror=alert(1)>")
RICH = (f"<p><b>bold</b> <i>it</i>{SCRIPT}<img src=x onerror=alert(1)>"
        f'<a href="javascript:alert(1)" onclick="alert(1)">link</a>'
        f'<a href="https://example.com/">safe</a> {TEMPLATE}</p>')


def assert_escaped(html: str, where: str) -> None:
    for raw in RAW:
        assert raw not in html, f"{where}: raw {raw!r} in the page"
    assert "javascript:alert" not in html, where


@pytest.fixture
def hostile(web: Flask, crm: Context) -> dict[str, Any]:
    """Records of the default pack with the payload in their text fields."""
    rec = records_of(web)
    me = Actor(user_id(crm, "admin"), "admin", ("admin",))
    acc = rec.create("account", {
        "name": PAYLOAD, "website": f"https://example.com/{SCRIPT}",
        "email": f"{SCRIPT}@example.com", "phone": "021 5555 1234",
        "tags": [PAYLOAD, "=HYPERLINK(\"http://evil\")"], "description": PAYLOAD,
        "billing_street": PAYLOAD, "billing_city": IMG,
        "unified_social_credit_code": None}, me)
    rec.update("account", acc["id"], {"description": PAYLOAD + " again"}, me,
               version=acc["version"])
    con = rec.create("contact", {"last_name": PAYLOAD, "first_name": IMG,
                                 "account": acc["id"]}, me)
    opp = rec.create("opportunity", {"name": PAYLOAD, "account": acc["id"],
                                     "amount": "1000"}, me)
    case = rec.create("case", {"subject": PAYLOAD, "account": acc["id"],
                               "description": RICH}, me)
    note = rec.create("note", {"title": PAYLOAD, "body": RICH, "related_account": acc["id"]}, me)
    act = rec.create("activity", {"subject": PAYLOAD, "assigned_to": me.id,
                                  "related_account": acc["id"],
                                  "description": PAYLOAD}, me)
    return {"account": acc, "contact": con, "opportunity": opp, "case": case, "note": note,
            "activity": act}


def test_rich_text_keeps_formatting_and_drops_scripts(hostile: dict[str, Any]) -> None:
    body = hostile["note"]["body"]
    assert "<b>bold</b>" in body and "<i>it</i>" in body
    assert '<a href="https://example.com/"' in body and ">safe</a>" in body
    assert "<script" not in body and "alert(1)</" not in body
    assert "onerror" not in body and "onclick" not in body and "javascript:" not in body


def test_pages_show_the_payload_escaped(client: FlaskClient, hostile: dict[str, Any]) -> None:
    acc = hostile["account"]["id"]
    pages = [
        "/account/", f"/account/{acc}", f"/account/{acc}/edit", "/contact/",
        f"/contact/{hostile['contact']['id']}", f"/contact/{hostile['contact']['id']}/edit",
        "/opportunity/", "/opportunity/board", f"/opportunity/{hostile['opportunity']['id']}",
        f"/case/{hostile['case']['id']}", f"/case/{hostile['case']['id']}/edit", "/case/",
        f"/note/{hostile['note']['id']}", f"/note/{hostile['note']['id']}/edit",
        f"/activity/{hostile['activity']['id']}", "/activity/", "/",
        "/search?q=script", "/search?q=" + PAYLOAD, "/account/?q=" + PAYLOAD,
        f"/account/?f.name.contains={IMG}",
    ]
    for url in pages:
        resp = client.get(url)
        assert resp.status_code == 200, url
        html = resp.text
        assert_escaped(html, url)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html or "script" in url, url
    detail = client.get(f"/account/{acc}").text
    assert TEMPLATE in detail and "again" in detail  # shown literally, timeline included
    assert "{{7*7}}" in client.get("/account/").text
    case = client.get(f"/case/{hostile['case']['id']}/edit").text
    assert "&lt;b&gt;bold&lt;/b&gt;" in case or "<b>bold</b>" in case


def test_saved_view_name_is_escaped(client: FlaskClient, hostile: dict[str, Any]) -> None:
    token = csrf(client.get("/account/").text)
    resp = client.post("/account/views", data={"name": PAYLOAD, "params": "q=x",
                                               "csrf_token": token}, follow_redirects=True)
    assert resp.status_code == 200
    assert_escaped(resp.text, "saved view flash")
    page = client.get("/account/").text
    assert_escaped(page, "list with saved view")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_lookup_json_and_api_return_plain_json(client: FlaskClient, hostile: dict[str, Any],
                                               crm: Context) -> None:
    found = client.get("/lookup/account?q=script")
    assert found.mimetype == "application/json"
    assert PAYLOAD in [r["text"] for r in (found.get_json() or {})["results"]]
    headers = token_for(crm)
    got = client.get(f"/api/v1/account/{hostile['account']['id']}", headers=headers)
    assert got.mimetype == "application/json" and (got.get_json() or {})["name"] == PAYLOAD
    listed = client.get("/api/v1/account", headers=headers)
    assert listed.mimetype == "application/json"


def test_back_office_escapes_the_payload(client: FlaskClient, hostile: dict[str, Any]) -> None:
    acc = hostile["account"]["id"]
    for url in ("/admin/records/account/", f"/admin/records/account/details/?id={acc}",
                f"/admin/records/account/edit/?id={acc}", "/admin/records/note/",
                f"/admin/records/note/details/?id={hostile['note']['id']}",
                "/admin/records/contact/", "/admin/records/account/?search=script"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert_escaped(resp.text, url)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/admin/records/account/").text


FORMULAS = ("=1+2", "+1+2", "-1+2", "@SUM(A1)", "=HYPERLINK(\"http://evil\")")


@pytest.fixture
def formulas(web: Flask, crm: Context) -> list[int]:
    rec = records_of(web)
    me = Actor(user_id(crm, "admin"), "admin", ("admin",))
    return [rec.create("account", {"name": text, "employees": 5,
                                   "billing_city": text}, me)["id"] for text in FORMULAS]


def test_csv_export_neutralises_formulas(client: FlaskClient, formulas: list[int]) -> None:
    resp = client.get("/account/export.csv?cols=name,billing_city,employees&sort=name")
    assert resp.status_code == 200
    rows = list(csv.reader(io.StringIO(resp.text.lstrip("\ufeff"))))[1:]
    assert len(rows) == len(FORMULAS)
    for name, city, revenue in rows:
        assert name[0] not in "=+-@" and city[0] not in "=+-@", (name, city)
        assert name.lstrip("'") in FORMULAS
        assert "5" in revenue  # numbers stay numbers
    assert "'=1+2" in [r[0] for r in rows]


def test_xlsx_export_keeps_formulas_as_text(client: FlaskClient, formulas: list[int]) -> None:
    resp = client.get("/account/export.xlsx?cols=name,employees&sort=name")
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.data)).active
    assert sheet is not None
    cells = [row for row in sheet.iter_rows(min_row=2)]
    assert len(cells) == len(FORMULAS)
    for name, revenue in cells:
        assert name.data_type == "s", name.value
        assert name.value in FORMULAS
        assert revenue.value == 5
