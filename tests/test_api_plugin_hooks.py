"""Plugins and the API: keys a `crm_record_loaded` hook adds (`x_...`) appear in API reads, an
API blueprint from `crm_api_blueprints` gets the API's sign-in and JSON errors, and a
`crm_record_validate` refusal is a 422 naming the field."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify

from app.plugins import hookimpl, make_plugin_manager
from app.records import Change
from app.web import create_app
from tests.apikit import error_of, token_for

routes = Blueprint("score_api", __name__, url_prefix="/scores")


@routes.get("/<int:n>")
def score(n: int) -> Any:
    if n > 100:
        abort(404)
    return jsonify({"score": n * 2})


class Scoring:
    @hookimpl
    def crm_record_loaded(self, entity: str, record: dict[str, Any]) -> None:
        if entity == "account":
            record["x_score"] = len(record.get("name") or "")

    @hookimpl
    def crm_record_validate(self, change: Change) -> list[tuple[str | None, str]]:
        if change.values.get("name") == "Forbidden Ltd":
            return [("name", "This name is on the sanctions list.")]
        return []

    @hookimpl
    def crm_api_blueprints(self) -> list[Blueprint]:
        return [routes]


def test_plugins_extend_the_api(crm: Any) -> None:
    app = create_app(crm, plugins=make_plugin_manager([Scoring()], entry_points=False),
                     testing=True)
    c = app.test_client()
    h = token_for(crm)
    made = c.post("/api/v1/account", json={"name": "Acme"}, headers=h).get_json()
    got = c.get(f"/api/v1/account/{made['id']}", headers=h).get_json()
    assert got["x_score"] == 4
    refused = c.post("/api/v1/account", json={"name": "Forbidden Ltd"}, headers=h)
    assert refused.status_code == 422
    assert error_of(refused)["fields"] == {"name": ["This name is on the sanctions list."]}
    assert c.get("/api/v1/scores/21", headers=h).get_json() == {"score": 42}
    assert c.get("/api/v1/scores/21").status_code == 401
    missing = c.get("/api/v1/scores/500", headers=h)
    assert missing.status_code == 404 and error_of(missing)["message"]
