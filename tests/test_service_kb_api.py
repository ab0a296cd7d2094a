"""The knowledge base outside the pages: `GET /api/v1/kb/search` (published articles only, as
the token's user may read them; 400 for bad parameters, 403 for users who may read no article)
and `crm kb search` / `crm kb categories`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli_errors import EXIT_REFUSED
from app.context import Context
from app.users import create_user
from tests.apikit import error_of, token_for
from tests.servicekit import Desk, service_deployment, web


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Context]:
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    made = service_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def _articles(desk: Desk) -> dict[str, int]:
    hardware = desk.category("Hardware")
    return {"hardware": hardware,
            "title": desk.article("Printer jams", category=hardware, summary="Open tray 2."),
            "body": desk.article("Paper feed", body="The printer pulls two sheets."),
            "draft": desk.article("Printer draft", status="draft")}


def test_the_api_searches_published_articles(ctx: Context) -> None:
    ids = _articles(Desk(ctx))
    client = web(ctx).test_client()
    headers = token_for(ctx, "svcmanager")  # an editor: still published articles only
    body = client.get("/api/v1/kb/search?q=printer", headers=headers).get_json()
    assert [a["id"] for a in body["data"]] == [ids["title"], ids["body"]]
    assert body["count"] == 2 and body["limit"] == 20
    first = body["data"][0]
    assert first["category"] == {"id": ids["hardware"], "title": "Hardware"}
    assert (first["summary"], first["status"], first["url"]) == (
        "Open tray 2.", "published", f"/kb/{ids['title']}")
    one = client.get(f"/api/v1/kb/search?q=printer&category={ids['hardware']}&limit=1",
                     headers=headers).get_json()
    assert [a["id"] for a in one["data"]] == [ids["title"]]
    rep = client.get("/api/v1/kb/search?q=printer", headers=token_for(ctx, "rep")).get_json()
    assert len(rep["data"]) == 2


def test_bad_parameters_are_400_and_no_grant_is_403(ctx: Context) -> None:
    client = web(ctx).test_client()
    headers = token_for(ctx, "agent")
    for query in ("limit=0", "limit=abc", "limit=9999", "category=x", "category=424242",
                  "sort=title", "language=fr", "offset=-1"):
        resp = client.get(f"/api/v1/kb/search?q=a&{query}", headers=headers)
        assert resp.status_code == 400, query
        assert error_of(resp)["message"]
    with ctx.engine.begin() as conn:
        create_user(conn, "nobody", "nobody-pass-12", [], ctx.settings.roles)
    assert client.get("/api/v1/kb/search?q=a", headers=token_for(ctx, "nobody")
                      ).status_code == 403
    assert client.get("/api/v1/kb/search?q=a").status_code == 401


def _crm(ctx: Context, *args: str) -> tuple[int, str]:
    from app.cli import main

    result = CliRunner().invoke(main, ["--config", str(ctx.settings.config_file), *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_the_cli_searches_and_lists_categories(ctx: Context) -> None:
    ids = _articles(Desk(ctx))
    code, out = _crm(ctx, "kb", "search", "printer", "--as", "agent")
    assert code == 0, out
    assert out.index("Printer jams") < out.index("Paper feed") and "Printer draft" not in out
    assert "[Hardware]" in out and "2 of 2" in out
    code, out = _crm(ctx, "kb", "search", "printer", "--json")
    assert [a["id"] for a in json.loads(out)["data"]] == [ids["title"], ids["body"]]
    code, out = _crm(ctx, "kb", "search", "printer", "--category", "424242")
    assert code == EXIT_REFUSED and "category" in out
    code, out = _crm(ctx, "kb", "categories")
    assert code == 0 and f"#{ids['hardware']} Hardware (1)" in out
