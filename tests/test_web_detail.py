"""The detail page: fields by layout with formatted values (English and Chinese), lookups as
links, conditional fields, related lists with prefilled "new" links, and 404s."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.migrate.publish import publish
from app.records import Actor, Records
from tests.factories import meta_of
from tests.webkit import csrf, deployment, records_of, sign_in, user_id, web_app

LAYOUT = [
    {"section": {"en": "Basics", "zh": "基本信息"}, "columns": 3,
     "fields": ["name", "type", "annual_revenue"]},
    {"section": {"en": "Contact details", "zh": "联系方式"}, "columns": 1,
     "fields": ["phone", "website"]},
]


def edit_schema(folder: Path, entity: str, edit: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "schemas" / f"{entity}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@contextmanager
def account_layout(folder: Path, database_url: str, layout: list[dict[str, Any]] | None
                   ) -> Iterator[tuple[Context, Flask]]:
    """The default pack with this layout on account (None: no layout), published as a second
    version, and its web app."""
    ctx = deployment(folder, database_url)

    def set_layout(data: dict[str, Any]) -> None:
        data.pop("layout", None)
        if layout is not None:
            data["layout"] = layout

    edit_schema(folder, "account", set_layout)
    publish(ctx.engine, meta_of(folder / "schemas"))
    try:
        yield ctx, web_app(ctx)
    finally:
        ctx.dispose()


def admin(ctx: Context) -> Actor:
    return Actor(user_id(ctx, "admin"), "admin", ("admin",))


def fields_on(html: str) -> list[str]:
    return re.findall(r'data-field="([a-z_]+)"', html)


def section_html(html: str, number: int) -> str:
    start = html.index(f'data-section="{number}"')
    end = html.find("data-section=", start + 20)
    return html[start:end if end > 0 else None]


def test_fields_follow_the_layout_with_formatted_values(tmp_path: Path,
                                                        database_url: str) -> None:
    with account_layout(tmp_path, database_url, LAYOUT) as (ctx, app):
        check_layout(ctx, app)


def check_layout(ctx: Context, app: Flask) -> None:
    rs = records_of(app)
    acc = rs.create("account", {"name": "Acme Ltd", "type": "customer",
                                "annual_revenue": "1234.5", "phone": "+86 10 1234 5678"},
                    admin(ctx))
    client = app.test_client()
    sign_in(client)
    html = client.get(f"/account/{acc['id']}").text
    first, second, rest = section_html(html, 1), section_html(html, 2), section_html(html, 3)
    assert "Basics" in first and fields_on(first) == ["name", "type", "annual_revenue"]
    assert "col-lg-4" in first  # three columns on wide screens
    assert "Contact details" in second and fields_on(second) == ["phone", "website"]
    assert "More details" in rest and "account_number" in fields_on(rest)
    assert "name" not in fields_on(rest)
    assert "CN¥1,234.50" in first and ">Customer<" in first
    assert 'href="tel:+861012345678"' in second

    token = csrf(html)
    client.post("/me/language", data={"locale": "zh_CN", "csrf_token": token,
                                           "next": f"/account/{acc['id']}"})
    zh = client.get(f"/account/{acc['id']}").text
    assert "基本信息" in zh and "联系方式" in zh
    assert "客户名称" in zh and "年营业额" in zh
    assert "¥1,234.50" in zh and "CN¥" not in zh
    assert ">客户<" in section_html(zh, 1)  # the picklist label in Chinese


def test_without_layout_two_columns_in_field_order(tmp_path: Path, database_url: str) -> None:
    with account_layout(tmp_path, database_url, None) as (ctx, app):
        rs = records_of(app)
        acc = rs.create("account", {"name": "Plain"}, admin(ctx))
        client = app.test_client()
        sign_in(client)
        html = client.get(f"/account/{acc['id']}").text
    shown = fields_on(section_html(html, 1))
    order = [f.name for f in rs.meta.entity("account") if not f.hidden]
    assert shown == order and 'data-section="2"' not in html
    assert 'class="col-12 col-md-6" data-field="name"' in html


def test_dates_money_lookups_and_users(client: FlaskClient, web: Flask, crm: Context) -> None:
    rs = records_of(web)
    who = admin(crm)
    acc = rs.create("account", {"name": "Huawei Partner"}, who)
    opp = rs.create("opportunity", {"name": "Cloud deal", "account": acc["id"],
                                    "amount": "250000", "close_date": "2026-03-01",
                                    "stage": "proposal", "probability": 60}, who)
    act = rs.create("activity", {"subject": "Demo", "assigned_to": user_id(crm, "rep"),
                                 "related_opportunity": opp["id"]}, who)
    html = client.get(f"/opportunity/{opp['id']}").text
    assert f'<a href="/account/{acc["id"]}">Huawei Partner</a>' in html
    assert "CN¥250,000.00" in html and "Mar 1, 2026" in html
    assert "CN¥150,000.00" in html  # the expected revenue formula
    assert 'id="record-stage"' in html and "Proposal" in html
    assert f'href="/opportunity/{opp["id"]}/edit"' in html
    page = client.get(f"/activity/{act['id']}").text
    assert "Rep" in page.split('data-field="assigned_to"')[1][:300]  # the user's full name


def test_autonumber_and_owner_in_the_header(client: FlaskClient, web: Flask,
                                            crm: Context) -> None:
    rs = records_of(web)
    acc = rs.create("account", {"name": "Numbered", "owner": user_id(crm, "rep")}, admin(crm))
    html = client.get(f"/account/{acc['id']}").text
    assert re.search(r'data-autonumber="account_number"[^>]*>ACC-\d{5}<', html)
    owner = html.split('id="record-owner"')[1][:40]
    assert "Rep" in owner


def test_conditional_fields_are_hidden(client: FlaskClient, web: Flask, crm: Context) -> None:
    rs = records_of(web)
    who = admin(crm)
    acc = rs.create("account", {"name": "A"}, who)
    opp = rs.create("opportunity", {"name": "Open", "account": acc["id"]}, who)
    assert "loss_reason" not in fields_on(client.get(f"/opportunity/{opp['id']}").text)
    lost = rs.create("opportunity", {"name": "Lost", "account": acc["id"], "stage": "lost",
                                     "loss_reason": "price"}, who)
    html = client.get(f"/opportunity/{lost['id']}").text
    assert "loss_reason" in fields_on(html) and "Price" in html


def test_rich_text_is_sanitised_and_empty_values_are_dashes(client: FlaskClient, web: Flask,
                                                            crm: Context) -> None:
    rs = records_of(web)
    note = rs.create("note", {"title": "Visit", "body": "<p>Met <b>Li</b></p>"}, admin(crm))
    # a body written around the service (an old import) is sanitised on output too
    table = rs.table("note")
    with rs.engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == note["id"]).values(
            body='<p onclick="x()">Hi <script>alert(1)</script><b>there</b></p>'))
    html = client.get(f"/note/{note['id']}").text
    body = html.split('data-field="body"')[1][:400]
    assert "<b>there</b>" in body
    assert "<script" not in body and "onclick" not in body
    related = html.split('data-field="related_account"')[1][:300]
    assert 'class="text-muted">—<' in related


def test_related_lists_with_count_and_prefilled_new_link(client: FlaskClient, web: Flask,
                                                         crm: Context) -> None:
    rs = records_of(web)
    who = admin(crm)
    acc = rs.create("account", {"name": "Big Co"}, who)
    for i in range(12):
        rs.create("contact", {"last_name": f"Person{i:02d}", "account": acc["id"],
                              "email": f"p{i}@example.com"}, who)
    rs.create("opportunity", {"name": "Deal one", "account": acc["id"], "amount": "10"}, who)
    html = client.get(f"/account/{acc['id']}").text
    card = html.split('data-related="contact.account"')[1].split("</section>")[0]
    assert len(re.findall(r'href="/contact/\d+"', card)) == 10
    assert f'href="/contact/?f.account={acc["id"]}"' in card and "and 2 more" in card
    assert f'href="/contact/new?account={acc["id"]}"' in card
    assert ">12<" in card and "p11@example.com" in card
    deals = html.split('data-related="opportunity.account"')[1].split("</section>")[0]
    assert "Deal one" in deals and "CN¥10.00" in deals and "more" not in deals
    assert f'href="/opportunity/new?account={acc["id"]}"' in deals
    # a read-only link (a lead's converted account) gets no "new" button
    leads = html.split('data-related="lead.converted_account"')[1].split("</section>")[0]
    assert "/lead/new" not in leads


def test_master_detail_children_listed_first(client: FlaskClient, web: Flask,
                                             crm: Context) -> None:
    rs = records_of(web)
    who = admin(crm)
    quote = rs.create("quote", {"name": "Q1"}, who)
    rs.create("quote_line", {"quote": quote["id"], "description": "Server",
                             "quantity": 2, "unit_price": "100"}, who)
    html = client.get(f"/quote/{quote['id']}").text
    related = re.findall(r'data-related="([a-z_.]+)"', html)
    assert related[0] == "quote_line.quote"
    assert "Server" in html and "CN¥200.00" in html


def test_unknown_deleted_and_bad_ids(client: FlaskClient, web: Flask, crm: Context) -> None:
    rs: Records = records_of(web)
    acc = rs.create("account", {"name": "Gone soon"}, admin(crm))
    for url in ("/account/999", "/nosuch/1", "/account/0", "/account/abc",
                "/account/99999999999999999999", "/account/-1"):
        resp = client.get(url)
        assert resp.status_code == 404, url
    rs.delete("account", acc["id"], admin(crm))
    resp = client.get(f"/account/{acc['id']}")
    assert resp.status_code == 404
    assert 'href="/account/bin"' in resp.text and "Gone soon" in resp.text
    assert client.get(f"/account/{acc['id']}", headers={"Accept": "application/json"}
                      ).status_code == 404


def test_detail_needs_sign_in(web: Flask, crm: Context) -> None:
    acc = records_of(web).create("account", {"name": "Private"}, admin(crm))
    resp = web.test_client().get(f"/account/{acc['id']}")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
