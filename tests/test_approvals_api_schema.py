"""The approval routes in the OpenAPI document: per role (statistics only for the roles that
may read them), per entity (only where an approval process governs it), absent without any
process; and schemathesis over every approval operation of a deployment with approvals in
flight: no server error, and only answers the document declares."""

from __future__ import annotations

from typing import Any

from app.context import Context
from tests import approvalkit
from tests.apikit import conformance_failures, token_for
from tests.approvalkit import Flow
from tests.webkit import web_app

APPROVAL_PATHS = "approval|delegation"
GLOBAL = {"/approvals", "/approvals/{id}/recall", "/approvals/{id}/comments",
          "/approval-tasks/{id}/approve", "/approval-tasks/{id}/reject",
          "/approval-tasks/{id}/reassign", "/me/delegation"}


ctx = approvalkit.approval_ctx


def document(ctx: Context, user: str) -> dict[str, Any]:
    client = web_app(ctx).test_client()
    resp = client.get("/api/v1/openapi.json", headers=token_for(ctx, user))
    assert resp.status_code == 200
    doc: dict[str, Any] = resp.get_json()
    return doc


def test_the_document_per_role(ctx: Context) -> None:
    admin = document(ctx, "admin")
    paths = set(admin["paths"])
    assert GLOBAL | {"/approvals/stats", "/quote/{id}/approvals",
                     "/quote/{id}/approvals/simulate"} <= paths
    assert "/account/{id}/approvals" not in paths  # no process governs accounts
    assert {"name": "approvals", "description": "Approvals"} in admin["tags"]
    simulate = admin["paths"]["/quote/{id}/approvals/simulate"]["get"]
    process = next(p for p in simulate["parameters"] if p["name"] == "process")
    assert process["schema"]["enum"] == ["quote_discount"]
    submit = admin["paths"]["/quote/{id}/approvals"]["post"]
    assert set(submit["responses"]) >= {"201", "404", "409", "422"}
    assert "Approval" in admin["components"]["schemas"]
    director = set(document(ctx, "director")["paths"])
    assert "/approvals/stats" in director
    rep = set(document(ctx, "rep")["paths"])
    assert rep >= GLOBAL and "/approvals/stats" not in rep


def test_no_approval_routes_without_a_process(crm: Any) -> None:
    doc = document(crm, "admin")
    assert not {p for p in doc["paths"] if "approval" in p or "delegation" in p}
    assert "Approval" not in doc["components"]["schemas"]


def test_every_approval_operation_conforms(ctx: Context) -> None:
    flow = Flow(ctx)
    rep = flow.as_user("rep")
    for discount in (30, 45, 10):
        quote = flow.quote(discount=discount)
        if discount > 20:
            rep.submit("quote", quote, flow.who("rep"))
    app = web_app(ctx)
    operations, failures = conformance_failures(app, token_for(ctx, "admin"), APPROVAL_PATHS)
    assert operations == 16  # with the statistics and kb_article's (workflows/knowledge.yaml)
    count, more = conformance_failures(app, token_for(ctx, "manager"), APPROVAL_PATHS)
    assert count == 15
    failures += more
    assert not failures, "\n\n".join(failures)
