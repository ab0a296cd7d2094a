"""The crm command as an admin uses it: exit codes, messages, and never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from app.cli import main
from tests.factories import account, small_pack, write_schema


@pytest.fixture
def project(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    small_pack(tmp_path / "schemas")
    (tmp_path / "config.yaml").write_text(
        "schemas: schemas\nmigrations: migrations\nroles: [sales_rep]\n", encoding="utf-8")
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    return tmp_path


def crm(project: Path, *args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(main, ["--config", str(project / "config.yaml"), *args],
                                input=input)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_validate_ok_and_broken(project: Path) -> None:
    ok = crm(project, "validate")
    assert ok.exit_code == 0 and "OK: 2 entities" in ok.output
    write_schema(project / "schemas", "account", "entity: account\nfields:\n  n: {type: strng}\n")
    bad = crm(project, "validate")
    assert bad.exit_code == 1
    assert "account.yaml:3:" in bad.output and "CRM-E017" in bad.output
    as_json = crm(project, "validate", "--json")
    assert '"code": "CRM-E017"' in as_json.output and '"line": 3' in as_json.output


def test_plan_migrate_then_plan_is_empty(project: Path) -> None:
    plan = crm(project, "plan")
    assert plan.exit_code == 0 and "create entity account" in plan.output
    done = crm(project, "migrate", "-m", "first")
    assert done.exit_code == 0 and "Config version 1 is live." in done.output
    assert len(list((project / "migrations").glob("0001_*.yaml"))) == 1
    assert "No changes" in crm(project, "plan").output


def test_plan_mentions_pending_migration_files(project: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    crm(project, "migrate")
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    plan = crm(project, "plan")
    assert "1 migration file(s) are not applied here yet" in plan.output


def test_unsupported_plan_exits_2_and_changes_nothing(project: Path) -> None:
    crm(project, "migrate")
    crm(project, "user", "create", "rep", "--role", "sales_rep", "--password", "pw-123456")
    small_pack(project / "schemas", account(region={"type": "string", "required": True}))
    from app.context import Context
    from tests.factories import insert

    ctx = Context.from_env(project / "config.yaml")
    insert(ctx.engine, "ent_account", {"name": "A"})
    ctx.dispose()
    plan = crm(project, "plan")
    assert plan.exit_code == 2 and "[unsupported]" in plan.output
    refused = crm(project, "migrate")
    assert refused.exit_code == 2 and "Refused" in refused.output


def test_purge_requires_yes(project: Path) -> None:
    crm(project, "migrate")
    acc = account()
    del acc["fields"]["website"]
    small_pack(project / "schemas", acc)
    assert "hide account.website" in crm(project, "migrate").output
    refused = crm(project, "migrate", "--purge")
    assert refused.exit_code == 2 and "confirm" in refused.output
    done = crm(project, "migrate", "--purge", "--yes")
    assert done.exit_code == 0 and "Backup copy kept in table bak_" in done.output


def test_explain_export_and_diff(project: Path) -> None:
    crm(project, "migrate")
    explain = crm(project, "config", "explain", "account.industry")
    assert "choices" in explain.output and "account.yaml" in explain.output
    assert "CRM-" not in explain.output
    export = crm(project, "config", "export")
    assert "config version 1" in export.output and "industry" in export.output
    assert crm(project, "config", "diff").exit_code == 0
    small_pack(project / "schemas", account(fax={"type": "phone"}))
    drift = crm(project, "config", "diff")
    assert drift.exit_code == 1 and "account.fax: added in YAML" in drift.output
    unknown = crm(project, "config", "explain", "acount")
    assert unknown.exit_code == 2 and "no entity 'acount'" in unknown.output


def test_users_and_setup(project: Path) -> None:
    setup = crm(project, "setup", "--no-demo")
    assert setup.exit_code == 0 and "Admin login: username 'admin', password '" in setup.output
    again = crm(project, "setup", "--no-demo")
    assert "Admin login" not in again.output
    bad_role = crm(project, "user", "create", "bob", "--role", "king", "--password", "x" * 10)
    assert bad_role.exit_code == 1 and "Unknown role(s) king" in bad_role.output
    made = crm(project, "user", "create", "bob", "--role", "sales_rep", input="secret-pw\n" * 2)
    assert made.exit_code == 0
    short = crm(project, "user", "passwd", "bob", "--password", "short")
    assert short.exit_code == 1 and "at least 8" in short.output
    assert crm(project, "user", "passwd", "bob", "--password", "longer-pw").exit_code == 0


def test_database_unreachable_is_a_message(project: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{project}/missing/dir/x.db")
    (project / "missing").write_text("a file, not a folder")
    result = crm(project, "plan")
    assert result.exit_code != 0
