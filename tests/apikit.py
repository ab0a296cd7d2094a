"""Test kit for the REST API: a deployment's app and a bearer token for a user."""

from __future__ import annotations

import os
from typing import Any

from app.context import Context
from app.tokens import create_token
from tests.webkit import user_id


def token_for(ctx: Context, username: str = "admin", *, scope: str = "write",
              expires_days: int | None = None) -> dict[str, str]:
    """Headers that sign in `username` with a new token."""
    with ctx.engine.begin() as conn:
        _id, text = create_token(conn, user_id(ctx, username), "test", scope=scope,
                                 expires_days=expires_days)
    return {"Authorization": f"Bearer {text}"}


def error_of(resp: Any) -> dict[str, Any]:
    body = resp.get_json()
    assert isinstance(body, dict) and "error" in body, resp.text
    assert body["error"]["status"] == resp.status_code
    return dict(body["error"])


#: examples per operation of the conformance runs (CRM_SCHEMATHESIS_EXAMPLES to raise it)
EXAMPLES = int(os.environ.get("CRM_SCHEMATHESIS_EXAMPLES", "6"))


def conformance_failures(app: Any, headers: dict[str, str], path_regex: str
                         ) -> tuple[int, list[str]]:
    """Run schemathesis over the operations whose path matches `path_regex`, as the token's
    user, checking every answer against the OpenAPI document: (operations, failures)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    from tests.test_api_schemathesis import CHECKS

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    failures: list[str] = []
    operations = 0
    for result in schema.include(path_regex=path_regex).get_all_operations():
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


def openapi_document(web: Any, ctx: Context, username: str) -> dict[str, Any]:
    """The OpenAPI document as `username` sees it (each role sees its own)."""
    doc: dict[str, Any] = web.test_client().get(
        "/api/v1/openapi.json", headers=token_for(ctx, username)).get_json()
    return doc
