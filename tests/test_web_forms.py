"""Generated create and edit forms of the default pack: round trips for account, contact and
opportunity, prefilled fields, errors beside the fields (422, also in Chinese), conditional
fields and the visibility endpoint."""

from __future__ import annotations

import re
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient

from app.i18n import _, use_locale
from app.records import SYSTEM
from tests.webkit import csrf, post_form, records_of, sign_in, wrapper


def input_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no input {name}"
    return match.group(1)


def new_account(app: Flask, name: str = "Acme") -> int:
    return int(records_of(app).create("account", {"name": name}, SYSTEM)["id"])


def test_forms_need_sign_in(web: Flask) -> None:
    resp = web.test_client().get("/account/new")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_new_account_form_and_create(client: FlaskClient, web: Flask) -> None:
    page = client.get("/account/new")
    assert page.status_code == 200
    html = page.text
    assert 'action="/account/new"' in html and 'enctype="multipart/form-data"' in html
    assert 'name="account_number"' not in html  # an autonumber is not typed
    assert 'name="open_opportunities"' not in html and 'name="_version"' not in html
    assert re.search(r'<option[^>]* selected value="prospect"', wrapper(html, "type"))
    assert 'href="/account/" id="cancel"' in html
    resp = post_form(client, "/account/new", {
        "name": "Acme Trading", "type": "customer", "industry": "technology",
        "website": "https://acme.example", "phone": "+86 21 5555 0000",
        "email": "info@acme.example", "employees": "120", "annual_revenue": "1,234,567.50",
        "vip": "y", "tags": "key_account, strategic", "billing_country": "CN",
        "description": "Line one\nline two"})
    assert resp.status_code == 302
    rid = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert resp.headers["Location"].endswith(f"/account/{rid}")
    rec = records_of(web).get("account", rid)
    assert rec["name"] == "Acme Trading" and rec["type"] == "customer"
    assert rec["annual_revenue"] == Decimal("1234567.50") and rec["employees"] == 120
    assert rec["vip"] is True and rec["tags"] == ["key_account", "strategic"]
    assert rec["description"] == "Line one\nline two"
    assert rec["account_number"].startswith("ACC-")
    with client.session_transaction() as sess:
        flashes = sess.get("_flashes", [])
    assert any("Acme Trading" in message for _cat, message in flashes)


def test_edit_account_round_trip(client: FlaskClient, web: Flask) -> None:
    rec = records_of(web).create("account", {
        "name": "Beta Ltd", "vip": True, "tags": ["smb", "listed"], "employees": 7,
        "annual_revenue": "99.5"}, SYSTEM)
    html = client.get(f"/account/{rec['id']}/edit").text
    assert input_value(html, "name") == "Beta Ltd"
    assert input_value(html, "_version") == "1"
    assert input_value(html, "tags") == "smb, listed"
    assert input_value(html, "annual_revenue") == "99.50"
    assert re.search(r'<input[^>]*checked[^>]*name="vip"', html)
    number = wrapper(html, "account_number")  # computed: shown, not an input
    assert rec["account_number"] in number and "<input" not in number
    assert 'name="account_number"' not in html
    assert f'href="/account/{rec["id"]}" id="cancel"' in html
    resp = post_form(client, f"/account/{rec['id']}/edit", {
        "name": "Beta Holdings", "tags": "smb", "employees": "8", "annual_revenue": "100",
        "_version": "1", "type": "partner"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/account/{rec['id']}")
    after = records_of(web).get("account", rec["id"])
    assert after["name"] == "Beta Holdings" and after["tags"] == ["smb"]
    assert after["vip"] is False  # the box was not ticked
    assert after["employees"] == 8 and after["version"] == 2
    assert after["account_number"] == rec["account_number"]


def test_contact_with_lookup_and_prefill(client: FlaskClient, web: Flask) -> None:
    acc = new_account(web, "Gamma Corp")
    html = client.get(f"/contact/new?account={acc}&next=/account/{acc}").text
    box = wrapper(html, "account")
    assert f'name="account" value="{acc}"' in box and 'value="Gamma Corp"' in box
    assert 'data-lookup-url="/lookup/account"' in box
    assert f'href="/account/{acc}" id="cancel"' in html
    assert 'name="full_name"' not in html
    resp = post_form(client, f"/contact/new?account={acc}", {
        "first_name": "Wei", "last_name": "Zhang", "account": str(acc),
        "birthday": "1990-04-01", "email": "wei@gamma.example", "do_not_call": "y"})
    assert resp.status_code == 302
    cid = int(resp.headers["Location"].rsplit("/", 1)[1])
    rec = records_of(web).get("contact", cid)
    assert rec["account"] == acc and str(rec["birthday"]) == "1990-04-01"
    assert rec["do_not_call"] is True and rec["full_name"] == "Wei Zhang"
    edit = client.get(f"/contact/{cid}/edit").text
    assert "Wei Zhang" in wrapper(edit, "full_name")
    assert 'value="Gamma Corp"' in wrapper(edit, "account")
    assert 'value="1990-04-01"' in wrapper(edit, "birthday")


def test_opportunity_create_and_edit(client: FlaskClient, web: Flask) -> None:
    acc = new_account(web)
    resp = post_form(client, "/opportunity/new", {
        "name": "Big deal", "account": str(acc), "stage": "proposal", "amount": "50000",
        "probability": "60", "close_date": "2030-06-30"})
    assert resp.status_code == 302
    oid = int(resp.headers["Location"].rsplit("/", 1)[1])
    rec = records_of(web).get("opportunity", oid)
    assert rec["expected_revenue"] == Decimal("30000")
    html = client.get(f"/opportunity/{oid}/edit").text
    assert input_value(html, "probability") == "60"
    assert input_value(html, "amount") == "50000.00"
    assert "30,000" in wrapper(html, "expected_revenue")
    resp = post_form(client, f"/opportunity/{oid}/edit", {
        "name": "Big deal", "account": str(acc), "stage": "negotiation", "amount": "55000",
        "probability": "80", "close_date": "2030-06-30", "_version": "1"})
    assert resp.status_code == 302
    assert records_of(web).get("opportunity", oid)["stage"] == "negotiation"


def test_errors_beside_fields_and_nothing_saved(client: FlaskClient, web: Flask) -> None:
    acc = new_account(web)
    resp = post_form(client, "/opportunity/new", {
        "name": "", "account": str(acc), "stage": "won", "amount": "abc", "probability": "5"})
    assert resp.status_code == 422
    html = resp.text
    name = wrapper(html, "name")
    assert "is-invalid" in name and "Opportunity name is required." in name
    assert "invalid-feedback" in wrapper(html, "amount") and "abc" in wrapper(html, "amount")
    assert "A won deal needs a close date" in wrapper(html, "close_date")
    assert input_value(html, "probability") == "5"  # what was typed stays
    assert 'id="form-errors"' in html
    rows = records_of(web).select("opportunity")
    with web.extensions["crm"].ctx.engine.connect() as conn:
        assert conn.execute(rows).all() == []


def test_lookup_problems_and_master_detail(client: FlaskClient, web: Flask) -> None:
    bad = post_form(client, "/account/new", {"name": "Y", "parent": "999"})
    assert bad.status_code == 422
    assert "there is no Account #999" in wrapper(bad.text, "parent")
    assert 'value="#999"' in wrapper(bad.text, "parent")
    line = client.get("/quote_line/new").text
    quote = wrapper(line, "quote")
    assert 'data-lookup-url="/lookup/quote"' in quote
    assert re.search(r'required-mark"[^>]*>\*', quote)  # a master is always required


def test_bad_prefill_shows_beside_the_field(client: FlaskClient) -> None:
    resp = client.get("/account/new?employees=lots&name=Pre")
    assert resp.status_code == 200
    assert "is-invalid" in wrapper(resp.text, "employees")
    assert input_value(resp.text, "name") == "Pre"


def test_unknown_entity_record_and_bad_version(client: FlaskClient, web: Flask) -> None:
    assert client.get("/nothing/new").status_code == 404
    assert client.get("/account/12345/edit").status_code == 404
    acc = new_account(web)
    resp = post_form(client, f"/account/{acc}/edit", {"name": "Z", "_version": "x"})
    assert resp.status_code == 400
    assert records_of(web).get("account", acc)["name"] == "Acme"


def test_chinese_messages(client: FlaskClient, web: Flask) -> None:
    token = csrf(client.get("/").text)
    client.post("/me/language", data={"locale": "zh_CN", "csrf_token": token})
    acc = new_account(web)
    page = client.get("/opportunity/new").text
    assert "商机名称" in wrapper(page, "name") and "销售阶段" in wrapper(page, "stage")
    resp = post_form(client, "/opportunity/new", {
        "name": "", "account": str(acc), "stage": "won", "amount": "10"})
    assert resp.status_code == 422
    with use_locale("zh_CN"):
        required = _("%(field)s is required.", field="商机名称")
    assert "商机名称" in required
    assert required in wrapper(resp.text, "name")
    assert "赢单必须填写成交日期" in wrapper(resp.text, "close_date")


def test_conditional_field_rendered_and_required(client: FlaskClient, web: Flask) -> None:
    acc = new_account(web)
    page = client.get("/opportunity/new").text
    assert 'data-conditional="1"' in page
    assert "d-none" in wrapper(page, "loss_reason").split(">", 1)[0]
    resp = post_form(client, "/opportunity/new", {
        "name": "Lost one", "account": str(acc), "stage": "lost"})
    assert resp.status_code == 422
    box = wrapper(resp.text, "loss_reason")
    assert "d-none" not in box.split(">", 1)[0]  # shown: the stage is lost
    assert "Loss reason is required." in box
    assert 'required-mark"' in box  # the required mark shows


def test_visibility_endpoint(client: FlaskClient, web: Flask) -> None:
    token = csrf(client.get("/opportunity/new").text)
    headers = {"X-CSRFToken": token}
    lost = client.post("/opportunity/visibility", json={"stage": "lost"}, headers=headers)
    assert lost.status_code == 200
    assert lost.json["visible"]["loss_reason"] is True
    assert lost.json["required"]["loss_reason"] is True
    assert lost.json["required"]["name"] is True and lost.json["required"]["amount"] is False
    won = client.post("/opportunity/visibility", json={"stage": "won"}, headers=headers).json
    assert won["visible"]["loss_reason"] is False and won["required"]["loss_reason"] is False
    case = client.post("/case/visibility", json={"status": "resolved"}, headers=headers).json
    assert case["required"]["resolution"] is True
    assert client.post("/opportunity/visibility", json=["x"], headers=headers).status_code == 400
    assert client.post("/opportunity/visibility", json={"stage": "lost"}).status_code == 400
    assert client.post("/nothing/visibility", json={}, headers=headers).status_code == 404


def test_visibility_uses_the_stored_record(client: FlaskClient, web: Flask) -> None:
    acc = new_account(web)
    opp = records_of(web).create("opportunity", {
        "name": "L", "account": acc, "stage": "lost", "loss_reason": "price"}, SYSTEM)
    html = client.get(f"/opportunity/{opp['id']}/edit").text
    assert "d-none" not in wrapper(html, "loss_reason").split(">", 1)[0]
    token = csrf(html)
    resp = client.post("/opportunity/visibility", json={"_id": opp["id"]},
                       headers={"X-CSRFToken": token})
    assert resp.json["visible"]["loss_reason"] is True


def test_rep_can_use_forms(web: Flask) -> None:
    c = web.test_client()
    sign_in(c, "rep")
    resp = post_form(c, "/account/new", {"name": "Rep's account"})
    assert resp.status_code == 302
