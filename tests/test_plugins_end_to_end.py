"""The two example plugins, loaded from plugins/ by config.yaml, working together through the
UI and the REST API: a `cn_uscc` field checked on save and documented in the OpenAPI
document, and a YAML automation that runs the `chat_notify` action when a party is saved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from app.migrate.publish import publish
from app.web import create_app
from tests.apikit import error_of, token_for
from tests.factories import write_schema
from tests.pluginkit import example_plugins, plugin_config
from tests.test_plugin_cn_ids_records import PARTY
from tests.webhookkit import receiver
from tests.webkit import deployment, post_form, sign_in

AUTOMATION = """
automations:
  new_party_to_chat:
    entity: party
    events: [created]
    when: "credit_code != null"
    actions:
      - chat_notify: {url_env: TEST_CHAT_URL, format: wecom, text: "新客户 {name}: {credit_code}"}
"""
VALID = "91350100M000100Y43"
BROKEN = "91350100M000100Y44"


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with receiver() as rec:
        monkeypatch.setenv("TEST_CHAT_URL", rec.url + "/robot/send?key=secret")
        yield rec


@pytest.fixture
def crm_plugged(tmp_path: Path, database_url: str, chat: Any) -> Iterator[Context]:
    with example_plugins():
        (tmp_path / "workflows").mkdir()
        (tmp_path / "workflows" / "chat.yaml").write_text(AUTOMATION, encoding="utf-8")
        ctx = deployment(tmp_path, database_url, pack="small", extra_config=(
            plugin_config() + "workflows: workflows\ntask_queue: immediate\n"))
        write_schema(tmp_path / "schemas", "party", PARTY)
        publish(ctx.engine, ctx.yaml_meta())
        try:
            yield ctx
        finally:
            ctx.dispose()


def test_through_the_api(crm_plugged: Context, chat: Any) -> None:
    c = create_app(crm_plugged, testing=True).test_client()
    h = token_for(crm_plugged)
    doc = c.get("/api/v1/openapi.json", headers=h).get_json()
    code = doc["components"]["schemas"]["PartyCreate"]["properties"]["credit_code"]
    assert code["type"] == ["string", "null"] and code["title"] == "credit_code"
    bad = c.post("/api/v1/party", json={"name": "坏公司", "credit_code": BROKEN}, headers=h)
    assert bad.status_code == 422
    assert "credit_code" in error_of(bad)["fields"]
    assert chat.requests == []
    made = c.post("/api/v1/party", json={"name": "福建公司", "credit_code": VALID}, headers=h)
    assert made.status_code == 201, made.text
    assert [r.json for r in chat.requests] == [
        {"msgtype": "text", "text": {"content": f"新客户 福建公司: {VALID}"}}]
    check = c.post("/api/v1/cn-ids/check", json={"value": VALID}, headers=h)
    assert check.status_code == 200 and check.get_json()["valid"] is True


def test_through_the_ui(crm_plugged: Context, chat: Any) -> None:
    c = create_app(crm_plugged, testing=True).test_client()
    sign_in(c)
    refused = post_form(c, "/party/new", {"name": "坏公司", "credit_code": BROKEN})
    assert refused.status_code == 422 or "is-invalid" in refused.text
    assert chat.requests == []
    saved = post_form(c, "/party/new", {"name": "福建公司", "credit_code": VALID})
    assert saved.status_code == 302, saved.text
    assert len(chat.requests) == 1
    assert "福建公司" in chat.requests[0].json["text"]["content"]
