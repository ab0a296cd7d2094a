"""Add, hide, restore, rename and purge a field through YAML + plan + migrate, keeping every row.
Runs on SQLite and (with CRM_TEST_DATABASE_URL) on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.migrate.publish import PublishError, plan_change
from tests.factories import account, apply, columns, insert, meta_of, rows, small_pack


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return small_pack(tmp_path / "schemas")


def seed(engine: sa.Engine) -> None:
    insert(engine, "ent_account",
           {"name": "Acme", "industry": "tech", "employees": 10},
           {"name": "上海贸易有限公司", "industry": "retail", "employees": 250},
           {"name": "Globex", "industry": None, "employees": None})
    insert(engine, "ent_contact", {"last_name": "Wang", "email": "w@x.cn", "account_id": 2})


def test_first_migrate_creates_tables_and_records_version(engine: sa.Engine, pack: Path) -> None:
    result = apply(engine, pack)
    assert result.version == 1
    assert {"ent_account", "ent_contact", "sys_config_version"} <= set(
        sa.inspect(engine).get_table_names())
    assert {"id", "version", "name", "industry", "owner_id", "deleted_at"} <= columns(
        engine, "ent_account")
    again = apply(engine, pack)
    assert again.plan.is_empty and again.version == 1


def test_add_field_keeps_rows(engine: sa.Engine, pack: Path) -> None:
    apply(engine, pack)
    seed(engine)
    small_pack(pack, account(rating={"type": "picklist", "choices": ["hot", "cold"]}))
    plan = plan_change(engine, meta_of(pack))
    assert [(s.op, s.column, s.safety) for s in plan.steps] == [
        ("add_column", "rating", "safe")]
    assert plan.steps[0].rows == 3
    apply(engine, pack)
    assert rows(engine, "ent_account", "name", "rating") == [
        (1, "Acme", None), (2, "上海贸易有限公司", None), (3, "Globex", None)]


def test_remove_field_hides_and_keeps_data_then_restore(engine: sa.Engine, pack: Path) -> None:
    apply(engine, pack)
    seed(engine)
    acc = account()
    del acc["fields"]["employees"]
    small_pack(pack, acc)
    result = apply(engine, pack)
    assert [(s.op, s.column) for s in result.plan.steps] == [("hide_column", "employees")]
    assert "employees" in columns(engine, "ent_account")
    # the app keeps inserting without the hidden column
    insert(engine, "ent_account", {"name": "New"})
    small_pack(pack, account())
    restored = apply(engine, pack)
    assert [s.op for s in restored.plan.steps] == ["restore_column"]
    assert rows(engine, "ent_account", "employees") == [(1, 10), (2, 250), (3, None), (4, None)]


def test_rename_keeps_data(engine: sa.Engine, pack: Path) -> None:
    apply(engine, pack)
    seed(engine)
    acc = account()
    acc["fields"]["headcount"] = {**acc["fields"].pop("employees"), "renamed_from": "employees"}
    small_pack(pack, acc)
    result = apply(engine, pack)
    assert [(s.op, s.column) for s in result.plan.steps] == [("rename_column", "headcount")]
    assert "employees" not in columns(engine, "ent_account")
    assert rows(engine, "ent_account", "headcount") == [(1, 10), (2, 250), (3, None)]
    # the next plan is empty: renamed_from may stay in the YAML
    assert plan_change(engine, meta_of(pack)).is_empty


def test_rename_lookup_keeps_links(engine: sa.Engine, pack: Path) -> None:
    from tests.factories import contact

    apply(engine, pack)
    seed(engine)
    con = contact()
    con["fields"]["company"] = {**con["fields"].pop("account"), "renamed_from": "account"}
    small_pack(pack, None, con)
    apply(engine, pack)
    assert rows(engine, "ent_contact", "company_id") == [(1, 2)]
    assert plan_change(engine, meta_of(pack)).is_empty


def test_purge_needs_confirmation_and_keeps_a_backup(engine: sa.Engine, pack: Path) -> None:
    apply(engine, pack)
    seed(engine)
    acc = account()
    del acc["fields"]["employees"]
    small_pack(pack, acc)
    apply(engine, pack)
    with pytest.raises(PublishError) as refused:
        apply(engine, pack, purge=True)
    assert "deletes data" in str(refused.value)
    assert "employees" in columns(engine, "ent_account")
    result = apply(engine, pack, purge=True, allow_destructive=True)
    assert [(s.op, s.column, s.safety) for s in result.plan.steps] == [
        ("drop_column", "employees", "destructive")]
    assert "employees" not in columns(engine, "ent_account")
    assert len(result.backups) == 1
    assert rows(engine, result.backups[0], "employees") == [(1, 10), (2, 250), (3, None)]
    assert rows(engine, "ent_account", "name")[1] == (2, "上海贸易有限公司")


def test_purge_lookup_column_keeps_children_links(engine: sa.Engine, pack: Path) -> None:
    """Dropping a foreign-key column rebuilds the SQLite table; no other row may change."""
    from tests.factories import contact

    acc = account(parent={"type": "lookup", "to": "account"})
    small_pack(pack, acc)
    apply(engine, pack)
    seed(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE ent_account SET parent_id = 1 WHERE id = 2"))
    small_pack(pack, account(), contact())
    apply(engine, pack)
    apply(engine, pack, purge=True, allow_destructive=True)
    assert "parent_id" not in columns(engine, "ent_account")
    assert rows(engine, "ent_contact", "account_id") == [(1, 2)]
