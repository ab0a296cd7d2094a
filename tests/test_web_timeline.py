"""The activity timeline of a detail page: field changes with old and new values (labels, money,
lookup titles, in the user's language), linked activities and notes, attachments, deletes and
restores, newest first, with buttons that prefill a new activity or note."""

from __future__ import annotations

import io
import re

from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.records import Actor
from tests.webkit import csrf, records_of, user_id


def admin(ctx: Context) -> Actor:
    return Actor(user_id(ctx, "admin"), "admin", ("admin",))


def timeline_of(html: str) -> str:
    return html.split('id="timeline"')[1].split("</section>")[0]


def events_of(html: str) -> list[str]:
    return re.findall(r'data-event="([a-z_]+)"', timeline_of(html))


def test_a_field_change_shows_old_and_new_values(client: FlaskClient, web: Flask,
                                                 crm: Context) -> None:
    rs = records_of(web)
    who = admin(crm)
    a1 = rs.create("account", {"name": "First Co"}, who)
    a2 = rs.create("account", {"name": "Second Co"}, who)
    rep = Actor(user_id(crm, "rep"), "rep", ("sales_rep",))
    opp = rs.create("opportunity", {"name": "Deal", "account": a1["id"], "amount": "1000",
                                    "owner": rep.id}, who)  # the rep's deal: they may edit it
    rs.update("opportunity", opp["id"], {"stage": "negotiation", "amount": "2500.5",
                                         "account": a2["id"]}, rep, version=opp["version"])
    html = client.get(f"/opportunity/{opp['id']}").text
    assert events_of(html) == ["update", "create"]
    change = timeline_of(html).split('data-event="update"')[1].split('data-event="create"')[0]
    assert "Rep" in change  # who, by full name
    stage = change.split("Stage</span>")[1][:400]
    assert "Prospecting" in stage.split("tl-new")[0] and "Negotiation" in stage.split("tl-new")[1]
    amount = change.split("Amount</span>")[1][:400]
    assert "CN¥1,000.00" in amount and "CN¥2,500.50" in amount
    account = change.split("Account</span>")[1][:400]
    assert "First Co" in account and "Second Co" in account

    token = csrf(html)
    client.post("/me/language", data={"locale": "zh_CN", "csrf_token": token})
    zh = timeline_of(client.get(f"/opportunity/{opp['id']}").text)
    assert "销售阶段" in zh and "初步接洽" in zh and "商务谈判" in zh
    assert "¥2,500.50" in zh


def test_owner_change_names_the_users(client: FlaskClient, web: Flask, crm: Context) -> None:
    rs = records_of(web)
    acc = rs.create("account", {"name": "Owned"}, admin(crm))
    rs.update("account", acc["id"], {"owner": user_id(crm, "rep2")}, admin(crm))
    change = timeline_of(client.get(f"/account/{acc['id']}").text).split(
        'data-event="update"')[1]
    assert "Owner" in change and "Admin" in change and "Rep2" in change


def test_activities_notes_and_attachments_in_time_order(client: FlaskClient, web: Flask,
                                                        crm: Context) -> None:
    rs = records_of(web)
    who = admin(crm)
    acc = rs.create("account", {"name": "Timeline Co"}, who)
    rs.create("activity", {"subject": "Called the buyer", "kind": "call", "status": "done",
                           "related_account": acc["id"]}, who)
    rs.create("note", {"title": "Budget approved", "body": "<p>Q3 <b>budget</b></p>",
                       "related_account": acc["id"]}, who)
    other = rs.create("account", {"name": "Elsewhere"}, who)
    rs.create("note", {"title": "Unrelated note", "related_account": other["id"]}, who)
    html = client.get(f"/account/{acc['id']}").text
    token = csrf(html)
    client.post(f"/account/{acc['id']}/attachments", data={
        "csrf_token": token, "file": (io.BytesIO(b"%PDF-1.4"), "offer.pdf")},
        content_type="multipart/form-data")
    html = client.get(f"/account/{acc['id']}").text
    assert events_of(html) == ["attachment", "note", "activity", "create"]
    tl = timeline_of(html)
    assert "Called the buyer" in tl and ">Call<" in tl and ">Done<" in tl
    assert "Budget approved" in tl and "<b>budget</b>" in tl
    assert "offer.pdf" in tl and "Unrelated note" not in tl
    assert re.search(r'href="/activity/\d+"', tl) and re.search(r'href="/note/\d+"', tl)


def test_buttons_prefill_new_activities_and_notes(client: FlaskClient, web: Flask,
                                                  crm: Context) -> None:
    rs = records_of(web)
    case = rs.create("case", {"subject": "Printer broken"}, admin(crm))
    tl = timeline_of(client.get(f"/case/{case['id']}").text)
    cid = case["id"]
    assert f'href="/activity/new?related_case={cid}&amp;kind=call&amp;status=done"' in tl
    assert f'href="/activity/new?related_case={cid}&amp;kind=task"' in tl
    assert f'href="/note/new?related_case={cid}"' in tl
    assert "Log a call" in tl and "New task" in tl and "New note" in tl


def test_delete_and_restore_are_in_the_timeline(client: FlaskClient, web: Flask,
                                                crm: Context) -> None:
    rs = records_of(web)
    who = admin(crm)
    acc = rs.create("account", {"name": "Back again"}, who)
    rs.delete("account", acc["id"], who)
    rs.restore("account", acc["id"], who)
    html = client.get(f"/account/{acc['id']}").text
    assert events_of(html) == ["restore", "delete", "create"]
    assert "recycle bin" in timeline_of(html)


def test_deleted_activities_leave_the_timeline(client: FlaskClient, web: Flask,
                                               crm: Context) -> None:
    rs = records_of(web)
    who = admin(crm)
    acc = rs.create("account", {"name": "Tidy"}, who)
    act = rs.create("activity", {"subject": "Wrong call", "related_account": acc["id"]}, who)
    assert "Wrong call" in timeline_of(client.get(f"/account/{acc['id']}").text)
    rs.delete("activity", act["id"], who)
    assert "Wrong call" not in timeline_of(client.get(f"/account/{acc['id']}").text)
