"""The OpenAPI document describes the record sub-resources: shares everywhere, `/moves` where a
stage machine governs the entity, `/convert/<name>` where a conversion starts, and (for admins
only) the personal data requests; the document stays valid OpenAPI 3.1 and those operations
answer as it says (schemathesis, in a deployment with workflows/sales.yaml)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from app.context import Context
from tests.apikit import openapi_document, token_for
from tests.stageskit import records
from tests.test_api_schemathesis import CHECKS
from tests.webkit import user_id, web_app

SUB = re.compile(r"/\{id\}/(shares|moves|convert|personal-data|erase)")


@pytest.fixture
def ctx(workflow_crm: Context) -> Context:
    return workflow_crm


@pytest.fixture
def web(ctx: Context) -> Flask:
    return web_app(ctx)



def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _operation(result: Any) -> Any:
    """The operation of a loader result (an error names the invalid part of the document)."""
    return result.ok()


def test_the_sub_resources_are_documented(web: Flask, ctx: Context) -> None:
    doc = openapi_document(web, ctx, "admin")
    paths = doc["paths"]
    assert {"/opportunity/{id}/moves",
            "/lead/{id}/convert/lead_to_customer", "/lead/{id}/shares",
            "/lead/{id}/shares/{share_id}", "/contact/{id}/personal-data",
            "/contact/{id}/erase"} <= set(paths)
    assert "/account/{id}/moves" not in paths and "/contact/{id}/convert/lead_to_customer" \
        not in paths
    assert set(paths["/lead/{id}/convert/lead_to_customer"]["post"]["responses"]) >= {
        "201", "400", "401", "403", "404", "409", "422", "429"}
    rep = openapi_document(web, ctx, "rep")
    assert "/contact/{id}/personal-data" not in rep["paths"]
    assert "/lead/{id}/shares" in rep["paths"]


def test_the_document_is_valid_openapi_3_1(web: Flask, ctx: Context) -> None:
    doc = openapi_document(web, ctx, "admin")
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    for ref in set(_refs(doc)):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for path, item in doc["paths"].items():
        for op in item.values():
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert names == set(re.findall(r"\{(\w+)\}", path)), path
    loaded = schemathesis.openapi.from_dict(doc)
    assert all(_operation(result) for result in loaded.get_all_operations())


def test_the_sub_resources_answer_as_documented(web: Flask, ctx: Context) -> None:
    rec = records(ctx)
    acc = rec.create("account", {"name": "Acme"})
    cid = rec.create("contact", {"last_name": "王", "account": acc["id"]})["id"]
    lid = rec.create("lead", {"company": "Acme Ltd", "last_name": "Wei",
                              "status": "qualified"})["id"]
    oid = rec.create("opportunity", {"name": "Big deal", "account": acc["id"]})["id"]
    headers = token_for(ctx, "admin")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", web, headers=headers)
    ops = {f"{o.method.upper()} {o.path}": o
           for o in (_operation(r) for r in schema.get_all_operations())}

    def call(label: str, status: int, body: Any = None, **path: int) -> Any:
        case = ops[label].Case(path_parameters={"id": path.pop("id"), **path},
                               **({} if body is None else {"body": body}))
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        assert response.status_code == status, (label, response.text)
        return response.json() if response.content else None

    assert call("GET /lead/{id}/shares", 200, id=lid) == {"data": []}
    made = call("POST /lead/{id}/shares", 201, {"user": user_id(ctx, "rep"), "access": "edit"},
                id=lid)
    call("POST /lead/{id}/shares", 422, {"team": "no such team"}, id=lid)
    call("DELETE /lead/{id}/shares/{share_id}", 204, id=lid, share_id=made["id"])
    call("DELETE /lead/{id}/shares/{share_id}", 404, id=lid, share_id=made["id"])
    assert call("GET /opportunity/{id}/moves", 200, id=oid)["field"] == "stage"
    call("POST /lead/{id}/convert/lead_to_customer", 201, id=lid)
    call("POST /lead/{id}/convert/lead_to_customer", 409, id=lid)
    assert call("GET /contact/{id}/personal-data", 200, id=cid)["id"] == cid
    call("POST /contact/{id}/erase", 200, {"mode": "anonymise"}, id=cid)
    failures: list[str] = []
    tried = 0
    for operation in ops.values():
        if not SUB.search(operation.path) or not operation.path.startswith(
                ("/lead/", "/contact/", "/opportunity/")):
            continue
        tried += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}"[:3000])
    assert tried >= 10
    assert not failures, "\n\n".join(failures)
