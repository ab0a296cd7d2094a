"""`crm report list|run|alerts`: the live config's reports, a report computed as a user (text,
JSON, CSV), refusals, and the alerts checked now with `--run`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli_errors import EXIT_REFUSED
from app.context import Context
from app.reports import store
from app.reports.definition import report_from_data
from tests.reportskit import deals, records, report_deployment
from tests.webkit import user_id


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Context]:
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    made = report_deployment(tmp_path, database_url)
    try:
        deals(made)
        yield made
    finally:
        made.dispose()


def crm(ctx: Context, *args: str) -> tuple[int, str]:
    from app.cli import main

    result = CliRunner().invoke(main, ["--config", str(ctx.settings.config_file), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_list_the_reports(ctx: Context) -> None:
    code, out = crm(ctx, "report", "list")
    assert code == 0, out
    # names are padded to the longest one: compare the words, not the spacing
    assert any(line.split() == ["pipeline_by_stage", "Pipeline", "by", "stage",
                                "(opportunity,", "funnel,", "config)"]
               for line in out.splitlines()), out
    with ctx.engine.begin() as conn:
        rid = store.save_report(conn, user_id(ctx, "rep"), report_from_data(
            "x", {"entity": "lead", "label": {"en": "My leads"}}))
    code, out = crm(ctx, "report", "list", "--as", "svcboss", "--json")
    refs = [r["ref"] for r in json.loads(out)["reports"]]
    assert "open_cases_by_priority" in refs and "pipeline_by_stage" not in refs
    code, out = crm(ctx, "report", "list", "--as", "rep", "--json")
    assert {"ref": f"u{rid}", "label": "My leads", "entity": "lead", "chart": "table",
            "owner": "rep"} in json.loads(out)["reports"]


def test_run_as_the_system_and_as_a_user(ctx: Context) -> None:
    code, out = crm(ctx, "report", "run", "pipeline_by_stage")
    assert code == 0, out
    assert out.splitlines() == [
        "Pipeline by stage", "  Prospecting: Count: 1, Amount: 100",
        "  Qualification: Count: 1, Amount: -", "  Proposal: Count: 1, Amount: 200",
        "Total: Count: 3, Amount: 300"]
    code, out = crm(ctx, "report", "run", "pipeline_by_stage", "--as", "rep2", "--json")
    body = json.loads(out)
    assert body["rows"] == [{"keys": ["qualification"], "labels": ["Qualification"],
                             "values": {"count": 1, "sum_amount": None}}]
    code, out = crm(ctx, "report", "run", "won_by_month", "--csv")
    assert list(csv.reader(io.StringIO(out))) == [
        ["Close date", "Won revenue"], ["2026-02", "300"], ["2026-03", "1400"],
        ["Total", "1700"]]


def test_refusals(ctx: Context) -> None:
    code, out = crm(ctx, "report", "run", "pipeline_by_stage", "--as", "svcboss")
    assert code == EXIT_REFUSED and "Refused: You may not see Opportunities." in out
    code, out = crm(ctx, "report", "run", "nothing")
    assert code == EXIT_REFUSED and "There is no report 'nothing'." in out
    code, out = crm(ctx, "report", "run", "pipeline_by_stage", "--as", "ghost")
    assert code == 1 and "There is no active user 'ghost'." in out
    code, _out = crm(ctx, "report", "run", "pipeline_by_stage", "--json", "--csv")
    assert code == 2


def test_alerts_run_now(ctx: Context) -> None:
    rs = records(ctx)
    for i in range(11):
        rs.create("case", {"subject": f"Late {i}", "sla_due_at": "2026-01-01T00:00:00Z"})
    code, out = crm(ctx, "report", "alerts")
    assert code == 0, out
    assert "overdue_cases: Too many overdue cases - overdue_cases count > 10 (quiet; last " \
           "value -, checked -)" in out
    code, out = crm(ctx, "report", "alerts", "--run", "--json")
    found = {a["alert"]: a for a in json.loads(out)["alerts"]}
    assert found["overdue_cases"]["firing"] and found["overdue_cases"]["last_value"] == 11
    assert found["overdue_cases"]["notified"] == [user_id(ctx, "svcboss"),
                                                  user_id(ctx, "svcboss2")]
    assert not found["overdue_deals"]["firing"]
    code, out = crm(ctx, "report", "alerts", "--run")
    assert "overdue_cases" in out and "notified" not in out  # still firing: nobody told again
