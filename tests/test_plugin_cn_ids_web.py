"""cn_ids where users meet it: the generated form (the error beside the field, in English and
Chinese), the page /tools/cn-ids (CSRF, site layout), the API route and the CLI command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from app.context import Context
from app.migrate.publish import publish
from app.web import create_app
from tests.apikit import error_of, token_for
from tests.factories import meta_of, write_schema
from tests.pluginkit import example_plugins, plugin_config
from tests.test_plugin_cn_ids_records import PARTY
from tests.webkit import csrf, deployment, post_form, sign_in, wrapper


@pytest.fixture
def crm_ids(tmp_path: Path, database_url: str) -> Iterator[Context]:
    with example_plugins():
        ctx = deployment(tmp_path, database_url, pack="small", extra_config=plugin_config())
        write_schema(tmp_path / "schemas", "party", PARTY)
        publish(ctx.engine, meta_of(tmp_path / "schemas"))
        try:
            yield ctx
        finally:
            ctx.dispose()


@pytest.fixture
def client(crm_ids: Context) -> FlaskClient:
    c = create_app(crm_ids, testing=True).test_client()  # plugins from config.yaml
    sign_in(c)
    return c


@pytest.mark.parametrize(("language", "message"), [
    ("en", "The check digit of this resident ID does not match"),
    ("zh-CN", "该身份证号码的校验位不符"),
])
def test_form_shows_the_error_beside_the_field(client: FlaskClient, language: str,
                                               message: str) -> None:
    headers = {"Accept-Language": language}
    form = client.get("/party/new", headers=headers)
    assert 'name="id_number"' in wrapper(form.text, "id_number")
    resp = client.post("/party/new", headers=headers, data={
        "csrf_token": csrf(form.text), "name": "Li", "id_number": "110105194912310021",
        "credit_code": "91350100M000100Y43"})
    assert resp.status_code == 422
    assert message in wrapper(resp.text, "id_number")
    assert message not in wrapper(resp.text, "credit_code")


def test_form_saves_a_valid_number(client: FlaskClient) -> None:
    resp = post_form(client, "/party/new", {"name": "Li", "id_number": "11010519491231002x",
                                            "credit_code": ""})
    assert resp.status_code == 302
    assert "11010519491231002X" in client.get(resp.headers["Location"]).text


def test_the_check_page(client: FlaskClient) -> None:
    page = client.get("/tools/cn-ids")
    assert page.status_code == 200 and 'id="cn-id-value"' in page.text
    assert 'class="navbar' in page.text  # the site layout
    ok = post_form(client, "/tools/cn-ids", {"value": "91350100M000100Y43"})
    assert 'id="cn-id-result" data-valid="true"' in ok.text
    assert 'data-kind="cn_uscc" data-valid="true"' in ok.text
    born = post_form(client, "/tools/cn-ids", {"value": "11010519491231002X"})
    assert "1949-12-31" in born.text
    bad = post_form(client, "/tools/cn-ids", {"value": "110105194912310021"},
                    headers={"Accept-Language": "zh-CN"})
    assert 'data-valid="false"' in bad.text and "校验位不符" in bad.text
    empty = post_form(client, "/tools/cn-ids", {"value": " "})
    assert empty.status_code == 422 and 'id="cn-id-error"' in empty.text
    assert client.post("/tools/cn-ids", data={"value": "1"}).status_code == 400  # no CSRF


def test_the_page_needs_a_signed_in_user(crm_ids: Context) -> None:
    anonymous = create_app(crm_ids, testing=True).test_client()
    assert anonymous.get("/tools/cn-ids").status_code == 302


def test_the_api_route(crm_ids: Context) -> None:
    c = create_app(crm_ids, testing=True).test_client()
    h = token_for(crm_ids)
    resp = c.post("/api/v1/cn-ids/check", json={"value": "11010519491231002x"}, headers=h)
    assert resp.status_code == 200
    body: dict[str, Any] = resp.get_json()
    assert body["value"] == "11010519491231002X" and body["valid"] is True
    assert body["checks"]["cn_resident_id"] == {"valid": True, "problem": None}
    assert body["birth_date"] == "1949-12-31"
    for bad in ({}, {"value": " "}, {"value": 110105}, ["11010519491231002X"]):
        refused = c.post("/api/v1/cn-ids/check", json=bad, headers=h)
        assert refused.status_code == 400, bad
        assert '{"value": "..."}' in error_of(refused)["message"]
    form = c.post("/api/v1/cn-ids/check", data={"value": "11010519491231002X"}, headers=h)
    assert form.status_code == 400
    long = c.post("/api/v1/cn-ids/check", json={"value": "1" * 65}, headers=h)
    assert long.status_code == 400 and "at most 64" in error_of(long)["message"]


def test_the_number_is_never_in_the_url(crm_ids: Context) -> None:
    c = create_app(crm_ids, testing=True).test_client()
    h = token_for(crm_ids)
    assert c.get("/api/v1/cn-ids/check?value=11010519491231002X",
                 headers=h).status_code == 405


def test_a_signed_in_browser_sends_its_csrf_token(client: FlaskClient) -> None:
    without = client.post("/api/v1/cn-ids/check", json={"value": "91350100M000100Y43"})
    assert without.status_code == 403
    token = csrf(client.get("/tools/cn-ids").text)
    resp = client.post("/api/v1/cn-ids/check", json={"value": "91350100M000100Y43"},
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 200 and resp.get_json()["checks"]["cn_uscc"]["valid"] is True


def test_the_api_route_needs_sign_in(crm_ids: Context) -> None:
    anonymous = create_app(crm_ids, testing=True).test_client()
    resp = anonymous.post("/api/v1/cn-ids/check", json={"value": "11010519491231002X"})
    assert resp.status_code == 401 and resp.get_json()["error"]["status"] == 401


def test_the_cli_command(crm_ids: Context) -> None:
    from app.cli import main

    config = str(crm_ids.settings.config_file)
    ok = CliRunner().invoke(main, ["--config", config, "cn-ids", "check", "11010519491231002X",
                                   "91350100M000100Y43"])
    assert ok.exit_code == 0, ok.output
    assert "11010519491231002X: valid cn_resident_id, born 1949-12-31" in ok.output
    assert "91350100M000100Y43: valid cn_uscc" in ok.output
    bad = CliRunner().invoke(main, ["--config", config, "cn-ids", "check", "91350100M000100Y44"])
    assert bad.exit_code == 1 and "check character" in bad.output
