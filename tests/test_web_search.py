"""The global search page: results grouped by entity with links, a hint for short queries,
JSON for API callers, deleted records never shown, labels in the user's language."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.model.system import users
from app.records import Actor
from tests.webkit import records_of, user_id


def seed(web: Flask, crm: Context) -> dict[str, int]:
    rec = records_of(web)
    who = Actor(user_id(crm, "admin"), "admin", ("admin",))
    acc = rec.create("account", {"name": "Orchid Trading"}, who)["id"]
    opp = rec.create("opportunity", {"name": "Orchid renewal", "account": acc}, who)["id"]
    lead = rec.create("lead", {"company": "Orchid Labs"}, who)["id"]
    rec.delete("lead", lead, who)
    return {"account": acc, "opportunity": opp, "lead": lead}


def test_results_grouped_by_entity(web: Flask, crm: Context, client: FlaskClient) -> None:
    ids = seed(web, crm)
    resp = client.get("/search?q=orchid")
    assert resp.status_code == 200
    html = resp.text
    assert 'data-entity="account"' in html and 'data-entity="opportunity"' in html
    assert f'href="/account/{ids["account"]}">Orchid Trading</a>' in html
    assert f'href="/opportunity/{ids["opportunity"]}">Orchid renewal</a>' in html
    results = html[html.index('id="search-results"'):]
    assert "Orchid Labs" not in results and 'data-entity="lead"' not in results  # deleted
    assert ">Opportunities</h2>" in html and ">Accounts</h2>" in html
    assert 'value="orchid"' in html


def test_short_query_gives_a_hint(client: FlaskClient) -> None:
    for q in ("", "a", "  b  "):
        html = client.get(f"/search?q={q}").text
        assert 'id="search-hint"' in html and "at least 2 characters" in html
    assert 'id="search-none"' in client.get("/search?q=qqqzzz").text
    assert client.get("/search?q=ab%00cd%25_").status_code == 200  # NUL, wildcards


def test_json(web: Flask, crm: Context, client: FlaskClient) -> None:
    ids = seed(web, crm)
    body = client.get("/search?q=ORCHID", headers={"Accept": "application/json"}).get_json()
    groups = {g["entity"]: g for g in body["results"]}
    assert set(groups) == {"account", "opportunity"}
    assert groups["account"]["hits"] == [{
        "id": ids["account"], "title": "Orchid Trading", "url": f"/account/{ids['account']}",
        "field": None, "field_label": None, "value": None}]
    assert groups["opportunity"]["total"] == 1 and groups["opportunity"]["label"] == "Opportunities"
    short = client.get("/search?q=x", headers={"Accept": "application/json"}).get_json()
    assert short["results"] == [] and short["hint"]


def test_labels_follow_the_language(web: Flask, crm: Context, client: FlaskClient) -> None:
    seed(web, crm)
    with crm.engine.begin() as conn:
        conn.execute(sa.update(users).where(users.c.username == "admin").values(locale="zh_CN"))
    html = client.get("/search?q=orchid").text
    assert ">商机</h2>" in html and ">客户</h2>" in html


def test_search_needs_sign_in(web: Flask) -> None:
    resp = web.test_client().get("/search?q=orchid")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
