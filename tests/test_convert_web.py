"""Converting a lead from the web (the detail page's button, the convert page and its POST),
the API (`POST /api/v1/lead/<id>/convert/<name>`) and the CLI (`crm convert`)."""

from __future__ import annotations

import json
from html import unescape
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from app.access.shares import share
from app.cli import main
from app.context import Context
from app.records import SYSTEM
from tests.apikit import error_of, token_for
from tests.stageskit import actor, records
from tests.webkit import csrf, sign_in, user_id, web_app

NAME = "lead_to_customer"


@pytest.fixture
def ctx(workflow_crm: Context) -> Context:
    return workflow_crm


@pytest.fixture
def web(ctx: Context) -> Flask:
    return web_app(ctx)


def _client(web: Flask, username: str) -> FlaskClient:
    client = web.test_client()
    sign_in(client, username)
    return client


def lead(ctx: Context, who: Any = SYSTEM, **values: Any) -> int:
    body = {"company": "Acme Ltd", "last_name": "Wei", "status": "qualified", **values}
    return int(records(ctx).create("lead", body, who)["id"])


def test_the_button_shows_only_when_the_lead_may_be_converted(web: Flask, ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    ready, working = lead(ctx, rep), lead(ctx, rep, status="working", company="Beta")
    client = _client(web, "rep")
    assert f'href="/lead/{ready}/convert/{NAME}"' in client.get(f"/lead/{ready}").text
    assert "/convert/" not in client.get(f"/lead/{working}").text
    share(records(ctx), "lead", ready, rep, user_id=user_id(ctx, "rep2"), access="read")
    other = _client(web, "rep2")
    page = other.get(f"/lead/{ready}")
    assert page.status_code == 200 and "/convert/" not in page.text
    assert other.get(f"/lead/{ready}/convert/{NAME}").status_code == 200  # shows why not
    assert other.post(f"/lead/{ready}/convert/{NAME}",
                      data={"csrf_token": csrf(page.text)}).status_code == 403


def test_the_page_shows_the_plan_and_the_post_converts(web: Flask, ctx: Context) -> None:
    existing = int(records(ctx).create("account", {"name": "Acme Ltd"})["id"])
    lid = lead(ctx)
    client = _client(web, "admin")
    page = client.get(f"/lead/{lid}/convert/{NAME}")
    assert page.status_code == 200
    html = unescape(page.text)
    assert f'data-matched="{existing}"' in html
    assert 'name="include_opportunity"' in html and 'name="title_opportunity"' in html
    resp = client.post(f"/lead/{lid}/convert/{NAME}", data={
        "csrf_token": csrf(page.text), "include_opportunity": "1",
        "title_opportunity": "Acme: pilot"})
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"/account/{existing}")
    assert "was converted" in unescape(client.get(resp.headers["Location"]).text)
    done = records(ctx).get("lead", lid)
    assert records(ctx).get("opportunity", done["converted_opportunity"])["name"] == "Acme: pilot"
    again = client.get(f"/lead/{lid}/convert/{NAME}")
    assert "converted already" in unescape(again.text) and "convert-submit" not in again.text


def test_unticking_leaves_the_opportunity_out_and_errors_are_shown(
        web: Flask, ctx: Context) -> None:
    client = _client(web, "admin")
    lid = lead(ctx)
    page = client.get(f"/lead/{lid}/convert/{NAME}")
    bad = client.post(f"/lead/{lid}/convert/{NAME}", data={
        "csrf_token": csrf(page.text), "include_opportunity": "1", "title_opportunity": ""})
    assert bad.status_code == 422 and "is-invalid" in bad.text
    assert records(ctx).get("lead", lid)["converted"] is False
    resp = client.post(f"/lead/{lid}/convert/{NAME}", data={"csrf_token": csrf(page.text)})
    assert resp.status_code == 303
    done = records(ctx).get("lead", lid)
    assert done["converted_account"] and done["converted_opportunity"] is None
    assert client.post(f"/lead/{lid}/convert/{NAME}").status_code == 400  # no CSRF token


def test_the_api(web: Flask, ctx: Context) -> None:
    client = web.test_client()
    rep = actor(ctx, "rep", "sales_rep")
    lid = lead(ctx, rep)
    url = f"/api/v1/lead/{lid}/convert/{NAME}"
    other = token_for(ctx, "rep2")
    assert client.post(url, headers=other).status_code == 404
    share(records(ctx), "lead", lid, rep, user_id=user_id(ctx, "rep2"), access="read")
    assert error_of(client.post(url, headers=other))["status"] == 403
    headers = token_for(ctx, "rep")
    assert client.post(url, json={"include": {"opportunity": "no"}},
                       headers=headers).status_code == 400
    assert client.post(url, json={"oops": 1}, headers=headers).status_code == 400
    bad = client.post(url, json={"overrides": {"opportunity": {"name": ""}}}, headers=headers)
    assert bad.status_code == 422 and "opportunity.name" in error_of(bad)["fields"]
    ok = client.post(url, json={"include": {"opportunity": False}}, headers=headers)
    assert ok.status_code == 201, ok.text
    ids = ok.get_json()["ids"]
    assert ids["account"] and ids["contact"] and ids["opportunity"] is None
    assert error_of(client.post(url, headers=headers))["status"] == 409
    assert client.post(f"/api/v1/lead/{lid}/convert/nothing", headers=headers).status_code == 404
    assert client.post(f"/api/v1/contact/{ids['contact']}/convert/{NAME}",
                       headers=headers).status_code == 404
    working = lead(ctx, rep, status="working")
    assert client.post(f"/api/v1/lead/{working}/convert/{NAME}",
                       headers=headers).status_code == 422


def test_the_cli(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    config = str(ctx.settings.config_file)
    rep = actor(ctx, "rep", "sales_rep")
    lid = lead(ctx, rep)
    runner = CliRunner()
    refused = runner.invoke(main, ["--config", config, "convert", "lead", str(lid),
                                   "--as", "rep2"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    nobody = runner.invoke(main, ["--config", config, "convert", "lead", str(lid),
                                  "--as", "ghost"])
    assert nobody.exit_code != 0 and "ghost" in nobody.output
    ok = runner.invoke(main, ["--config", config, "convert", "lead", str(lid), "--name", NAME,
                              "--no-opportunity", "--as", "rep"])
    assert ok.exit_code == 0, ok.output
    ids = json.loads(ok.stdout)["ids"]
    assert ids["opportunity"] is None
    assert records(ctx).get("account", ids["account"])["owner_id"] == rep.id
    again = runner.invoke(main, ["--config", config, "convert", "lead", str(lid), "--as", "rep"])
    assert again.exit_code != 0 and "converted already" in again.output
