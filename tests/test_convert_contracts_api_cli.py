"""Quote -> contract -> order through the API (`POST /api/v1/quote/<id>/convert/
quote_to_contract`) and the CLI (`crm convert quote ID --as USER`): ids and line counts back,
refusals as JSON errors and exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from app.cli import main
from app.context import Context
from tests.apikit import error_of, token_for
from tests.convertkit import (
    TO_CONTRACT,
    TO_ORDER,
    accepted_quote,
    contract_ctx,
    count,
    module_database_url,
    signed,
    uses_database,
)
from tests.stageskit import actor, records
from tests.webkit import web_app

pytestmark = uses_database()
__all__ = ["contract_ctx", "module_database_url"]


@pytest.fixture
def ctx(contract_ctx: Context) -> Context:
    return contract_ctx


def test_the_api(ctx: Context) -> None:
    client = web_app(ctx).test_client()
    rep = actor(ctx, "rep", "sales_rep")
    qid, sent = accepted_quote(ctx, rep), accepted_quote(ctx, rep, status="sent")
    headers = token_for(ctx, "rep")
    url = f"/api/v1/quote/{qid}/convert/{TO_CONTRACT}"
    assert client.post(url, headers=token_for(ctx, "rep2")).status_code == 404
    assert error_of(client.post(f"/api/v1/quote/{sent}/convert/{TO_CONTRACT}",
                                headers=headers))["status"] == 422
    assert client.post(url, json={"include": {"contract": False}},
                       headers=headers).status_code == 422  # a contract is not optional
    ok = client.post(url, headers=headers)
    assert ok.status_code == 201, ok.text
    body = ok.get_json()
    cid = body["ids"]["contract"]
    assert body["lines"] == {"contract": {"contract_line": 3}}
    assert records(ctx).get("contract", cid)["line_count"] == 3
    assert error_of(client.post(url, headers=headers))["status"] == 409
    # the contract's order, once it is signed
    order_url = f"/api/v1/contract/{cid}/convert/{TO_ORDER}"
    assert error_of(client.post(order_url, headers=headers))["status"] == 422
    signed(ctx, cid, rep)
    made = client.post(order_url, headers=headers)
    assert made.status_code == 201, made.text
    assert made.get_json()["lines"] == {"sales_order": {"sales_order_line": 3}}
    order = client.get(f"/api/v1/sales_order/{made.get_json()['ids']['sales_order']}",
                       headers=headers).get_json()
    contract = records(ctx).get("contract", cid)
    assert (order["contract"], order["contract_number"], order["quote_number"]) == (
        cid, contract["number"], contract["quote_number"])


def test_a_refused_line_is_named_in_the_api(ctx: Context) -> None:
    client = web_app(ctx).test_client()
    qid = accepted_quote(ctx, lines=[(1, "10.00", 0), (2, "20.00", 0)])
    rs = records(ctx)
    gone = rs.create("product", {"name": "Old", "unit_price": 1})["id"]
    line = rs.create("quote_line", {"quote": qid, "product": gone, "quantity": 1,
                                    "unit_price": 5, "sort_order": 99})
    rs.delete("product", gone)
    before = count(ctx, "contract")
    bad = client.post(f"/api/v1/quote/{qid}/convert/{TO_CONTRACT}", headers=token_for(ctx))
    error = error_of(bad)
    assert bad.status_code == 422 and list(error["fields"]) == [
        "contract.contract_line[3].product"], error
    assert "Contract line 3" in error["message"]
    assert count(ctx, "contract") == before
    rs.delete("quote_line", line["id"])
    assert client.post(f"/api/v1/quote/{qid}/convert/{TO_CONTRACT}",
                       headers=token_for(ctx)).status_code == 201


def test_the_cli(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    config = str(ctx.settings.config_file)
    rep = actor(ctx, "rep", "sales_rep")
    qid, sent = accepted_quote(ctx, rep), accepted_quote(ctx, rep, status="sent")
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, ["--config", config, "convert", *args])

    refused = run("quote", str(sent), "--as", "rep")
    assert refused.exit_code != 0 and "accepted" in refused.output
    assert "Traceback" not in refused.output
    wrong = run("quote", str(qid), "--without", "nothing", "--as", "rep")
    assert wrong.exit_code != 0 and "not a target" in wrong.output
    ok = run("quote", str(qid), "--as", "rep")
    assert ok.exit_code == 0, ok.output
    body = json.loads(ok.stdout)
    cid = body["ids"]["contract"]
    assert body["lines"] == {"contract": {"contract_line": 3}}
    assert records(ctx).get("contract", cid)["owner_id"] == rep.id
    again = run("quote", str(qid), "--as", "rep")
    assert again.exit_code != 0 and "converted already" in again.output
    signed(ctx, cid, rep)
    order = run("contract", str(cid), "--name", TO_ORDER, "--as", "rep")
    assert order.exit_code == 0, order.output
    assert json.loads(order.stdout)["lines"] == {
        "sales_order": {"sales_order_line": 3}}
