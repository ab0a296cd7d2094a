"""The Archive page (administrators only: app/web/archive.py) and `crm archive`: choose an
entity and an age, preview the count and a sample, archive (CSRF), follow the run, restore it;
the command line does the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app import clock
from app.context import Context
from app.model.archive import archived
from tests.consentkit import PASSWORDS, consent_deployment, records
from tests.webkit import csrf, sign_in, web_app

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Context]:
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    clock.set_now(NOW)
    c = consent_deployment(tmp_path, database_url, workflows=("archiving.yaml",), reports=())
    rs = records(c)
    for i, day in enumerate(("2023-01-05", "2024-02-01", "2026-05-20")):
        rs.create("case", {"subject": f"Case {i}", "status": "closed", "resolution": "ok",
                           "resolved_at": f"{day}T00:00:00+00:00"})
    rs.create("case", {"subject": "Open", "status": "new"})
    try:
        yield c
    finally:
        clock.set_now(None)
        c.dispose()


def _archived(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(archived)).scalar_one())


def test_preview_archive_and_restore_on_the_page(ctx: Context) -> None:
    client = web_app(ctx).test_client()
    sign_in(client, "admin")
    home = client.get("/")
    assert 'id="archive-link"' in home.text
    page = client.get("/archive/")
    assert page.status_code == 200 and 'value="case"' in page.text
    bad = client.get("/archive/?entity=case&amount=0&unit=d")
    assert bad.status_code == 400 and 'id="archive-error"' in bad.text
    preview = client.get("/archive/?entity=case&amount=1&unit=y")
    assert 'id="archive-count">2<' in preview.text
    assert "Case 0" in preview.text and "Case 1" in preview.text and "Case 2" not in preview.text
    assert _archived(ctx) == 0
    assert client.post("/archive/run", data={"entity": "case", "age": "1y"}).status_code == 400
    done = client.post("/archive/run", data={"entity": "case", "age": "1y",
                                             "csrf_token": csrf(preview.text)})
    assert done.status_code == 303 and "/archive/runs/" in done.headers["Location"]
    run = client.get(done.headers["Location"])
    assert 'id="run-progress">2 / 2<' in run.text and 'data-status="done"' in run.text
    assert _archived(ctx) == 2
    again = client.post("/archive/run", data={"entity": "case", "age": "1y",
                                              "csrf_token": csrf(run.text)})
    assert again.status_code == 303  # nothing left: a message, nothing done
    assert "No record is old enough" in client.get(again.headers["Location"]).text
    restored = client.post(done.headers["Location"] + "/restore",
                           data={"csrf_token": csrf(run.text)})
    assert restored.status_code == 303 and _archived(ctx) == 0


def test_only_administrators(ctx: Context) -> None:
    client = web_app(ctx).test_client()
    sign_in(client, "mkt", PASSWORDS["mkt"])
    assert 'id="archive-link"' not in client.get("/").text
    assert client.get("/archive/").status_code == 403
    token = csrf(client.get("/").text)
    assert client.post("/archive/run", data={"entity": "case", "age": "1y",
                                             "csrf_token": token}).status_code == 403
    assert _archived(ctx) == 0


def test_cli(ctx: Context) -> None:
    from app.cli import main

    def crm(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--config", str(ctx.settings.config_file), *args])
        assert "Traceback" not in result.output
        return result.exit_code, result.output

    code, out = crm("archive", "run", "--entity", "case", "--older-than", "1y", "--dry-run")
    assert code == 0 and "2 case record(s) older than 1y" in out and "would be archived" in out
    assert _archived(ctx) == 0
    code, out = crm("archive", "run", "--entity", "case", "--older-than", "3y")
    assert code == 0 and "archived 1 case record(s)" in out, out
    code, out = crm("archive", "run", "--entity", "note", "--older-than", "2y")
    assert code == 2 and "Refused" in out
    code, out = crm("archive", "run", "--entity", "case", "--older-than", "soon")
    assert code == 2 and "is not an age" in out
    code, out = crm("archive", "list")
    assert code == 0 and "case" in out and "done" in out and "1/1" in out
    run_id = out.split()[0].lstrip("#")
    code, out = crm("archive", "restore", "--entity", "case", "--id", "1")
    assert code == 0 and "restored" in out and _archived(ctx) == 0
    code, out = crm("archive", "restore", run_id)
    assert code == 0 and "0 record(s) restored" in out
    code, out = crm("archive", "restore")
    assert code == 2
