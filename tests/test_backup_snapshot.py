"""A backup reads the whole database in one snapshot: rows written by others while it runs are
not half in it (WAL on SQLite, REPEATABLE READ on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import app.backup.dump as dump
from app.backup import create_backup, peek
from app.backup.manifest import TableEntry
from app.db import make_engine
from tests.webkit import deployment


def test_writes_during_a_backup_are_not_in_it(tmp_path: Path, database_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = deployment(tmp_path / "crm", database_url, pack="small")
    other = make_engine(database_url)
    real = dump.read_table
    written: list[str] = []

    def read_while_others_write(conn: sa.Connection, entry: TableEntry) -> Iterator[Any]:
        if not written:  # the first table: others write to it and to a later one, and commit
            with other.begin() as writer:
                writer.execute(sa.text("INSERT INTO ent_account (name, version) "
                                       "VALUES ('written during the backup', 1)"))
                writer.execute(sa.text("INSERT INTO sys_role (name, active) VALUES "
                                       "('late_role', true)"))
            written.append(entry.name)
        yield from real(conn, entry)

    monkeypatch.setattr(dump, "read_table", read_while_others_write)
    try:
        made = create_backup(ctx.engine, tmp_path / "crm.tar.gz", None)
        assert written == ["ent_account"]
        manifest = peek(made.path)
        tables = {t.name: t.rows for t in manifest.tables}
        assert tables["ent_account"] == 0 and tables["sys_role"] == 7
        with other.connect() as conn:  # the rows were really written
            assert conn.scalar(sa.text("SELECT count(*) FROM ent_account")) == 1
            assert conn.scalar(sa.text("SELECT count(*) FROM sys_role")) == 8
    finally:
        other.dispose()
        ctx.dispose()
