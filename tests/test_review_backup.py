"""Review of backup and restore: defects a user would hit, each test naming its defect. A
manifest of the wrong shape crashing verify, restore and the back office page; a damaged
attachment already in the folder kept over the archive's good copy; a backup holding a row
longer than a restore reads (an archive that can never be restored)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

import app.backup.manifest as manifest_module
from app.backup import BackupError, create_backup, peek, restore_backup, verify_backup
from app.db import make_engine
from app.model.system import config_versions
from tests.backupkit import ATTACHMENT, folder_bytes, rewrite, small_backup
from tests.webkit import sign_in, web_app

#: manifests of the wrong shape: `config` not an object, attachments that are not objects
CHANGES: tuple[dict[str, object], ...] = (
    {"config": "version 3"}, {"config": [1, 2]}, {"attachments": [None]},
    {"attachments": ["a" * 64]}, {"attachments": {"key": "x"}})


def test_a_manifest_of_the_wrong_shape_is_refused_plainly(
        tmp_path: Path, database_url: str, new_database_url: Callable[[], str]) -> None:
    """Defect: a manifest whose `config` is not an object, or whose attachments are not
    objects, crashed `crm backup verify`, `crm restore`, `crm backup list` and the back
    office's Backups page with AttributeError (a traceback, a 500) instead of "damaged"."""
    ctx, archive = small_backup(tmp_path, database_url)
    engine = make_engine(new_database_url())
    try:
        for n, change in enumerate(CHANGES):
            def edit(name: str, data: bytes, change: dict[str, object] = change) -> bytes:
                return json.dumps({**json.loads(data), **change}).encode() \
                    if name == "manifest.json" else data

            bad = rewrite(archive, tmp_path / f"bad{n}.tar.gz", edit)
            for check in (peek, verify_backup,
                          lambda path: restore_backup(engine, path, tmp_path / "files")):
                with pytest.raises(BackupError, match=r"manifest\.json is damaged"):
                    check(bad)
        assert sa.inspect(engine).get_table_names() == []
        folder = ctx.settings.instance_dir / "backups"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(bad, folder / "crm-bad.tar.gz")
        client = web_app(ctx).test_client()
        sign_in(client)
        page = client.get("/admin/system/backups/")
        assert page.status_code == 200 and 'data-backup="crm-bad.tar.gz"' in page.text
    finally:
        engine.dispose()
        ctx.dispose()


def test_a_restore_replaces_a_damaged_attachment_of_the_same_name(
        tmp_path: Path, database_url: str, new_database_url: Callable[[], str]) -> None:
    """Defect: restoring into an attachment folder that already held a file of the same name
    (its SHA-256) kept that file even when its bytes no longer matched the name (damaged on
    disk, changed by hand): the restored CRM served the damaged file, and the archive's good
    copy was thrown away."""
    ctx, archive = small_backup(tmp_path, database_url)
    ctx.dispose()
    key = next(iter(peek(archive).attachments))
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / key).write_bytes(b"damaged")
    intact = "0" * 64  # another file, not in the archive: left alone
    (folder / intact).write_bytes(b"not ours")
    engine = make_engine(new_database_url())
    try:
        restore_backup(engine, archive, folder)
    finally:
        engine.dispose()
    assert folder_bytes(folder) == {key: ATTACHMENT, intact: b"not ours"}


def test_a_row_longer_than_a_restore_reads_stops_the_backup(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: `crm backup` wrote rows of any length, but a restore (and `crm backup verify`)
    refuses a line longer than it reads (64 MB): a record with a huge text made an archive
    that could never be restored, found out only when it was needed. Now the backup says so
    and writes nothing."""
    monkeypatch.setattr(manifest_module, "MAX_LINE", 8192)
    ctx, archive = small_backup(tmp_path, database_url)
    try:
        verify_backup(archive)  # rows within the limit: fine
        with ctx.engine.begin() as conn:  # a long text (a publish message, a text field)
            conn.execute(config_versions.update().values(message="长" * 3000))
        target = tmp_path / "long.tar.gz"
        with pytest.raises(BackupError, match="table sys_config_version"):
            create_backup(ctx.engine, target, ctx.settings.attachments_dir)
        assert not target.exists() and list(tmp_path.glob(".backup-*")) == []
    finally:
        ctx.dispose()
