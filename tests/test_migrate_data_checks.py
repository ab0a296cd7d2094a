"""The plan is data-aware: type changes that would lose values, required fields on tables
with rows, shortened text, orphaned picklist values and unique indexes over duplicates are
refused or flagged, and nothing is changed when a plan is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.migrate.publish import PublishError, plan_change
from tests.factories import account, apply, columns, insert, meta_of, rows, small_pack


@pytest.fixture
def pack(tmp_path: Path, engine: sa.Engine) -> Path:
    folder = small_pack(tmp_path / "schemas", account(code={"type": "string"}))
    apply(engine, folder)
    insert(engine, "ent_account",
           {"name": "A", "code": "12", "industry": "tech"},
           {"name": "B", "code": "0034", "industry": "retail"},
           {"name": "C", "code": None, "industry": "retail"})
    return folder


def test_text_to_integer_converts_when_every_value_fits(engine: sa.Engine, pack: Path) -> None:
    small_pack(pack, account(code={"type": "integer"}))
    result = apply(engine, pack)
    assert [(s.op, s.safety) for s in result.plan.steps] == [("convert_column", "safe")]
    assert rows(engine, "ent_account", "code") == [(1, 12), (2, 34), (3, None)]
    assert plan_change(engine, meta_of(pack)).is_empty


def test_text_to_integer_refused_with_the_failing_rows(engine: sa.Engine, pack: Path) -> None:
    insert(engine, "ent_account", {"name": "D", "code": "abc"})
    small_pack(pack, account(code={"type": "integer"}))
    with pytest.raises(PublishError) as refused:
        apply(engine, pack)
    step = refused.value.plan.unsupported[0]  # type: ignore[union-attr]
    assert step.op == "convert_column" and step.rows == 1
    assert any("row id 4" in p and "'abc'" in p for p in step.problems)
    assert rows(engine, "ent_account", "code")[3] == (4, "abc")  # nothing changed


def test_required_field_without_default_is_refused(engine: sa.Engine, pack: Path) -> None:
    small_pack(pack, account(code={"type": "string"},
                             region={"type": "string", "required": True}))
    plan = plan_change(engine, meta_of(pack))
    assert [(s.op, s.safety) for s in plan.steps] == [("add_column", "unsupported")]
    assert "default" in plan.steps[0].problems[0]
    with pytest.raises(PublishError):
        apply(engine, pack)
    assert "region" not in columns(engine, "ent_account")


def test_required_field_with_default_backfills(engine: sa.Engine, pack: Path) -> None:
    small_pack(pack, account(region={"type": "picklist", "choices": ["north", "south"],
                                     "required": True, "default": "north"}))
    apply(engine, pack)
    assert rows(engine, "ent_account", "region") == [(1, "north"), (2, "north"), (3, "north")]


def test_expression_default_backfills(engine: sa.Engine, pack: Path) -> None:
    small_pack(pack, account(size={"type": "integer", "default": {"expr": "len(name) * 10"}}))
    apply(engine, pack)
    assert [r[1] for r in rows(engine, "ent_account", "size")] == [10, 10, 10]


def test_shortening_text_refused_when_values_are_longer(engine: sa.Engine, pack: Path) -> None:
    small_pack(pack, account(code={"type": "string", "max_length": 3}))
    plan = plan_change(engine, meta_of(pack))
    assert [(s.op, s.safety, s.rows) for s in plan.steps] == [("alter_length", "unsupported", 1)]


def test_orphaned_picklist_values_are_counted(engine: sa.Engine, pack: Path) -> None:
    acc = account(code={"type": "string"})
    acc["fields"]["industry"]["choices"] = ["tech", "finance"]
    small_pack(pack, acc)
    plan = plan_change(engine, meta_of(pack))
    note = next(s for s in plan.steps if s.op == "note")
    assert note.rows == 2 and "retail" in note.warnings[0]
    apply(engine, pack)  # a warning, not a refusal: the values are kept
    assert rows(engine, "ent_account", "industry")[1] == (2, "retail")


def test_unique_over_duplicates_is_refused(engine: sa.Engine, pack: Path) -> None:
    small_pack(pack, account(code={"type": "string"}, industry={
        "type": "picklist", "choices": ["tech", "retail", "finance"], "unique": True}))
    plan = plan_change(engine, meta_of(pack))
    assert [(s.op, s.safety) for s in plan.steps] == [("create_index", "unsupported")]
    assert "'retail'" in plan.steps[0].problems[0]


def test_new_rollup_and_autonumber_are_filled_for_existing_rows(
        engine: sa.Engine, pack: Path) -> None:
    from tests.factories import contact

    insert(engine, "ent_contact", {"last_name": "x", "account_id": 1},
           {"last_name": "y", "account_id": 1}, {"last_name": "z", "account_id": 2})
    small_pack(pack, account(
        code={"type": "string"},
        contacts={"type": "rollup", "entity": "contact", "via": "account", "op": "count"},
        number={"type": "autonumber", "format": "ACC-{0000}"}), contact())
    apply(engine, pack)
    assert rows(engine, "ent_account", "contacts", "number") == [
        (1, 2, "ACC-0001"), (2, 1, "ACC-0002"), (3, 0, "ACC-0003")]


def test_lengthening_text_alters_the_column(engine: sa.Engine, pack: Path) -> None:
    small_pack(pack, account(code={"type": "string", "max_length": 600}))
    result = apply(engine, pack)
    assert [(s.op, s.safety) for s in result.plan.steps] == [("alter_length", "safe")]
    insert(engine, "ent_account", {"name": "Long", "code": "x" * 500})
    assert len(rows(engine, "ent_account", "code")[-1][1]) == 500
