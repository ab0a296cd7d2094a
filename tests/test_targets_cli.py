"""`crm targets metrics|attainment|leaderboard`: the board as text and JSON, as the system or
as a user (their view), and refusals with exit code 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli_errors import EXIT_REFUSED
from app.context import Context
from app.targets.periods import Period
from tests.targetskit import deal, deployment, target


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Context]:
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    made = deployment(tmp_path, database_url)
    try:
        deal(made, "alice", "1500", date(2026, 11, 3))
        deal(made, "bob", "500", date(2026, 11, 30))
        deal(made, "bob", "700", date(2026, 12, 1))
        target(made, "revenue", Period("month", date(2026, 11, 1)), "2000", rep="alice")
        target(made, "revenue", Period("month", date(2026, 11, 1)), "1000", rep="bob")
        yield made
    finally:
        made.dispose()


def crm(ctx: Context, *args: str) -> tuple[int, str]:
    from app.cli import main

    result = CliRunner().invoke(main, ["--config", str(ctx.settings.config_file), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_attainment_as_text_and_json(ctx: Context) -> None:
    code, out = crm(ctx, "targets", "attainment", "--period", "2026-11", "--metric", "revenue")
    assert code == 0, out
    assert "Revenue · 2026-11 (2026-11-01 .. 2026-11-30)" in out
    assert "1. Alice East: 75%  (1,500 / 2,000)  [East]" in out
    assert "2. Bob East: 50%  (500 / 1,000)  [East]" in out
    code, out = crm(ctx, "targets", "attainment", "--period", "2026-11", "--json")
    body = json.loads(out)
    assert [(r["name"], r["actual"]) for r in body["reps"]] == [
        ("Alice East", "1500.00"), ("Bob East", "500.00")]


def test_leaderboard_as_a_rep(ctx: Context) -> None:
    code, out = crm(ctx, "targets", "leaderboard", "--period", "2026-11", "--as", "bob")
    assert code == 0, out
    assert "1. Alice East: 75%  [East]\n" in out and "2. Bob East: 50%  (500 / 1,000)" in out
    code, out = crm(ctx, "targets", "leaderboard", "--period", "2026-11", "--as", "bob",
                    "--json")
    assert [r["name"] for r in json.loads(out)["ranking"]] == ["Alice East", "Bob East"]


def test_metrics_and_refusals(ctx: Context) -> None:
    code, out = crm(ctx, "targets", "metrics")
    assert code == 0 and "revenue  Revenue  (opportunity: sum of amount by close_date" in out
    code, out = crm(ctx, "targets", "attainment", "--period", "someday")
    assert code == EXIT_REFUSED and "Refused:" in out and "2026-Q4" in out
    code, out = crm(ctx, "targets", "attainment", "--as", "agent")
    assert code == EXIT_REFUSED and "Refused:" in out
