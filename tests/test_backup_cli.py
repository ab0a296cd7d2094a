"""`crm backup`, `crm backup verify`, `crm backup list` and `crm restore` as an admin uses them:
what they print, exit codes, and never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from app.cli import main
from app.cli_errors import EXIT_REFUSED
from tests.factories import small_pack


@pytest.fixture
def project(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    small_pack(tmp_path / "schemas")
    (tmp_path / "config.yaml").write_text(
        "schemas: schemas\nmigrations: migrations\nroles: [sales_rep]\n", encoding="utf-8")
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    return tmp_path


def crm(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["--config", str(project / "config.yaml"), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_backup_verify_list_and_restore(project: Path, new_database_url: Callable[[], str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert crm(project, "migrate", "-m", "first").exit_code == 0
    assert crm(project, "user", "create", "li.wei", "--role", "sales_rep",
               "--password", "correct-horse-9").exit_code == 0
    assert crm(project, "backup", "list").output.startswith("No backups in")

    made = crm(project, "backup")
    assert made.exit_code == 0, made.output
    archive = next((project / "instance" / "backups").glob("crm-*.tar.gz"))
    assert f"Backup written to {archive}" in made.output
    assert "tables," in made.output and "rows, 0 attachments." in made.output
    assert archive.name in crm(project, "backup", "list").output
    named = crm(project, "backup", str(project / "named.tar.gz"))
    assert named.exit_code == 0 and (project / "named.tar.gz").is_file()
    assert crm(project, "backup", "create", str(project / "named.tar.gz")).exit_code == \
        EXIT_REFUSED  # never overwritten

    checked = crm(project, "backup", "verify", str(archive))
    assert checked.exit_code == 0 and checked.output.startswith(f"OK: {archive} holds")
    assert "config version 1" in checked.output

    log = crm(project, "security-log", "--event", "backup.created")
    assert archive.name in log.output

    refused = crm(project, "restore", str(archive))
    assert refused.exit_code == EXIT_REFUSED
    assert "is not empty" in refused.output and "--force" in refused.output

    monkeypatch.setenv("CRM_DATABASE_URL", new_database_url())
    done = crm(project, "restore", str(archive))
    assert done.exit_code == 0, done.output
    assert "Restored" in done.output and "every table matches its checksum" in done.output
    assert "Restart the CRM's servers" in done.output
    assert "backup.restored" in crm(project, "security-log", "--event", "backup.restored").output
    assert crm(project, "user", "passwd", "li.wei", "--password", "another-horse-7").exit_code \
        == 0  # the restored user is there
    forced = crm(project, "restore", str(archive), "--force")
    assert forced.exit_code == 0 and "Dropped first:" in forced.output


def test_a_damaged_archive_is_a_plain_message(project: Path) -> None:
    bad = project / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    for args in (("backup", "verify", str(bad)), ("restore", str(bad))):
        result = crm(project, *args)
        assert result.exit_code == EXIT_REFUSED
        assert "Refused: The archive is damaged or is not a CRM backup" in result.output
    missing = crm(project, "backup", "verify", str(project / "nothing.tar.gz"))
    assert missing.exit_code == EXIT_REFUSED and "There is no backup file" in missing.output
