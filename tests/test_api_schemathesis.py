"""Schemathesis against the live OpenAPI document of the default CRM pack: every operation of
every entity, with generated parameters and bodies (valid and invalid), must answer without a
server error and with a status, content type, headers and body the document declares."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.tokens import create_token
from tests.webkit import records_of, web_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]
#: examples per operation (more with CRM_SCHEMATHESIS_EXAMPLES for a deeper local run)
EXAMPLES = int(os.environ.get("CRM_SCHEMATHESIS_EXAMPLES", "6"))


@pytest.fixture
def api(crm: Any) -> tuple[Any, dict[str, str]]:
    app = web_app(crm)
    with crm.engine.begin() as conn:
        _id, token = create_token(conn, 1, "schemathesis")
    rec = records_of(app)
    acc = rec.create("account", {"name": "Acme 上海"})
    rec.create("contact", {"last_name": "王", "account": acc["id"]})
    return app, {"Authorization": f"Bearer {token}"}


def test_every_operation_conforms_to_the_document(api: tuple[Any, dict[str, str]]) -> None:
    app, headers = api
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
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
    assert operations > 50
    assert not failures, "\n\n".join(failures)
