"""The list page `/<entity>/`: columns, badges, lookups by title, quick search, the filter
panel per field type, sort links, keyset page links, counts, bad parameters as 400 with a
message, "mine only", and the buttons to other pages."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.records import Actor
from tests.webkit import records_of, sign_in, user_id


@pytest.fixture
def deals(web: Flask, crm: Any) -> dict[str, Any]:
    rec = records_of(web)
    rep = Actor(user_id(crm, "rep"), "rep", ("sales_rep",))
    acme = rec.create("account", {"name": "Acme 中国"})
    beta = rec.create("account", {"name": "Beta Corp"})
    made = {"acme": acme, "beta": beta}
    rows = [("Alpha deal", acme, "prospecting", "1000", "2026-03-01", None),
            ("Bravo deal", acme, "proposal", "25000.5", "2026-01-15", rep),
            ("Charlie deal", beta, "won", "500", "2026-02-01", rep),
            ("Delta deal", beta, "lost", None, None, None)]
    for name, acc, stage, amount, close, who in rows:
        values = {"name": name, "account": acc["id"], "stage": stage, "amount": amount,
                  "close_date": close}
        if stage == "lost":
            values["loss_reason"] = "price"
        made[name] = rec.create("opportunity", values, who) if who else \
            rec.create("opportunity", values)
    return made


def names(html: str) -> list[str]:
    return re.findall(r'class="fw-semibold crm-title">([^<]+)</a>', html)


def test_list_shows_configured_columns_badges_and_lookup_titles(
        client: FlaskClient, deals: dict[str, Any]) -> None:
    resp = client.get("/opportunity/")
    assert resp.status_code == 200
    html = resp.text
    headers = re.findall(r'<th scope="col" data-column="([a-z_]+)"', html)
    assert headers == ["name", "account", "stage", "amount", "probability", "close_date",
                       "owner"]
    # default sort from YAML: -close_date, empty last
    assert names(html) == ["Alpha deal", "Charlie deal", "Bravo deal", "Delta deal"]
    assert '<span class="badge" style="background:#16a34a">Won</span>' in html
    acme = deals["acme"]["id"]
    assert f'<a href="/account/{acme}">Acme 中国</a>' in html
    assert f'href="/opportunity/{deals["Alpha deal"]["id"]}"' in html
    assert 'id="list-count"' in html and "4 records" in html
    assert "CN¥25,000.50" in html
    for href in ("/opportunity/new", "/opportunity/board", "/opportunity/bin"):
        assert f'href="{href}"' in html


def test_default_columns_without_list_config(client: FlaskClient) -> None:
    html = client.get("/note/").text
    headers = re.findall(r'<th scope="col" data-column="([a-z_]+)"', html)
    assert headers[0] == "title" and "body" not in headers and len(headers) == 6
    assert 'href="/note/board"' not in html  # no picklist, no board


def test_unknown_entity_is_404(client: FlaskClient) -> None:
    assert client.get("/nothing/").status_code == 404


def test_filter_panel_has_a_widget_per_field_type(client: FlaskClient,
                                                  deals: dict[str, Any]) -> None:
    html = client.get(f"/opportunity/?f.account.eq={deals['acme']['id']}").text

    def widget(name: str) -> str:
        m = re.search(rf'data-filter="{name}" data-kind="(\w+)"', html)
        assert m, name
        return m.group(1)

    assert widget("amount") == "range" and widget("close_date") == "range"
    assert widget("stage") == "choices" and widget("account") == "lookup"
    assert widget("name") == "text" and widget("owner") == "user"
    assert 'name="f.amount.gte"' in html and 'name="f.amount.lte"' in html
    assert 'type="date" class="form-control" id="filter-close_date-min"' in html
    assert 'name="f.stage.in" value="won"' in html and ">Won</label>" in html
    assert 'data-target="account"' in html
    assert 'value="Acme 中国" autocomplete="off"' in html  # the chosen account by title
    contact = client.get("/contact/").text
    assert 'data-filter="do_not_call" data-kind="boolean"' in contact
    assert 'data-filter="industry"' in client.get("/account/").text


FILTERS = [
    ("f.stage.in=won&f.stage.in=lost", ["Charlie deal", "Delta deal"]),
    ("f.amount.gte=¥1,000", ["Alpha deal", "Bravo deal"]),
    ("f.amount.gte=&f.amount.lte=1000", ["Alpha deal", "Charlie deal"]),
    ("f.close_date.gte=2026年2月1日&f.close_date.lte=2026-12-31", ["Alpha deal",
                                                                 "Charlie deal"]),
    ("f.name.contains=ALPHA", ["Alpha deal"]),
    ("q=bravo", ["Bravo deal"]),
    ("q=charlie&f.stage.eq=won", ["Charlie deal"]),
    ("f.amount.empty=1", ["Delta deal"]),
    ("f.stage.ne=won", ["Alpha deal", "Bravo deal", "Delta deal"]),
]


def test_filters_and_search(client: FlaskClient, deals: dict[str, Any]) -> None:
    for query, expected in FILTERS:
        resp = client.get(f"/opportunity/?{query}&sort=name")
        assert resp.status_code == 200, resp.text
        assert names(resp.text) == expected, query
        count = re.search(r'id="list-count"[^>]*>([^<]+)<', resp.text)
        assert count and count.group(1) == f"{len(expected)} record" + (
            "s" if len(expected) != 1 else "")


def test_lookup_filter_by_id(client: FlaskClient, deals: dict[str, Any]) -> None:
    html = client.get(f"/opportunity/?f.account.eq={deals['beta']['id']}&sort=name").text
    assert names(html) == ["Charlie deal", "Delta deal"]


def test_active_filters_are_shown_and_removable(client: FlaskClient,
                                                deals: dict[str, Any]) -> None:
    html = client.get("/opportunity/?f.stage.eq=won&q=char").text
    chips = re.findall(r'class="badge rounded-pill[^"]*crm-chip" href="([^"]+)"', html)
    assert len(chips) == 2
    assert sorted("f.stage.eq" in c for c in chips) == [False, True]
    assert sorted("q=char" in c for c in chips) == [False, True]
    texts = re.findall(r'crm-chip" href="[^"]+" title="[^"]+">([^<]+)<', html)
    assert "Stage is Won &times;" in [t.strip() for t in texts]
    acme = deals["acme"]["id"]
    chip = re.findall(r'crm-chip" href="[^"]+" title="[^"]+">([^<]+)<',
                      client.get(f"/opportunity/?f.account.eq={acme}").text)
    assert [t.strip() for t in chip] == ["Account is Acme 中国 &times;"]
    # a filter the panel has no input for survives "Apply" as a hidden input
    html = client.get("/opportunity/?f.stage.ne=won").text
    assert '<input type="hidden" name="f.stage.ne" value="won">' in html


BAD = [
    ("f.amount.gte=lots", ["Amount", "lots"]),
    ("f.close_date.lt=2026-13-45", ["Close date", "2026-13-45"]),
    ("f.stage.eq=maybe", ["Stage", "maybe"]),
    ("f.amount.contains=1", ["Amount", "contains"]),
    ("f.nothing.eq=1", ["nothing"]),
    ("sort=nothing", ["nothing"]),
    ("sort=tags", ["tags"]),
    ("size=100000", ["500"]),
    ("cols=name,bogus", ["bogus"]),
    ("after=bm90LWEtY3Vyc29y", ["page link"]),
]


def test_bad_parameters_are_a_400_with_a_message(client: FlaskClient) -> None:
    for query, words in BAD:
        resp = client.get(f"/opportunity/?{query}")
        assert resp.status_code == 400, query
        error = re.search(r'id="list-error">([^<]+)<', resp.text)
        assert error, resp.text
        for word in words:
            assert word in error.group(1), (query, error.group(1))


def test_bad_filter_message_in_chinese(client: FlaskClient) -> None:
    client.post("/me/language", data={"locale": "zh_CN", "csrf_token": _token(client)})
    resp = client.get("/opportunity/?f.amount.gte=lots")
    assert resp.status_code == 400 and "金额" in resp.text


def _token(client: FlaskClient) -> str:
    from tests.webkit import csrf

    return csrf(client.get("/opportunity/").text)


def test_sort_links_toggle_direction(client: FlaskClient, deals: dict[str, Any]) -> None:
    html = client.get("/opportunity/?sort=amount").text
    link = re.search(r'<th scope="col" data-column="amount"[^>]*><a [^>]*href="([^"]+)"', html)
    assert link and "sort=-amount" in link.group(1).replace("%2D", "-")
    assert 'aria-sort="ascending"' in html
    assert names(html) == ["Charlie deal", "Alpha deal", "Bravo deal", "Delta deal"]
    desc = client.get(link.group(1).replace("&amp;", "&")).text
    assert names(desc) == ["Bravo deal", "Alpha deal", "Charlie deal", "Delta deal"]


def _href(html: str, rel: str) -> str | None:
    m = re.search(rf'rel="{rel}" id="page-{rel}" href="([^"]+)"', html)
    return m.group(1).replace("&amp;", "&") if m and m.group(1) != "#" else None


def test_keyset_page_links_walk_forward_and_back(client: FlaskClient, web: Flask) -> None:
    rec = records_of(web)
    acc = rec.create("account", {"name": "Paging Co"})
    for i in range(7):
        rec.create("opportunity", {"name": f"P{i}", "account": acc["id"],
                                   "amount": str(100 * (i % 3)) if i != 3 else None})
    url: str | None = "/opportunity/?sort=amount&size=3&cols=name,amount"
    pages = []
    while url:
        html = client.get(url).text
        pages.append(names(html))
        assert "7 records" in html
        url = _href(html, "next")
    assert [len(p) for p in pages] == [3, 3, 1]
    flat = [n for p in pages for n in p]
    assert flat == ["P0", "P6", "P1", "P4", "P2", "P5", "P3"]  # ties by id, empty last
    back = _href(html, "prev")
    assert back is not None
    assert names(client.get(back).text) == pages[1]
    query = parse_qs(urlsplit(back).query)
    assert query["size"] == ["3"] and query["cols"] == ["name,amount"]


def test_page_size_choice_and_columns_picker(client: FlaskClient, deals: dict[str, Any]
                                             ) -> None:
    html = client.get("/opportunity/?size=2&cols=name&cols=stage").text
    assert len(names(html)) == 2
    assert re.findall(r'data-column="([a-z_]+)"', html) == ["name", "stage"]
    assert '<option value="2" selected>' in html
    assert 'name="cols" value="stage" id="col-stage" checked' in html
    assert 'name="cols" value="amount" id="col-amount">' in html


def test_mine_only(web: Flask, deals: dict[str, Any]) -> None:
    client = web.test_client()
    sign_in(client, "rep")
    html = client.get("/opportunity/?owner=me&sort=name").text
    assert names(html) == ["Bravo deal", "Charlie deal"]
    assert 'id="owner-me" checked' in html


def test_chinese_labels_and_dates(client: FlaskClient, deals: dict[str, Any]) -> None:
    client.post("/me/language", data={"locale": "zh_CN", "csrf_token": _token(client)})
    html = client.get("/opportunity/").text
    assert ">商机名称<" in html and ">销售阶段<" in html and ">赢单</span>" in html
    assert "2026年3月1日" in html
    assert date(2026, 3, 1).isoformat() not in names(html)


def test_a_shared_view_by_name(client: FlaskClient, deals: dict[str, Any]) -> None:
    html = client.get("/opportunity/?view=open_deals").text
    assert names(html) == ["Bravo deal", "Alpha deal"]  # sorted by close date
    assert 'data-column="expected_revenue"' in html
    assert 'name="f.stage.not_in" value="won"' in html


def test_in_a_browser_filter_by_lookup_sort_and_select(browser: Any, crm: Any, web: Flask,
                                                       deals: dict[str, Any],
                                                       artifacts: Path) -> None:
    from tests.webkit import browser_sign_in, live_server

    with live_server(crm) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            browser_sign_in(page, base)
            page.goto(base + "/opportunity/")
            page.click("#toggle-filters")
            page.fill("#filter-account", "beta")
            page.click(".crm-lookup-menu .dropdown-item >> text=Beta Corp")
            page.click("#apply-list")
            page.wait_for_load_state()
            assert page.locator(".crm-title").all_inner_texts() == ["Charlie deal",
                                                                    "Delta deal"]
            page.click("th[data-column=amount] a")
            page.wait_for_load_state()
            assert "sort=amount" in page.url and f"f.account.eq={deals['beta']['id']}" in page.url
            page.check("#select-all")
            assert page.locator(".crm-row-check:checked").count() == 2
            assert page.locator("#selected-count").inner_text() == "2 selected"
            page.screenshot(path=str(artifacts / "list-filtered.png"), full_page=True)
            page.click("#bulk-delete")
            page.wait_for_load_state()
            assert page.locator("#delete-list li").all_inner_texts() == ["Charlie deal",
                                                                         "Delta deal"]
            page.screenshot(path=str(artifacts / "list-bulk-delete.png"))
        finally:
            page.close()
