"""Archives written by another CRM version: system columns this code does not know are kept,
system tables the archive lacks are made empty; a different format version is refused (see
test_backup_errors)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.backup import restore_backup, verify_backup
from app.db import make_engine
from tests.backupkit import reseal, small_backup


@pytest.fixture
def made(tmp_path: Path, database_url: str) -> Path:
    ctx, archive = small_backup(tmp_path, database_url)
    ctx.dispose()
    return archive


@pytest.fixture
def target(new_database_url: Callable[[], str]) -> Iterator[sa.Engine]:
    engine = make_engine(new_database_url())
    yield engine
    engine.dispose()


def test_an_unknown_system_column_is_kept(made: Path, target: sa.Engine,
                                          tmp_path: Path) -> None:
    def older(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
        table = next(t for t in manifest["tables"] if t["name"] == "sys_role")
        table["columns"].append({"name": "legacy_note", "type": {"kind": "text"},
                                 "nullable": True})
        rows = [[*json.loads(line), f"note {i}"]
                for i, line in enumerate(members["tables/sys_role.jsonl"].splitlines())]
        members["tables/sys_role.jsonl"] = b"".join(
            json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)

    archive = reseal(made, tmp_path / "older.tar.gz", older)
    assert verify_backup(archive).tables > 0
    done = restore_backup(target, archive, tmp_path / "files")
    assert done.extra_columns == ["sys_role.legacy_note"]
    with target.connect() as conn:
        notes = conn.scalars(sa.text("SELECT legacy_note FROM sys_role ORDER BY name")).all()
    assert len(notes) == 7 and all(n.startswith("note ") for n in notes)


def test_a_system_table_the_archive_lacks_is_made_empty(made: Path, target: sa.Engine,
                                                        tmp_path: Path) -> None:
    def older(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
        manifest["tables"] = [t for t in manifest["tables"] if t["name"] != "sys_share"]
        members.pop("tables/sys_share.jsonl")

    restore_backup(target, reseal(made, tmp_path / "older.tar.gz", older), tmp_path / "files")
    with target.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM sys_share")) == 0
        assert conn.scalar(sa.text("SELECT count(*) FROM ent_account")) == 1
