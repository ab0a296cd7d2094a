"""Each field type gets its widget in generated forms (input types, attributes, input groups,
switches, checkboxes, lookups, the rich text editor, file upload), the YAML layout places
fields in sections and columns, and values of every type survive a save and an edit."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from datetime import time
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.migrate.publish import publish
from app.records import SYSTEM
from tests.factories import meta_of, write_schema
from tests.webkit import csrf, deployment, post_form, records_of, sign_in, user_id, web_app, wrapper

GADGET: dict[str, Any] = {
    "entity": "gadget",
    "label": {"en": "Gadget", "zh": "装置"},
    "title": "name",
    "fields": {
        "name": {"type": "string", "required": True, "max_length": 80,
                 "help": {"en": "What people call it", "zh": "常用名称"}},
        "code": {"type": "autonumber", "format": "G-{000}"},
        "notes": {"type": "text"},
        "body": {"type": "rich_text"},
        "email": {"type": "email"},
        "phone": {"type": "phone"},
        "site": {"type": "url"},
        "price": {"type": "currency", "currency": "USD"},
        "cost": {"type": "currency"},
        "ratio": {"type": "percent"},
        "qty": {"type": "integer", "min": 0},
        "weight": {"type": "decimal", "scale": 3},
        "active": {"type": "boolean"},
        "due": {"type": "date"},
        "at": {"type": "datetime"},
        "alarm": {"type": "time"},
        "kind": {"type": "picklist", "choices": [
            {"value": "big", "label": {"en": "Big", "zh": "大"}},
            {"value": "small", "label": {"en": "Small", "zh": "小"}}]},
        "colors": {"type": "multi_picklist", "choices": [
            {"value": "red", "label": {"en": "Red", "zh": "红"}},
            {"value": "blue", "label": {"en": "Blue", "zh": "蓝"}}]},
        "labels": {"type": "tags", "choices": ["alpha", "beta"]},
        "account": {"type": "lookup", "to": "account"},
        "keeper": {"type": "user"},
        "doc": {"type": "file", "accept": [".txt", "application/pdf"]},
        "data": {"type": "json"},
        "total": {"type": "formula", "expr": "qty * 2", "result": "integer"},
        "locked": {"type": "string", "read_only": True},
        "secret": {"type": "string", "hidden": True},
        "reason": {"type": "string", "visible_when": "kind == 'small'",
                   "required_when": "kind == 'small'"},
    },
    "rules": [{"name": "big_needs_qty", "when": "kind == 'big' and qty == null",
               "message": {"en": "A big gadget needs a quantity", "zh": "大装置需要数量"}}],
    "layout": [
        {"section": {"en": "Basics", "zh": "基本"}, "columns": 3,
         "fields": ["name", "kind", "code", "total", "reason"]},
        {"section": {"en": "Money", "zh": "金额"}, "columns": 1, "fields": ["price", "cost"]},
    ],
}


class Tags(HTMLParser):
    """Start tags with their attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def tags(html: str, tag: str, **attrs: str) -> list[dict[str, str | None]]:
    parser = Tags()
    parser.feed(html)
    return [a for t, a in parser.found
            if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def one(html: str, tag: str, **attrs: str) -> dict[str, str | None]:
    found = tags(html, tag, **attrs)
    assert len(found) == 1, (tag, attrs, found)
    return found[0]




@pytest.fixture
def gadgets(tmp_path: Path, database_url: str) -> Iterator[tuple[Context, Flask]]:
    """The small pack plus `gadget`, an entity with a field of every type."""
    ctx = deployment(tmp_path, database_url, pack="small")
    write_schema(tmp_path / "schemas", "gadget", GADGET)
    publish(ctx.engine, meta_of(tmp_path / "schemas"))
    try:
        yield ctx, web_app(ctx)
    finally:
        ctx.dispose()


@pytest.fixture
def admin(gadgets: tuple[Context, Flask]) -> FlaskClient:
    c = gadgets[1].test_client()
    sign_in(c)
    return c


def test_input_types(admin: FlaskClient) -> None:
    html = admin.get("/gadget/new").text
    expected = {"name": "text", "email": "email", "phone": "tel", "site": "url",
                "qty": "number", "weight": "number", "due": "date", "at": "datetime-local",
                "alarm": "time", "doc": "file", "labels": "text"}
    for name, kind in expected.items():
        assert one(html, "input", name=name)["type"] == kind, name
    for name in ("notes", "data"):
        assert one(html, "textarea", name=name)["id"] == f"f-{name}"
    assert one(html, "input", name="qty")["min"] == "0"
    assert one(html, "input", name="name")["maxlength"] == "80"
    assert one(html, "input", name="doc")["accept"] == ".txt,application/pdf"
    assert 'enctype="multipart/form-data"' in html and "novalidate" in html


def test_required_marks_help_and_labels(admin: FlaskClient) -> None:
    html = admin.get("/gadget/new").text
    name = wrapper(html, "name")
    assert re.search(r'required-mark"[^>]*>\*', name)  # shown: no d-none
    assert "What people call it" in name and 'aria-describedby="f-name-help"' in name
    assert "required-mark d-none" in wrapper(html, "notes")
    assert '<label class="form-label mb-1" for="f-email">Email' in html


def test_money_and_percent_input_groups(admin: FlaskClient) -> None:
    html = admin.get("/gadget/new").text
    price, cost, ratio = wrapper(html, "price"), wrapper(html, "cost"), wrapper(html, "ratio")
    assert re.search(r'class="input-group-text" data-currency-symbol>\$<', price)
    assert re.search(r'class="input-group-text" data-currency-symbol>¥<', cost)  # config CNY
    assert re.search(r'<input[^>]*name="ratio"[^>]*>\s*<span class="input-group-text">%', ratio)
    assert one(html, "input", name="price")["inputmode"] == "decimal"


def test_choices_switch_and_tags(admin: FlaskClient) -> None:
    html = admin.get("/gadget/new").text
    options = re.findall(r'<option[^>]*value="(\w*)"[^>]*>([^<]*)<', wrapper(html, "kind"))
    assert options == [("", ""), ("big", "Big"), ("small", "Small")]
    boxes = tags(html, "input", name="colors")
    assert [(b["type"], b["value"]) for b in boxes] == [("checkbox", "red"), ("checkbox", "blue")]
    assert all("data-multi" in b for b in boxes)
    switch = one(html, "input", name="active")
    assert switch["type"] == "checkbox" and switch["role"] == "switch"
    assert "form-switch" in wrapper(html, "active")
    label_input = one(html, "input", name="labels")
    assert label_input["data-tags"] == "alpha,beta"
    datalist = one(html, "datalist", id=str(label_input["list"]))
    assert datalist is not None
    assert [o["value"] for o in tags(wrapper(html, "labels"), "option")] == ["alpha", "beta"]


def test_choice_labels_follow_the_language(gadgets: tuple[Context, Flask]) -> None:
    c = gadgets[1].test_client()
    sign_in(c)
    c.post("/me/language", data={"locale": "zh_CN", "csrf_token": csrf(c.get("/").text)})
    html = c.get("/gadget/new").text
    assert re.search(r'value="small"[^>]*>小<', wrapper(html, "kind"))
    assert "红" in wrapper(html, "colors") and "常用名称" in wrapper(html, "name")
    assert ">基本<" in html


def test_lookups_and_user_fields(admin: FlaskClient, gadgets: tuple[Context, Flask]) -> None:
    ctx, app = gadgets
    acc = records_of(app).create("account", {"name": "Acme"}, SYSTEM)["id"]
    html = admin.get("/gadget/new").text
    box = wrapper(html, "account")
    assert 'data-lookup-url="/lookup/account"' in box
    hidden = one(box, "input", name="account")
    assert hidden["type"] == "hidden" and "data-lookup-value" in hidden
    text = one(box, "input", id="f-account")
    assert "name" not in text and "data-lookup-input" in text  # the typed text is not sent
    assert 'data-lookup-url="/lookup/_user"' in wrapper(html, "keeper")
    rep = user_id(ctx, "rep")
    rec = records_of(app).create("gadget", {"name": "G", "account": acc, "keeper": rep}, SYSTEM)
    edit = admin.get(f"/gadget/{rec['id']}/edit").text
    assert one(wrapper(edit, "account"), "input", id="f-account")["value"] == "Acme"
    assert one(wrapper(edit, "keeper"), "input", id="f-keeper")["value"] == "Rep (rep)"
    assert one(wrapper(edit, "keeper"), "input", name="keeper")["value"] == str(rep)


def test_rich_text_editor_and_sanitising(admin: FlaskClient,
                                         gadgets: tuple[Context, Flask]) -> None:
    html = admin.get("/gadget/new").text
    box = wrapper(html, "body")
    assert 'contenteditable="true"' in box and 'data-rich-for="f-body"' in box
    commands = [b["data-cmd"] for b in tags(box, "button")]
    assert commands == ["bold", "italic", "insertUnorderedList", "insertOrderedList",
                        "createLink"]
    assert "data-rich-text" in one(box, "textarea", name="body")
    resp = post_form(admin, "/gadget/new", {
        "name": "Rich", "body": '<p onclick="x()">Hi <b>there</b><script>alert(1)</script>'
                                '<a href="javascript:alert(1)">bad</a></p>'})
    assert resp.status_code == 302
    gid = int(resp.headers["Location"].rsplit("/", 1)[1])
    body = records_of(gadgets[1]).get("gadget", gid)["body"]
    assert "<b>there</b>" in body and "script" not in body and "onclick" not in body
    assert "javascript" not in body
    edit = admin.get(f"/gadget/{gid}/edit").text
    assert "<b>there</b>" in wrapper(edit, "body")


def test_every_type_round_trips(admin: FlaskClient, gadgets: tuple[Context, Flask]) -> None:
    ctx, app = gadgets
    acc = records_of(app).create("account", {"name": "Acme"}, SYSTEM)["id"]
    data = {
        "name": "Widget", "notes": "two\nlines", "email": "a@b.example", "phone": "021 5555 0000",
        "site": "https://example.com", "price": "12.50", "cost": "¥1,000", "ratio": "12.5",
        "qty": "4", "weight": "1.25", "active": "y", "due": "2030-01-31",
        "at": "2030-01-31T09:45", "alarm": "07:30", "kind": "big", "labels": "alpha, gamma",
        "account": str(acc), "keeper": str(user_id(ctx, "rep2")),
        "data": '{"a": [1, 2]}'}
    token = csrf(admin.get("/gadget/new").text)
    resp = admin.post("/gadget/new", data={**data, "colors": ["red", "blue"],
                                           "csrf_token": token})
    assert resp.status_code == 302, resp.text
    gid = int(resp.headers["Location"].rsplit("/", 1)[1])
    rec = records_of(app).get("gadget", gid)
    assert rec["price"] == Decimal("12.50") and rec["cost"] == Decimal("1000")
    assert rec["ratio"] == Decimal("12.5") and rec["weight"] == Decimal("1.25")
    assert rec["active"] is True and rec["colors"] == ["red", "blue"]
    assert rec["labels"] == ["alpha", "gamma"] and rec["data"] == {"a": [1, 2]}
    assert rec["alarm"] == time(7, 30) and str(rec["due"]) == "2030-01-31"
    assert rec["at"].strftime("%Y-%m-%d %H:%M") == "2030-01-31 09:45"
    assert rec["total"] == 8 and rec["code"] == "G-001"
    edit = admin.get(f"/gadget/{gid}/edit").text
    assert one(edit, "input", name="at")["value"] == "2030-01-31T09:45"
    assert one(edit, "input", name="alarm")["value"] == "07:30"
    assert one(edit, "input", name="ratio")["value"] == "12.5"
    assert one(edit, "input", name="weight")["value"] == "1.25"
    assert one(edit, "input", name="labels")["value"] == "alpha, gamma"
    assert all("checked" in b for b in tags(edit, "input", name="colors"))
    assert "&#34;a&#34;: [" in wrapper(edit, "data")
    assert "G-001" in wrapper(edit, "code") and ">8<" in wrapper(edit, "total")
    # saving the edit form unchanged changes nothing
    again = admin.post(f"/gadget/{gid}/edit", data={**data, "colors": ["red", "blue"],
                                                   "_version": "1", "csrf_token": token})
    assert again.status_code == 302
    latest = records_of(app).history("gadget", gid)[0]
    assert latest["action"] == "create", latest
    assert records_of(app).get("gadget", gid)["version"] == 1


def test_computed_read_only_and_hidden_fields(admin: FlaskClient,
                                              gadgets: tuple[Context, Flask]) -> None:
    new = admin.get("/gadget/new").text
    for name in ("code", "total", "locked", "secret"):
        assert f'data-field="{name}"' not in new and f'name="{name}"' not in new
    rec = records_of(gadgets[1]).create("gadget", {"name": "G", "qty": 3}, SYSTEM)
    edit = admin.get(f"/gadget/{rec['id']}/edit").text
    for name in ("code", "total", "locked"):
        assert f'data-field="{name}"' in edit and f'name="{name}"' not in edit
    assert 'data-field="secret"' not in edit
    assert ">6<" in wrapper(edit, "total")


def test_layout_sections_and_columns(admin: FlaskClient) -> None:
    html = admin.get("/gadget/new").text
    headers = re.findall(r'<div class="card-header[^"]*">([^<]+)</div>', html)
    assert headers == ["Basics", "Money", "More details"]
    assert wrapper(html, "name").startswith('<div class="col-12 col-md-6 col-lg-4"')
    assert wrapper(html, "price").startswith('<div class="col-12"')
    assert wrapper(html, "email").startswith('<div class="col-12 col-md-6"')
    assert wrapper(html, "notes").startswith('<div class="col-12"')  # text takes a row
    order = re.findall(r'data-field="(\w+)"', html)
    assert order[:4] == ["name", "kind", "reason", "price"]
    assert order[5:8] == ["notes", "body", "email"]


def test_default_pack_layouts(client: FlaskClient) -> None:
    html = client.get("/opportunity/new").text
    headers = re.findall(r'<div class="card-header[^"]*">([^<]+)</div>', html)
    assert headers == ["Opportunity", "Pipeline", "Description"]
    account = client.get("/account/new").text
    assert "Billing address" in account and "Shipping address" in account


def test_file_upload_stored_and_linked(admin: FlaskClient,
                                       gadgets: tuple[Context, Flask]) -> None:
    ctx, app = gadgets
    content = "hello, 世界\n".encode()
    token = csrf(admin.get("/gadget/new").text)
    resp = admin.post("/gadget/new", data={
        "name": "With file", "csrf_token": token,
        "doc": (io.BytesIO(content), "notes 1.txt", "text/plain")},
        content_type="multipart/form-data")
    assert resp.status_code == 302, resp.text
    gid = int(resp.headers["Location"].rsplit("/", 1)[1])
    doc = records_of(app).get("gadget", gid)["doc"]
    key = hashlib.sha256(content).hexdigest()
    assert doc == {"name": "notes 1.txt", "size": len(content), "content_type": "text/plain",
                   "key": key}
    assert (ctx.settings.attachments_dir / key).read_bytes() == content
    edit = admin.get(f"/gadget/{gid}/edit").text
    link = f"/gadget/{gid}/file/doc"
    assert f'href="{link}"' in wrapper(edit, "doc") and "notes 1.txt" in wrapper(edit, "doc")
    with admin.get(link) as got:
        assert got.status_code == 200 and got.data == content
        assert "attachment" in got.headers["Content-Disposition"]
    # saving without a new file keeps it; ticking "remove" clears it
    admin.post(f"/gadget/{gid}/edit", data={"name": "With file", "_version": "1",
                                            "csrf_token": token})
    assert records_of(app).get("gadget", gid)["doc"] == doc
    admin.post(f"/gadget/{gid}/edit", data={"name": "With file", "_version": "1",
                                            "doc__clear": "1", "csrf_token": token})
    assert records_of(app).get("gadget", gid)["doc"] is None
    assert admin.get(link).status_code == 404
    assert admin.get(f"/gadget/{gid}/file/name").status_code == 404


def test_refused_file_is_kept_for_the_next_try(admin: FlaskClient,
                                               gadgets: tuple[Context, Flask]) -> None:
    token = csrf(admin.get("/gadget/new").text)
    bad = admin.post("/gadget/new", data={
        "name": "", "csrf_token": token, "doc": (io.BytesIO(b"abc"), "a.txt", "text/plain")},
        content_type="multipart/form-data")
    assert bad.status_code == 422
    kept = one(bad.text, "input", name="doc__stored")["value"]
    assert kept and "a.txt" in kept
    wrong = admin.post("/gadget/new", data={
        "name": "x", "csrf_token": token, "doc": (io.BytesIO(b"abc"), "a.exe", "text/plain")},
        content_type="multipart/form-data")
    assert wrong.status_code == 422 and "not accepted" in wrapper(wrong.text, "doc")
    ok = admin.post("/gadget/new", data={"name": "Kept", "doc__stored": kept,
                                         "csrf_token": token})
    assert ok.status_code == 302
    gid = int(ok.headers["Location"].rsplit("/", 1)[1])
    assert records_of(gadgets[1]).get("gadget", gid)["doc"]["name"] == "a.txt"
    forged = admin.post("/gadget/new", data={
        "name": "Forged", "csrf_token": token,
        "doc__stored": '{"name": "x", "size": 1, "content_type": "t", "key": "' + "0" * 64 + '"}'})
    fid = int(forged.headers["Location"].rsplit("/", 1)[1])
    assert records_of(gadgets[1]).get("gadget", fid)["doc"] is None


def test_bad_values_beside_fields(admin: FlaskClient) -> None:
    resp = post_form(admin, "/gadget/new", {
        "name": "N", "qty": "-1", "due": "31/31/2030", "email": "nope", "data": "{bad",
        "kind": "huge"})
    assert resp.status_code == 422
    for name in ("qty", "due", "email", "data", "kind"):
        assert "invalid-feedback" in wrapper(resp.text, name), name
    assert one(resp.text, "input", name="email")["value"] == "nope"


def test_form_script_in_a_browser(browser: Any, crm: Context, artifacts: Path) -> None:
    """forms.js: the lookup searches as you type, a conditional field appears with its
    required mark, the rich text editor writes its HTML, and the form saves."""
    from tests.webkit import browser_sign_in, live_server

    app = web_app(crm)
    acc = records_of(app).create("account", {"name": "Acme Browser Co"}, SYSTEM)["id"]
    with live_server(crm) as base:
        page = browser.new_page()
        try:
            browser_sign_in(page, base)
            page.goto(base + "/opportunity/new")
            page.fill("#f-name", "Browser deal")
            page.click("#f-account")
            page.keyboard.type("browser")
            page.wait_for_selector(".crm-lookup-menu.show button")
            page.click(".crm-lookup-menu.show button:has-text('Acme Browser Co')")
            assert page.input_value("input[name=account]") == str(acc)
            assert page.is_hidden("[data-field=loss_reason]")
            page.select_option("#f-stage", "lost")
            page.wait_for_selector("[data-field=loss_reason]:not(.d-none)")
            assert page.is_visible("[data-field=loss_reason] .required-mark")
            page.select_option("#f-loss_reason", "price")
            page.screenshot(path=str(artifacts / "form-opportunity.png"), full_page=True)
            page.click("#save")
            page.wait_for_url(re.compile(r".*/opportunity/\d+$"))
            oid = int(page.url.rsplit("/", 1)[1])
            saved = records_of(app).get("opportunity", oid)
            assert saved["account"] == acc and saved["loss_reason"] == "price"

            page.goto(base + "/case/new")
            page.fill("#f-subject", "Printer on fire")
            assert page.is_hidden("textarea[name=description]")
            editor = page.locator("[data-rich-for=f-description] [contenteditable]")
            editor.click()
            page.click("[data-rich-for=f-description] [data-cmd=bold]")
            page.keyboard.type("Urgent")
            page.click("#save")
            page.wait_for_url(re.compile(r".*/case/\d+$"))
            cid = int(page.url.rsplit("/", 1)[1])
            assert "<b>Urgent</b>" in records_of(app).get("case", cid)["description"]
        finally:
            page.close()


def test_record_level_messages_at_the_top(admin: FlaskClient,
                                          gadgets: tuple[Context, Flask]) -> None:
    resp = post_form(admin, "/gadget/new", {"name": "Big one", "kind": "big"})
    assert resp.status_code == 422
    form_at = resp.text.index('class="crm-form"')
    top = resp.text[resp.text.index('id="form-errors"'):form_at]
    assert "A big gadget needs a quantity" in top
    assert "A big gadget needs a quantity" not in resp.text[form_at:]
    ok = post_form(admin, "/gadget/new", {"name": "Big one", "kind": "big", "qty": "1"})
    assert ok.status_code == 302
