"""Quote -> contract -> order from the web: the Convert buttons on an accepted quote and a
signed contract, the convert page (lines to copy), its POST and the result pages' links."""

from __future__ import annotations

from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from tests.convertkit import (
    TO_CONTRACT,
    TO_ORDER,
    accepted_quote,
    contract_ctx,
    module_database_url,
    signed,
    uses_database,
)
from tests.stageskit import actor, records
from tests.webkit import csrf, sign_in, web_app

pytestmark = uses_database()
__all__ = ["contract_ctx", "module_database_url"]


@pytest.fixture
def ctx(contract_ctx: Context) -> Context:
    return contract_ctx


@pytest.fixture(scope="module")
def web(contract_ctx: Context) -> Flask:
    return web_app(contract_ctx)


def _client(web: Flask, username: str) -> FlaskClient:
    client = web.test_client()
    sign_in(client, username)
    return client


def test_quote_to_contract_to_order(web: Flask, ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    qid, sent = accepted_quote(ctx, rep), accepted_quote(ctx, rep, status="sent")
    client = _client(web, "rep")
    button = f'href="/quote/{qid}/convert/{TO_CONTRACT}"'
    page = unescape(client.get(f"/quote/{qid}").text)
    assert button in page and "Create contract" in page
    assert "/convert/" not in client.get(f"/quote/{sent}").text  # not accepted: no button
    form = client.get(f"/quote/{qid}/convert/{TO_CONTRACT}")
    assert form.status_code == 200
    html = unescape(form.text)
    assert 'data-lines="contract_line" data-count="3"' in html
    assert "Contract lines to copy: 3" in html
    assert 'name="title_contract"' in html and 'value="Acme rollout"' in html
    resp = client.post(f"/quote/{qid}/convert/{TO_CONTRACT}", data={
        "csrf_token": csrf(form.text), "title_contract": "Acme rollout contract"})
    assert resp.status_code == 303
    cid = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert resp.headers["Location"].endswith(f"/contract/{cid}")
    result = unescape(client.get(resp.headers["Location"]).text)
    assert "was converted" in result and "Contract lines copied: 3" in result
    quote = records(ctx).get("quote", qid)
    assert f'href="/quote/{qid}"' in result and quote["number"] in result  # back to the quote
    assert records(ctx).get("contract", cid)["number"] in result
    assert "Item 3" in result  # its lines are listed on it
    assert records(ctx).get("contract", cid)["name"] == "Acme rollout contract"
    again = unescape(client.get(f"/quote/{qid}").text)
    assert f'href="/contract/{cid}"' in again and button not in again
    # the contract, once signed, offers the order
    assert "/convert/" not in client.get(f"/contract/{cid}").text
    signed(ctx, cid, rep)
    assert f'href="/contract/{cid}/convert/{TO_ORDER}"' in client.get(f"/contract/{cid}").text
    form = client.get(f"/contract/{cid}/convert/{TO_ORDER}")
    assert 'data-lines="sales_order_line" data-count="3"' in form.text
    resp = client.post(f"/contract/{cid}/convert/{TO_ORDER}",
                       data={"csrf_token": csrf(form.text)})
    assert resp.status_code == 303 and "/sales_order/" in resp.headers["Location"]
    order = unescape(client.get(resp.headers["Location"]).text)
    oid = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert f'href="/contract/{cid}"' in order
    assert records(ctx).get("sales_order", oid)["number"] in order


def test_refusals_on_the_page(web: Flask, ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    sent = accepted_quote(ctx, rep, status="sent")
    client = _client(web, "rep")
    page = client.get(f"/quote/{sent}/convert/{TO_CONTRACT}")
    assert page.status_code == 200 and "convert-submit" not in page.text
    refused = client.post(f"/quote/{sent}/convert/{TO_CONTRACT}",
                          data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 422 and "status == &#39;accepted&#39;" in refused.text
    assert client.post(f"/quote/{sent}/convert/{TO_CONTRACT}").status_code == 400  # no CSRF
    other = _client(web, "rep2")  # another rep's quote: not theirs to see
    assert other.get(f"/quote/{sent}/convert/{TO_CONTRACT}").status_code == 404


def test_the_page_in_chinese(web: Flask, ctx: Context) -> None:
    qid = accepted_quote(ctx)
    client = _client(web, "admin")
    zh = {"Accept-Language": "zh-CN"}
    assert "生成合同" in client.get(f"/quote/{qid}", headers=zh).text
    form = client.get(f"/quote/{qid}/convert/{TO_CONTRACT}", headers=zh).text
    assert "合同明细" in form and "3" in form
