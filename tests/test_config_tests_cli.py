"""`crm config test`: one line per check and a summary, exit 0 / 1 (a check failed) / 2 (a
check file or the config cannot be used), --json, PATHS, --live against the published version,
and approvers looked up in the deployment's users."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from app.cli import main
from tests.approvalkit import approval_deployment
from tests.webkit import ROOT

FAILING = """\
checks:
  - name: reps see the margin
    access: {role: sales_rep, entity: opportunity, can_see: [margin]}
"""


@pytest.fixture
def project(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default pack with its workflows and config tests, published, with the org chart."""
    shutil.copytree(ROOT / "config_tests", tmp_path / "config_tests")
    ctx = approval_deployment(tmp_path, database_url)
    ctx.dispose()
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    return tmp_path


def crm(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["--config", str(project / "config.yaml"), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_the_shipped_checks_pass_on_the_yaml(project: Path) -> None:
    result = crm(project, "config", "test")
    assert result.exit_code == 0, result.output
    assert "Testing the YAML config" in result.output
    assert "PASS  a won deal needs a close date: " in result.output
    assert "20 check(s): 20 passed, 0 failed." in result.output


def test_a_failing_check_exits_1_naming_where_it_is(project: Path) -> None:
    (project / "config_tests" / "ours.yaml").write_text(FAILING, encoding="utf-8")
    result = crm(project, "config", "test")
    assert result.exit_code == 1
    assert ("FAIL  reps see the margin: expected sales_rep to see opportunity.margin, but it "
            "is hidden from sales_rep") in result.output
    assert "ours.yaml:2:5" in result.output
    assert "21 check(s): 20 passed, 1 failed." in result.output


def test_paths_choose_the_files(project: Path) -> None:
    ours = project / "ours.yaml"
    ours.write_text(FAILING, encoding="utf-8")
    result = crm(project, "config", "test", str(ours))
    assert result.exit_code == 1 and "1 check(s): 0 passed, 1 failed." in result.output


def test_json_output(project: Path) -> None:
    (project / "config_tests" / "ours.yaml").write_text(FAILING, encoding="utf-8")
    result = crm(project, "config", "test", "--json")
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["config"] == "yaml" and body["checks"] == 21 and body["failed"] == 1
    failed = [r for r in body["results"] if not r["passed"]]
    assert failed[0]["name"] == "reps see the margin" and failed[0]["line"] == 2
    assert failed[0]["kind"] == "access" and failed[0]["file"].endswith("ours.yaml")


def test_a_broken_check_file_exits_2_and_runs_nothing(project: Path) -> None:
    (project / "config_tests" / "ours.yaml").write_text(
        "checks:\n  - name: x\n    access: {role: sales_rep, entity: opportunity, sees: [a]}\n",
        encoding="utf-8")
    result = crm(project, "config", "test")
    assert result.exit_code == 2
    assert "ours.yaml:3:52: CRM-E111" in result.output and "PASS" not in result.output
    as_json = json.loads(crm(project, "config", "test", "--json").output)
    assert as_json["errors"][0]["code"] == "CRM-E111" and as_json["results"] == []


def test_a_broken_config_exits_2(project: Path) -> None:
    (project / "schemas" / "broken.yaml").write_text("entity: broken\nfields:\n  a: {type: x}\n",
                                                     encoding="utf-8")
    result = crm(project, "config", "test")
    assert result.exit_code == 2
    assert "CRM-E017" in result.output and "no check was run" in result.output


def test_live_tests_the_published_version_not_the_yaml(project: Path) -> None:
    """The YAML on disk (a candidate) lets reps see the margin; the live version does not."""
    opp = project / "schemas" / "opportunity.yaml"
    opp.write_text(opp.read_text(encoding="utf-8").replace(
        "sales_rep:       {hidden: [margin]}", "sales_rep:       {}"), encoding="utf-8")
    candidate = crm(project, "config", "test")
    assert candidate.exit_code == 1
    assert "FAIL  sales reps do not see the margin of a deal" in candidate.output
    live = crm(project, "config", "test", "--live")
    assert live.exit_code == 0, live.output
    assert "Testing live version 1" in live.output and "20 passed" in live.output


def test_live_without_a_published_version_exits_2(tmp_path: Path, database_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    (tmp_path / "config.yaml").write_text("schemas: schemas\n", encoding="utf-8")
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    result = crm(tmp_path, "config", "test", "--live")
    assert result.exit_code == 2 and "No config version is live yet" in result.output


APPROVERS = """\
checks:
  - name: rep's deep discount goes to their manager, then both directors
    approval:
      process: quote_discount
      values: {name: Deep, discount: 45}
      submitter: rep
      steps: [manager, director]
      approvers: {manager: [manager], director: [director, director2]}
  - name: a rep without a manager falls back to the directors
    approval:
      process: quote_discount
      values: {name: Deep, discount: 30}
      submitter: loner
      approvers: {manager: [manager]}
"""


@pytest.mark.parametrize("live", [False, True])
def test_approvers_come_from_the_deployments_users(project: Path, live: bool) -> None:
    ours = project / "approvers.yaml"
    ours.write_text(APPROVERS, encoding="utf-8")
    result = crm(project, "config", "test", str(ours), *(["--live"] if live else []))
    assert result.exit_code == 1, result.output
    assert ("PASS  rep's deep discount goes to their manager, then both directors: "
            "quote_discount: steps manager, director; approvers manager: manager; director: "
            "director, director2") in result.output
    assert ("FAIL  a rep without a manager falls back to the directors: expected manager to "
            "approve step manager, but it goes to director, director2") in result.output


def test_approvers_are_skipped_with_a_note_without_a_database(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{tmp_path / 'none' / 'crm.db'}")
    ours = project / "approvers.yaml"
    ours.write_text(APPROVERS, encoding="utf-8")
    result = crm(project, "config", "test", str(ours))
    assert result.exit_code == 0, result.output
    assert "note: approvers not checked" in result.output
    assert not (tmp_path / "none").exists()
