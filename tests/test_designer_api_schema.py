"""The designer routes in the OpenAPI document: in the administrators' document only, and
schemathesis over every designer operation of a deployment with a draft and a history: no
server error, and only answers the document declares."""

from __future__ import annotations

from typing import Any

from app.context import Context
from app.designer.service import Designer
from tests import designerkit
from tests.apikit import conformance_failures, token_for
from tests.designerkit import field_change
from tests.webkit import web_app

PATHS = {"/config/draft", "/config/draft/changes", "/config/draft/changes/{number}",
         "/config/draft/rebase", "/config/draft/preview", "/config/draft/apply",
         "/config/versions", "/config/versions/{a}/diff/{b}", "/config/versions/{id}/files",
         "/config/versions/{id}/revert", "/config/purge"}

designer_ctx = designerkit.designer_ctx


def document(ctx: Context, user: str) -> dict[str, Any]:
    resp = web_app(ctx).test_client().get("/api/v1/openapi.json",
                                          headers=token_for(ctx, user))
    assert resp.status_code == 200
    doc: dict[str, Any] = resp.get_json()
    return doc


def test_only_the_administrators_document_lists_the_designer(designer_ctx: Context) -> None:
    admin = document(designer_ctx, "admin")
    assert set(admin["paths"]) >= PATHS
    assert {"name": "config", "description": "Config designer"} in admin["tags"]
    apply = admin["paths"]["/config/draft/apply"]["post"]
    assert set(apply["responses"]) >= {"200", "403", "409", "422"}
    assert apply["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ConfigConflict"}
    schemas = admin["components"]["schemas"]
    assert {"ConfigDraft", "ConfigPreview", "ConfigVersion", "ConfigChange"} <= set(schemas)
    assert "field" in schemas["ConfigChange"]["properties"]["op"]["enum"]
    rep = document(designer_ctx, "rep")
    assert not {p for p in rep["paths"] if p.startswith("/config/")}
    assert "ConfigDraft" not in rep["components"]["schemas"]


def test_every_designer_operation_conforms(designer_ctx: Context) -> None:
    designer = Designer(designer_ctx)
    designer.add("admin", field_change(name="tier"))
    designer.apply("admin", message="tier")  # a history of two versions with files
    designer.add("admin", {"op": "remove_field", "entity": "account", "field": "tier"})
    operations, failures = conformance_failures(web_app(designer_ctx),
                                                token_for(designer_ctx, "admin"), "^/config/")
    assert operations == 13
    assert not failures, "\n\n".join(failures)
