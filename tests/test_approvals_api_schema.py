"""The approval routes in the OpenAPI document: per role (statistics only for the roles that
may read them), per entity (only where an approval process governs it), absent without any
process; and schemathesis over every approval operation of a deployment with approvals in
flight: no server error, and only answers the document declares."""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from app.context import Context
from tests import approvalkit
from tests.apikit import token_for
from tests.approvalkit import Flow
from tests.test_api_schemathesis import CHECKS
from tests.webkit import web_app

EXAMPLES = int(os.environ.get("CRM_SCHEMATHESIS_EXAMPLES", "6"))
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


def conformance_failures(app: Any, headers: dict[str, str]) -> tuple[int, list[str]]:
    """Run schemathesis over the approval operations as the token's user: (operations,
    failures)."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    failures: list[str] = []
    operations = 0
    for result in schema.include(path_regex="approval|delegation").get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}"[:3000])
    return operations, failures


def test_every_approval_operation_conforms(ctx: Context) -> None:
    flow = Flow(ctx)
    rep = flow.as_user("rep")
    for discount in (30, 45, 10):
        quote = flow.quote(discount=discount)
        if discount > 20:
            rep.submit("quote", quote, flow.who("rep"))
    app = web_app(ctx)
    operations, failures = conformance_failures(app, token_for(ctx, "admin"))
    assert operations == 13  # with the statistics
    count, more = conformance_failures(app, token_for(ctx, "manager"))
    assert count == 12
    failures += more
    assert not failures, "\n\n".join(failures)
