"""`crm backup` -> `crm restore` is exact: every table (hidden fields' columns, config versions
and their YAML files, users, audit, notifications, the security log, a purge's copy), the
attachments, and a restored CRM that reads and writes records (app/backup/)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.backup import create_backup, restore_backup, verify_backup
from app.migrate import sources
from app.migrate.publish import active_version
from app.model.system import config_versions, security_log
from app.records import Actor
from tests.backupkit import (
    ATTACHMENT,
    HIDDEN,
    HIDDEN_ENTITY,
    HIDDEN_LOOKUP,
    context,
    differences,
    folder_bytes,
    full_deployment,
    live_records,
    portable,
    snapshot,
)


def _restored_copy(tmp_path: Path, url: str) -> Path:
    """A second deployment folder with the same config files, on another database."""
    target = tmp_path / "restored"
    target.mkdir()
    shutil.copytree(tmp_path / "source" / "schemas", target / "schemas")
    shutil.copy(tmp_path / "source" / "config.yaml", target / "config.yaml")
    return target


def test_round_trip_into_a_new_database_is_exact(
        tmp_path: Path, new_database_url: Callable[[], str]) -> None:
    source = full_deployment(tmp_path / "source", new_database_url())
    before = snapshot(source.engine)
    made = create_backup(source.engine, tmp_path / "crm.tar.gz",
                         source.settings.attachments_dir)
    assert made.path.stat().st_mode & 0o777 == 0o600  # password hashes are inside
    assert made.rows == sum(len(t["rows"]) for t in before.values())
    assert made.attachments == 1 and verify_backup(made.path).rows == made.rows

    target = context(_restored_copy(tmp_path, ""), new_database_url())
    try:
        done = restore_backup(target.engine, made.path, target.settings.attachments_dir)
        assert done.warnings == [] and done.dropped == [] and done.counted_only == []
        after = snapshot(target.engine)
        restored_event = after["sys_security_log"]["rows"].pop()
        assert restored_event[2] == "backup.restored"
        assert list(differences(before, after)) == []
        assert folder_bytes(target.settings.attachments_dir) == folder_bytes(
            source.settings.attachments_dir)
        assert ATTACHMENT in folder_bytes(target.settings.attachments_dir).values()
        _restored_crm_works(target)
    finally:
        target.dispose()
        source.dispose()


def _restored_crm_works(target: object) -> None:
    from app.context import Context

    assert isinstance(target, Context)
    table, column = f"ent_{HIDDEN[0]}", HIDDEN[1]
    with target.engine.connect() as conn:
        # the hidden fields' columns came back with their values and the lookup's key
        kept = conn.execute(sa.text(
            f"SELECT count({column}), count({HIDDEN_LOOKUP[1]}_id) FROM {table}")).one()
        assert kept[0] > 0 and kept[1] > 0
        fks = sa.inspect(conn).get_foreign_keys(table)
        assert any(f["constrained_columns"] == [f"{HIDDEN_LOOKUP[1]}_id"] for f in fks)
        assert conn.scalar(sa.text(f"SELECT count(*) FROM ent_{HIDDEN_ENTITY}")) > 0
        # the config history: both versions, the live one, and the YAML files of the second
        version, meta = active_version(conn)
        assert version == 2 and meta is not None and HIDDEN[1] not in meta.entity(HIDDEN[0]).fields
        assert HIDDEN_ENTITY not in meta.entities
        assert conn.scalar(sa.select(sa.func.count()).select_from(config_versions)) == 2
        assert sources.has_files(conn, 2)
        top = conn.scalar(sa.text("SELECT max(id) FROM ent_account"))
    # the records service reads and writes; ids go on after the largest one
    records = live_records(target)
    admin = Actor(1, "admin", ("admin",))
    account = records.get("account", 1)
    assert account["name"]
    updated = records.update("account", 1, {"name": "Restored 恢复"}, admin,
                             version=account["version"])
    assert updated["version"] == account["version"] + 1
    created = records.create("account", {"name": "After the restore"}, admin)
    assert created["id"] == top + 1
    contact = records.create("contact", {"last_name": "李", "id_number": "110101199003074258"},
                             admin)
    assert records.get("contact", contact["id"])["id_number"] == "110101199003074258"
    # the security log is append-only again
    with pytest.raises(sa.exc.DatabaseError), target.engine.begin() as conn:
        conn.execute(security_log.update().values(event="changed"))


@pytest.mark.parametrize("direction", ["sqlite->postgresql", "postgresql->sqlite"])
def test_a_backup_moves_between_sqlite_and_postgresql(
        tmp_path: Path, postgres_url: str, new_database_url: Callable[[], str],
        direction: str) -> None:
    """Promoting a deployment: made on one database, restored on the other, the same data."""
    sqlite_url = f"sqlite:///{tmp_path / 'crm.db'}"
    first, second = (sqlite_url, new_database_url()) if direction.startswith("sqlite") \
        else (new_database_url(), sqlite_url)
    source = full_deployment(tmp_path / "source", first)
    before = portable(snapshot(source.engine))
    made = create_backup(source.engine, tmp_path / "crm.tar.gz",
                         source.settings.attachments_dir)
    target = context(_restored_copy(tmp_path, ""), second)
    try:
        done = restore_backup(target.engine, made.path, target.settings.attachments_dir)
        assert done.warnings == []
        # the purge copy made with CREATE TABLE AS on SQLite has no precise types: its rows
        # are checked by count when they move to PostgreSQL
        assert done.counted_only == ([t for t in before if t.startswith("bak_")]
                                     if direction.startswith("sqlite") else [])
        after = portable(snapshot(target.engine))
        after["sys_security_log"]["rows"].pop()
        for name in done.counted_only:
            assert len(after[name]["rows"]) == len(before.pop(name)["rows"])
            after.pop(name)
        assert list(differences(before, after)) == []
        _restored_crm_works(target)
    finally:
        target.dispose()
        source.dispose()
