"""The traps DESIGN.md lists: DDL must be transactional (a failure half-way leaves nothing),
SQLite table rebuilds must not fire ON DELETE SET NULL on children, foreign keys are checked
before commit, and a publish planned on an old version gets a conflict."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.migrate.apply import Applier
from app.migrate.publish import DataIntegrityError, PublishConflict, locked_transaction
from tests.factories import account, apply, columns, contact, insert, rows, small_pack


def test_failure_half_way_rolls_back_every_ddl_step(
        tmp_path: Path, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = small_pack(tmp_path / "schemas")
    apply(engine, pack)
    insert(engine, "ent_account", {"name": "A"})
    small_pack(pack, account(fax={"type": "phone"}, code={"type": "string", "indexed": True}))

    def boom(self: Applier, step: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Applier, "op_create_index", boom)
    with pytest.raises(RuntimeError):
        apply(engine, pack)
    assert not {"fax", "code"} & columns(engine, "ent_account")
    with engine.connect() as conn:
        versions = conn.exec_driver_sql("SELECT count(*) FROM sys_config_version").scalar()
    assert versions == 1


def test_rebuilding_a_parent_table_keeps_children_links(tmp_path: Path, engine: sa.Engine
                                                        ) -> None:
    """Purging a lookup column rebuilds ent_account on SQLite. With foreign keys on, dropping
    the old table would set every contact.account_id to NULL."""
    pack = small_pack(tmp_path / "schemas", account(parent={"type": "lookup", "to": "account"}))
    apply(engine, pack)
    insert(engine, "ent_account", {"name": "A", "parent_id": None}, {"name": "B", "parent_id": 1})
    insert(engine, "ent_contact", *({"last_name": f"c{i}", "account_id": 1 + i % 2}
                                    for i in range(20)))
    small_pack(pack, account(), contact())
    apply(engine, pack)
    apply(engine, pack, purge=True, allow_destructive=True)
    assert "parent_id" not in columns(engine, "ent_account")
    assert [r[1] for r in rows(engine, "ent_contact", "account_id")] == [
        1 + i % 2 for i in range(20)]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:  # and foreign keys are enforced again afterwards
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_broken_foreign_keys_roll_back(tmp_path: Path, engine: sa.Engine, dialect: str) -> None:
    if engine.dialect.name != dialect:
        pytest.skip("PostgreSQL checks foreign keys itself at each statement")
    pack = small_pack(tmp_path / "schemas")
    apply(engine, pack)
    with pytest.raises(DataIntegrityError), locked_transaction(engine) as conn:
        conn.exec_driver_sql("INSERT INTO ent_contact (last_name, account_id) VALUES ('x', 99)")
    assert rows(engine, "ent_contact", "last_name") == []


def test_publish_planned_on_an_old_version_conflicts(tmp_path: Path, engine: sa.Engine) -> None:
    pack = small_pack(tmp_path / "schemas")
    first = apply(engine, pack)
    small_pack(pack, account(fax={"type": "phone"}))
    apply(engine, pack, expected_base=first.version)  # admin A publishes on version 1
    small_pack(pack, account(fax={"type": "phone"}, skype={"type": "string"}))
    with pytest.raises(PublishConflict) as conflict:  # admin B also started from version 1
        apply(engine, pack, expected_base=first.version)
    assert "version 2" in str(conflict.value)
    assert "skype" not in columns(engine, "ent_account")
