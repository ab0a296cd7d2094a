"""The OpenAPI document describes the modules' own operations (sales targets, the knowledge
base search, duplicates and merge) to the callers who may use them, the document stays valid,
and the operations answer as it says (schemathesis, on the default pack with its shipped
workflows)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from jsonschema import Draft202012Validator

from app.context import Context
from tests.apikit import openapi_document, token_for
from tests.servicekit import service_deployment
from tests.targetskit import records
from tests.test_api_schemathesis import CHECKS
from tests.webkit import web_app

MODULE_PATHS = ("/targets/metrics", "/targets/attainment", "/targets/leaderboard",
                "/kb/search", "/contact/duplicates", "/contact/merge",
                "/contact/duplicates/dismiss", "/account/duplicates", "/account/merge")


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = service_deployment(tmp_path, database_url)
    yield c
    c.dispose()


@pytest.fixture
def web(ctx: Context) -> Flask:
    return web_app(ctx)



def test_the_modules_are_documented_for_who_may_use_them(web: Flask, ctx: Context) -> None:
    admin = openapi_document(web, ctx, "admin")
    for path in MODULE_PATHS:
        assert path in admin["paths"], path
    for name in ("TargetAttainment", "TargetLeaderboard", "KbSearch", "DuplicateGroups",
                 "MergeRequest", "Merged"):
        Draft202012Validator.check_schema(admin["components"]["schemas"][name])
    loaded = schemathesis.openapi.from_dict(admin)
    assert all(result.ok() for result in loaded.get_all_operations())
    agent = openapi_document(web, ctx, "agent")  # reads articles; merges nothing; no targets
    assert "/kb/search" in agent["paths"]
    assert not any(p.endswith(("/merge", "/duplicates")) for p in agent["paths"])
    assert not any(p.startswith("/targets/") for p in agent["paths"])


def test_the_module_operations_answer_as_documented(web: Flask, ctx: Context) -> None:
    rec = records(ctx)
    keep = rec.create("contact", {"last_name": "Li", "email": "li@example.cn"})
    lose = rec.create("contact", {"last_name": "Lee", "email": "LI@Example.cn"})
    headers = token_for(ctx, "admin")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", web, headers=headers)
    ops = {f"{o.method.upper()} {o.path}": o
           for o in (r.ok() for r in schema.get_all_operations())}

    def call(label: str, status: int, *, body: Any = None, query: Any = None) -> Any:
        case = ops[label].Case(**({} if body is None else {"body": body}),
                               **({} if query is None else {"query": query}))
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        assert response.status_code == status, (label, response.text)
        return response.json()

    assert call("GET /targets/metrics", 200)["data"]
    board = call("GET /targets/attainment", 200, query={"period": "2026-11"})
    assert board["period"] == "2026-11" and board["period_type"] == "month"
    call("GET /targets/leaderboard", 200, query={"period": "2026-Q4"})
    call("GET /targets/attainment", 404, query={"metric": "no_such_metric"})
    call("GET /targets/attainment", 400, query={"period": "someday"})
    assert call("GET /kb/search", 200, query={"q": "password"})["count"] >= 0
    call("GET /kb/search", 400, query={"limit": 0})
    groups = call("GET /contact/duplicates", 200)["data"]
    assert any(set(g["ids"]) == {keep["id"], lose["id"]} for g in groups)
    merged = call("POST /contact/merge", 200,
                  body={"survivor": keep["id"], "losers": [lose["id"]]})
    assert merged["merged"] == [lose["id"]] and merged["data"]["id"] == keep["id"]
    call("POST /contact/merge", 404, body={"survivor": keep["id"], "losers": [lose["id"]]})
