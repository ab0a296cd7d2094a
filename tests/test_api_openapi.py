"""The OpenAPI document follows the live config (a published field appears at once), the
metadata endpoint describes entities in both languages, and the docs page runs from installed
assets with no CDN."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from werkzeug.test import Client

from app.migrate.publish import publish
from app.runtime import Runtime
from tests.apikit import token_for
from tests.factories import meta_of
from tests.webkit import sign_in, web_app


def test_document_covers_every_entity_and_field(crm: Any) -> None:
    c = web_app(crm).test_client()
    doc = c.get("/api/v1/openapi.json", headers=token_for(crm)).get_json()
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    opp = schemas["Opportunity"]["properties"]
    assert opp["stage"]["enum"][:2] == ["prospecting", "qualification"] or "enum" in opp["stage"]
    assert opp["amount"]["type"] == ["string", "null"]
    assert opp["account"]["type"] == ["integer", "null"]
    assert "expected_revenue" not in schemas["OpportunityCreate"]["properties"] or \
        opp.get("expected_revenue", {}).get("readOnly")
    assert "name" in schemas["OpportunityCreate"]["required"]
    for entity in ("account", "contact", "lead", "opportunity", "case"):
        assert {f"/{entity}", f"/{entity}/{{id}}", f"/{entity}/bulk"} <= set(doc["paths"])
    params = {p["name"] for p in doc["paths"]["/opportunity"]["get"]["parameters"]}
    assert {"q", "sort", "limit", "cursor", "fields", "expand", "f.amount.gte",
            "f.stage.in", "f.close_date.between"} <= params


def test_document_changes_when_the_config_is_published(tmp_path: Path, crm: Any) -> None:
    client = Client(Runtime(crm))
    h = token_for(crm)
    before = client.get("/api/v1/openapi.json", headers=h).json
    assert "loyalty_tier" not in before["components"]["schemas"]["Account"]["properties"]
    path = tmp_path / "schemas" / "account.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["fields"]["loyalty_tier"] = {"type": "picklist", "choices": ["gold", "silver"]}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    publish(crm.engine, meta_of(tmp_path / "schemas"))
    after = client.get("/api/v1/openapi.json", headers=h).json
    tier = after["components"]["schemas"]["Account"]["properties"]["loyalty_tier"]
    assert tier["enum"] == ["gold", "silver", None]
    assert after["info"]["version"] != before["info"]["version"]
    made = client.post("/api/v1/account", json={"name": "Tiered", "loyalty_tier": "gold"},
                       headers=h)
    assert made.status_code == 201 and made.json["loyalty_tier"] == "gold"


def test_meta_describes_entities_and_fields(crm: Any) -> None:
    c = web_app(crm).test_client()
    h = token_for(crm)
    meta = c.get("/api/v1/meta", headers=h).get_json()
    names = [e["name"] for e in meta["entities"]]
    assert "opportunity" in names and meta["version"] >= 1
    opp = c.get("/api/v1/meta/opportunity", headers=h).get_json()
    stage = next(f for f in opp["fields"] if f["name"] == "stage")
    assert stage["type"] == "picklist" and "in" in stage["filter_ops"]
    assert opp["label"]["zh"] == "商机"
    assert c.get("/api/v1/meta/nothing", headers=h).status_code == 404


def test_docs_page_uses_local_assets(crm: Any) -> None:
    c = web_app(crm).test_client()
    assert c.get("/api/v1/docs").status_code == 302  # sign in first
    sign_in(c)
    page = c.get("/api/v1/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert "/api/v1/openapi.json" in page.text
    with c.get("/api/v1/docs/assets/swagger-ui-bundle.js") as js:
        assert js.status_code == 200 and b"SwaggerUI" in js.data
    with c.get("/api/v1/docs/assets/swagger-ui.css") as css:
        assert css.status_code == 200
    assert c.get("/api/v1/docs/assets/..%2Fswagger_ui.py").status_code == 404
    assert c.get("/api/v1/docs/assets/index.html").status_code == 404
    assert c.get("/api/v1/openapi.json").status_code == 200  # the session reads it too
