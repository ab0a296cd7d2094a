"""`crm document generate|list` (app/cli_documents.py): a quote's PDF made as a user, written
to a file with -o, listed; refusals print the reason and exit 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli_errors import EXIT_REFUSED
from app.context import Context
from tests.documentskit import (
    approved_quote,
    documents_deployment,
    module_database_url,
    pdf_text,
    uses_database,
)

pytestmark = uses_database()
__all__ = ["module_database_url"]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory, module_database_url: str
        ) -> Iterator[Context]:
    c = documents_deployment(tmp_path_factory.mktemp("doccli"), module_database_url)
    try:
        yield c
    finally:
        c.dispose()


def crm(ctx: Context, *args: str) -> tuple[int, str]:
    from app.cli import main

    result = CliRunner().invoke(main, ["--config", str(ctx.settings.config_file), *args], env={
        "CRM_DATABASE_URL": ctx.settings.database_url, "CRM_SECRET_KEY": "test-secret"})
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_generate_to_a_file_and_list(ctx: Context, tmp_path: Path) -> None:
    quote = approved_quote(ctx)
    out = tmp_path / "quote.pdf"
    code, text = crm(ctx, "document", "generate", "quote_pdf", "--id", str(quote["id"]),
                     "--as", "rep", "-o", str(out))
    assert code == 0, text
    made = json.loads(text)
    assert made["version"] == 1 and made["filename"] == f"{quote['number']}-v1.pdf"
    assert quote["number"] in pdf_text(out.read_bytes())
    code, text = crm(ctx, "document", "generate", "quote_pdf", "--id", str(quote["id"]))
    assert code == 0 and json.loads(text)["version"] == 2  # as the system
    code, text = crm(ctx, "document", "list", "--entity", "quote", "--id", str(quote["id"]))
    assert code == 0
    lines = text.strip().splitlines()
    assert lines[0].startswith(f"quote_pdf v2  {quote['number']}-v2.pdf")
    assert lines[1].startswith("quote_pdf v1") and "Rep" in lines[1]
    code, text = crm(ctx, "document", "list", "--entity", "quote", "--id", str(quote["id"]),
                     "--json")
    assert [r["version"] for r in json.loads(text)["data"]] == [2, 1]


def test_refusals_exit_2_with_the_reason(ctx: Context) -> None:
    quote = approved_quote(ctx, status="draft")
    code, text = crm(ctx, "document", "generate", "quote_pdf", "--id", str(quote["id"]),
                     "--as", "rep")
    assert code == EXIT_REFUSED and "it must meet" in text
    code, text = crm(ctx, "document", "generate", "quote_pdf", "--id", str(quote["id"]),
                     "--as", "rep2")
    assert code == EXIT_REFUSED and "does not exist" in text
    code, text = crm(ctx, "document", "list", "--entity", "quote", "--id", "999999")
    assert code == EXIT_REFUSED
    code, text = crm(ctx, "document", "generate", "quote_pdf", "--id", "1", "--as", "nobody")
    assert code != 0 and "no active user 'nobody'" in text
