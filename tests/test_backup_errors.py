"""Backups that cannot be restored say why and restore nothing: damaged or foreign archives,
a wrong format version, a database that is not empty (and what --force does)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.backup import BackupError, create_backup, restore_backup, verify_backup
from app.db import make_engine
from tests.backupkit import folder_bytes, rewrite, small_backup


@pytest.fixture
def made(tmp_path: Path, database_url: str) -> Path:
    ctx, archive = small_backup(tmp_path, database_url)
    ctx.dispose()
    return archive


@pytest.fixture
def target(new_database_url: Callable[[], str]) -> sa.Engine:
    engine = make_engine(new_database_url())
    yield engine  # type: ignore[misc]
    engine.dispose()


def _nothing_restored(engine: sa.Engine, folder: Path) -> None:
    assert sa.inspect(engine).get_table_names() == []
    assert folder_bytes(folder) == {}
    assert [p.name for p in folder.parent.glob(".restore-*")] == []


def _refused(engine: sa.Engine, archive: Path, folder: Path, *words: str) -> str:
    for check in (lambda: verify_backup(archive),
                  lambda: restore_backup(engine, archive, folder)):
        with pytest.raises(BackupError) as err:
            check()
        for word in words:
            assert word in str(err.value)
    _nothing_restored(engine, folder)
    return str(err.value)


def test_a_changed_value_is_found_and_nothing_is_restored(
        made: Path, target: sa.Engine, tmp_path: Path) -> None:
    def change(name: str, data: bytes) -> bytes:
        return data.replace("Acme 上海".encode(), "Acme 北京".encode()) \
            if name == "tables/ent_account.jsonl" else data

    bad = rewrite(made, tmp_path / "changed.tar.gz", change)
    _refused(target, bad, tmp_path / "files", "ent_account", "checksums")


def test_changed_attachment_bytes_are_found(made: Path, target: sa.Engine,
                                            tmp_path: Path) -> None:
    def change(name: str, data: bytes) -> bytes:
        return data[:-1] + b"!" if name.startswith("attachments/") else data

    bad = rewrite(made, tmp_path / "changed.tar.gz", change)
    _refused(target, bad, tmp_path / "files", "attachment", "checksum")


def test_a_truncated_archive_is_damaged(made: Path, target: sa.Engine, tmp_path: Path) -> None:
    data = made.read_bytes()
    bad = tmp_path / "cut.tar.gz"
    bad.write_bytes(data[: len(data) // 2])
    _refused(target, bad, tmp_path / "files", "damaged")


def test_a_missing_table_is_found(made: Path, target: sa.Engine, tmp_path: Path) -> None:
    bad = rewrite(made, tmp_path / "short.tar.gz",
                  lambda name, data: None if name == "tables/sys_user.jsonl" else data)
    _refused(target, bad, tmp_path / "files", "sys_user")


def test_foreign_archives_are_not_backups(target: sa.Engine, tmp_path: Path) -> None:
    text = tmp_path / "notes.tar.gz"
    text.write_text("not an archive at all", encoding="utf-8")
    _refused(target, text, tmp_path / "files", "not a CRM backup")
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        info = tarfile.TarInfo("readme.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    _refused(target, other, tmp_path / "files", "manifest.json")
    with pytest.raises(BackupError, match="no backup file"):
        verify_backup(tmp_path / "missing.tar.gz")


def test_a_newer_format_version_is_refused(made: Path, target: sa.Engine,
                                           tmp_path: Path) -> None:
    def newer(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["format_version"] = 99
        return json.dumps(manifest).encode()

    bad = rewrite(made, tmp_path / "newer.tar.gz", newer)
    message = _refused(target, bad, tmp_path / "files", "format version 99")
    assert "format version 1" in message


def test_names_from_the_manifest_are_checked_before_any_sql(
        made: Path, target: sa.Engine, tmp_path: Path) -> None:
    def hostile(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["tables"][0]["columns"][0]["name"] = 'id"; DROP TABLE x; --'
        return json.dumps(manifest).encode()

    bad = rewrite(made, tmp_path / "hostile.tar.gz", hostile)
    _refused(target, bad, tmp_path / "files", "not a valid name")


def test_a_database_that_is_not_empty_needs_force(
        made: Path, target: sa.Engine, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    restore_backup(target, made, folder)
    with target.begin() as conn:
        conn.execute(sa.text("UPDATE ent_account SET name = 'changed since'"))
    with pytest.raises(BackupError, match=r"not empty.*--force"):
        restore_backup(target, made, folder)
    # --force with a damaged archive: refused, and the tables there are kept as they were
    bad = rewrite(made, tmp_path / "changed.tar.gz",
                  lambda name, data: data.replace(b"Acme", b"Acmf")
                  if name.startswith("tables/ent_account") else data)
    with pytest.raises(BackupError, match="ent_account"):
        restore_backup(target, bad, folder, force=True)
    with target.connect() as conn:
        assert conn.scalar(sa.text("SELECT name FROM ent_account")) == "changed since"
    # --force drops every table and restores the archive
    done = restore_backup(target, made, folder, force=True)
    assert "ent_account" in done.dropped and "sys_security_log" in done.dropped
    with target.connect() as conn:
        assert conn.scalar(sa.text("SELECT name FROM ent_account")) == "Acme 上海"
        events = conn.scalars(sa.text("SELECT event FROM sys_security_log ORDER BY id")).all()
    assert events.count("backup.restored") == 1  # the first restore's event was dropped too


def test_an_existing_file_is_not_overwritten(made: Path, tmp_path: Path,
                                             database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        before = made.read_bytes()
        with pytest.raises(BackupError, match="already exists"):
            create_backup(engine, made, None)
        assert made.read_bytes() == before
        assert [p.name for p in made.parent.glob(".backup-*")] == []
    finally:
        engine.dispose()


def test_a_hostile_row_is_refused(made: Path, target: sa.Engine, tmp_path: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    bad = rewrite(made, tmp_path / "deep.tar.gz",
                  lambda name, data: deep if name == "tables/ent_account.jsonl" else data)
    _refused(target, bad, tmp_path / "files", "row 1 of table ent_account is not valid JSON")
