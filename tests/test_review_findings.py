"""Review of the access-control change (issue 5): each test proves one leak or bug found in
review (and now fixed), on the default pack's web app and API or on the records service."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.access.explain import explain
from app.access.shares import share
from app.context import Context
from app.records import Actor, Records
from app.records.change import SYSTEM
from app.records.errors import Forbidden, NotFound, RecordError
from app.web.attachments import store
from tests.apikit import token_for
from tests.factories import make_user, service, write_schema
from tests.webkit import csrf, records_of, sign_in, user_id


def client_for(web: Flask, who: str) -> FlaskClient:
    c = web.test_client()
    sign_in(c, who)
    return c


def actor(crm: Context, who: str, role: str = "sales_rep") -> Actor:
    return Actor(user_id(crm, who), who, (role,))


def token_of(c: FlaskClient, url: str) -> str:
    return csrf(c.get(url).text)


# --- attachments -------------------------------------------------------------------------------
def test_attachment_upload_needs_edit_access(web: Flask, crm: Context) -> None:
    """A rep may read every account but edit only their own: they may not attach files to
    another rep's account (nor remove its attachments)."""
    rec = records_of(web)
    acc = rec.create("account", {"name": "Rep2 account", "owner": user_id(crm, "rep2")})["id"]
    mine = rec.create("account", {"name": "Rep account", "owner": user_id(crm, "rep")})["id"]
    with web.app_context():
        kept = store().save("account", acc, "contract.txt", b"secret terms")
    c = client_for(web, "rep")
    token = token_of(c, f"/account/{mine}")
    resp = c.post(f"/account/{acc}/attachments",
                  data={"csrf_token": token, "file": (io.BytesIO(b"junk"), "junk.txt")},
                  content_type="multipart/form-data")
    assert resp.status_code == 403
    with web.app_context():
        assert [a.name for a in store().list("account", acc)] == ["contract.txt"]
    gone = c.post(f"/account/{acc}/attachments/{kept.id}/delete", data={"csrf_token": token})
    assert gone.status_code == 403
    with web.app_context():
        assert [a.name for a in store().list("account", acc)] == ["contract.txt"]
    # on their own account both work
    ok = c.post(f"/account/{mine}/attachments",
                data={"csrf_token": token, "file": (io.BytesIO(b"fine"), "fine.txt")},
                content_type="multipart/form-data")
    assert ok.status_code == 303


# --- owner changes -----------------------------------------------------------------------------
def test_an_edit_share_does_not_let_one_take_the_record(web: Flask, crm: Context) -> None:
    """rep2 shares a deal with rep for edit: rep may change it, but not make it theirs (which
    would give them delete, and keep it from rep2, whose share could no longer be revoked)."""
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme"})["id"]
    deal = rec.create("opportunity", {"name": "Shared deal", "account": acc,
                                      "owner": user_id(crm, "rep2")})["id"]
    share(rec, "opportunity", deal, SYSTEM, user_id=user_id(crm, "rep"), access="edit")
    rep = actor(crm, "rep")
    as_rep = Records(rec.engine, rec.models, actor=rep)
    as_rep.update("opportunity", deal, {"name": "Shared deal (edited)"}, rep)  # allowed
    with pytest.raises(RecordError) as err:
        as_rep.update("opportunity", deal, {"owner": rep.id}, rep)
    assert err.value.status in (403, 422)
    assert rec.get("opportunity", deal)["owner_id"] == user_id(crm, "rep2")
    with pytest.raises((Forbidden, NotFound)):
        as_rep.delete("opportunity", deal, rep)
    # the owner may still give it away
    rep2 = actor(crm, "rep2")
    Records(rec.engine, rec.models, actor=rep2).update("opportunity", deal, {"owner": rep.id},
                                                       rep2)
    assert rec.get("opportunity", deal)["owner_id"] == rep.id


# --- roll-ups of hidden fields -----------------------------------------------------------------
def rollup_pack(folder: Path) -> Path:
    write_schema(folder, "account", {"entity": "account", "title": "name", "fields": {
        "name": {"type": "string", "required": True},
        "margin_total": {"type": "rollup", "entity": "deal", "via": "account", "op": "sum",
                         "field": "margin"},
        "high_margin_deals": {"type": "rollup", "entity": "deal", "via": "account",
                              "op": "count", "where": "margin > 40"},
        "deals": {"type": "rollup", "entity": "deal", "via": "account", "op": "count"}},
        "permissions": {"sales_rep": {"read": "all"}}})
    write_schema(folder, "deal", {"entity": "deal", "title": "name", "fields": {
        "name": {"type": "string", "required": True},
        "account": {"type": "lookup", "to": "account"},
        "margin": {"type": "percent"}},
        "permissions": {"sales_rep": {"hidden": ["margin"]}}})
    write_schema(folder, "_access", {"access": {"roles": {"sales_rep": {"default": {
        "create": True, "read": "own", "edit": "own", "delete": "own"}}}}})
    return folder


def test_a_rollup_of_a_hidden_field_is_hidden(engine: sa.Engine, tmp_path: Path) -> None:
    """Margin is hidden from reps on deals: a roll-up on accounts that sums it, or counts
    deals by it, would show it (one deal: its exact margin)."""
    rec: Records = service(engine, rollup_pack(tmp_path / "schemas"))
    rep = make_user(engine, "rep", ("sales_rep",))
    acc = rec.create("account", {"name": "Acme"})["id"]
    rec.create("deal", {"name": "D", "account": acc, "margin": 42, "owner": rep.id})
    as_rep = Records(engine, rec.models, actor=rep)
    seen = as_rep.get("account", acc)
    assert "margin_total" not in seen and "high_margin_deals" not in seen
    assert seen["deals"] == 1  # a roll-up that reads no hidden field stays
    assert rec.get("account", acc)["margin_total"] == 42
    verdict = explain(rec, "rep", "account", "margin_total").field_verdict
    assert verdict is not None and verdict.verdict == "hidden"
    assert "roll-up of margin of deal" in str(verdict.as_dict())


# --- the API's description ---------------------------------------------------------------------
def test_openapi_leaves_out_what_the_caller_may_not_see(web: Flask, crm: Context) -> None:
    """/api/v1/meta leaves the margin out for a rep; the OpenAPI document must too (it named
    the hidden field and its type to everyone)."""
    api = web.test_client()
    rep = api.get("/api/v1/openapi.json", headers=token_for(crm, "rep")).get_json()
    props = rep["components"]["schemas"]["Opportunity"]["properties"]
    assert "amount" in props and "margin" not in props
    admin = api.get("/api/v1/openapi.json", headers=token_for(crm, "admin")).get_json()
    assert "margin" in admin["components"]["schemas"]["Opportunity"]["properties"]
    again = api.get("/api/v1/openapi.json", headers=token_for(crm, "rep")).get_json()
    assert "margin" not in again["components"]["schemas"]["Opportunity"]["properties"]


# --- names of hidden fields ----------------------------------------------------------------------
def test_form_visibility_answer_names_no_hidden_field(web: Flask, crm: Context) -> None:
    """The edit form asks which fields its values show: the answer listed every field of the
    entity, the margin (hidden from reps) included."""
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme"})["id"]
    deal = rec.create("opportunity", {"name": "Mine", "account": acc,
                                      "owner": user_id(crm, "rep")})["id"]
    c = client_for(web, "rep")
    token = token_of(c, f"/opportunity/{deal}/edit")
    resp = c.post("/opportunity/visibility", json={"_id": deal},
                  headers={"X-CSRFToken": token})
    assert resp.status_code == 200
    body = resp.get_json()
    assert "name" in body["visible"] and "margin" not in body["visible"]
    assert "margin" not in body["required"]


def test_restoring_a_live_record_one_may_not_see_says_not_found(web: Flask,
                                                                crm: Context) -> None:
    """Restore answered "not in the recycle bin" for another rep's live deal (and "does not
    exist" for an unknown id): the difference told whether the record exists."""
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme"})["id"]
    theirs = rec.create("opportunity", {"name": "Theirs", "account": acc,
                                        "owner": user_id(crm, "rep2")})["id"]
    rep = actor(crm, "rep")
    as_rep = Records(rec.engine, rec.models, actor=rep)
    with pytest.raises(NotFound):
        as_rep.restore("opportunity", theirs, rep)


# --- conflicts ---------------------------------------------------------------------------------
def test_conflict_page_and_api_show_no_hidden_value(web: Flask, crm: Context) -> None:
    """The manager changes the margin of a rep's deal while the rep edits it: the rep's 409
    (form and API) shows the record as it is now, without its margin."""
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme"})["id"]
    deal = rec.create("opportunity", {"name": "Deal", "account": acc, "stage": "prospecting",
                                      "margin": 17, "owner": user_id(crm, "rep")})["id"]
    c = client_for(web, "rep")
    html = c.get(f"/opportunity/{deal}/edit").text
    token = csrf(html)
    rec.update("opportunity", deal, {"margin": 87, "name": "Deal (renamed)"})
    resp = c.post(f"/opportunity/{deal}/edit", data={
        "name": "Rep's name", "account": str(acc), "stage": "prospecting", "_version": "1",
        "csrf_token": token})
    assert resp.status_code == 409 and "renamed" in resp.text
    assert "87" not in resp.text and "Margin" not in resp.text
    api = web.test_client().patch(f"/api/v1/opportunity/{deal}", json={"name": "x"},
                                  headers={**token_for(crm, "rep"), "If-Match": '"1"'})
    assert api.status_code == 412
    assert "margin" not in api.get_json()["error"]["current"]


# --- master-detail children ----------------------------------------------------------------------
def test_deleting_own_quote_with_a_line_added_by_the_manager(web: Flask, crm: Context) -> None:
    """A line the admin added to the rep's quote is owned by the admin: deleting the quote (a
    master-detail parent the rep may delete) must not fail on it with a 404 about a line."""
    rec = records_of(web)
    rep = actor(crm, "rep")
    quote = rec.create("quote", {"name": "Q", "owner": rep.id})["id"]
    rec.create("quote_line", {"quote": quote, "description": "by admin", "unit_price": 5})
    as_rep = Records(rec.engine, rec.models, actor=rep)
    as_rep.delete("quote", quote, rep)
    assert rec.get("quote", quote, deleted=True)["deleted_at"] is not None


# --- titles of records out of scope ------------------------------------------------------------
def test_new_form_prefill_shows_no_title_of_a_record_out_of_scope(web: Flask,
                                                                  crm: Context) -> None:
    """`/activity/new?related_opportunity=ID` showed the title of any deal, by id: a rep could
    read the names of every other rep's deals one id after another."""
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme"})["id"]
    theirs = rec.create("opportunity", {"name": "Secret merger deal", "account": acc,
                                        "owner": user_id(crm, "rep2")})["id"]
    mine = rec.create("opportunity", {"name": "My own deal", "account": acc,
                                      "owner": user_id(crm, "rep")})["id"]
    c = client_for(web, "rep")
    assert "My own deal" in c.get(f"/activity/new?related_opportunity={mine}").text
    page = c.get(f"/activity/new?related_opportunity={theirs}")
    assert "Secret merger deal" not in page.text
    token = csrf(page.text)
    posted = c.post("/activity/new", data={"csrf_token": token, "subject": "",
                                           "related_opportunity": str(theirs)})
    assert posted.status_code == 422 and "Secret merger deal" not in posted.text


def test_list_filter_on_a_lookup_shows_no_title_out_of_scope(web: Flask, crm: Context) -> None:
    """`/activity/?f.related_opportunity.eq=ID` named the deal (filter widget and chip)."""
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme"})["id"]
    theirs = rec.create("opportunity", {"name": "Secret merger deal", "account": acc,
                                        "owner": user_id(crm, "rep2")})["id"]
    mine = rec.create("opportunity", {"name": "My own deal", "account": acc,
                                      "owner": user_id(crm, "rep")})["id"]
    c = client_for(web, "rep")
    assert "My own deal" in c.get(f"/activity/?f.related_opportunity.eq={mine}").text
    page = c.get(f"/activity/?f.related_opportunity.eq={theirs}")
    assert page.status_code == 200 and "Secret merger deal" not in page.text
