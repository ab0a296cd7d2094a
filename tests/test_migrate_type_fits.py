"""A changed field keeps its values exactly or the plan refuses: a type change checks the
values fit the new column (length, decimal places, digits), a lookup pointed at another entity
is refused while rows hold links (and its foreign key rebuilt when none do), and reverting a
rename takes the renamed column back with its values."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.migrate.publish import PublishError, plan_change
from tests.factories import account, apply, insert, meta_of, rows, small_pack


def refused(engine: sa.Engine, pack: Path) -> Any:
    with pytest.raises(PublishError) as caught:
        apply(engine, pack)
    plan = caught.value.plan
    assert plan is not None
    return plan.unsupported


def foreign_key(engine: sa.Engine, table: str, column: str) -> dict[str, Any]:
    keys = [k for k in sa.inspect(engine).get_foreign_keys(table)
            if k["constrained_columns"] == [column]]
    assert len(keys) == 1, keys
    return keys[0]


# --- sizes ---------------------------------------------------------------------------------

@pytest.fixture
def notes(tmp_path: Path, engine: sa.Engine) -> Path:
    folder = small_pack(tmp_path / "schemas", account(note={"type": "text"},
                                                      amount={"type": "currency"}))
    apply(engine, folder)
    insert(engine, "ent_account", {"name": "A", "note": "short", "amount": "12.00"},
           {"name": "B", "note": "a long note", "amount": "1234.56"},
           {"name": "C", "note": None, "amount": None})
    return folder


def test_text_to_a_shorter_string_lists_the_rows_that_would_be_cut(
        engine: sa.Engine, notes: Path) -> None:
    small_pack(notes, account(note={"type": "string", "max_length": 5},
                              amount={"type": "currency"}))
    [step] = refused(engine, notes)
    assert (step.op, step.rows) == ("convert_column", 1)
    assert "cut or rounded" in step.problems[0]
    assert "row id 2" in step.problems[1] and "longer than 5" in step.problems[1]
    assert rows(engine, "ent_account", "note")[1] == (2, "a long note")  # nothing changed


def test_text_to_a_string_every_value_fits_is_safe(engine: sa.Engine, notes: Path) -> None:
    small_pack(notes, account(note={"type": "string", "max_length": 11},
                              amount={"type": "currency"}))
    apply(engine, notes)
    assert rows(engine, "ent_account", "note") == [(1, "short"), (2, "a long note"), (3, None)]


def test_currency_to_fewer_decimal_places_lists_the_rows_that_would_be_rounded(
        engine: sa.Engine, notes: Path) -> None:
    small_pack(notes, account(note={"type": "text"},
                              amount={"type": "decimal", "scale": 0}))
    [step] = refused(engine, notes)
    assert step.rows == 1 and "row id 2" in step.problems[1]
    assert "more than 0 decimal places" in step.problems[1] and "1235" in step.problems[1]


def test_currency_to_whole_numbers_is_safe_when_no_value_has_cents(
        engine: sa.Engine, notes: Path) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("update ent_account set amount = 1234 where id = 2"))
    small_pack(notes, account(note={"type": "text"},
                              amount={"type": "decimal", "scale": 0}))
    result = apply(engine, notes)
    assert [(s.op, s.safety) for s in result.plan.steps] == [("convert_column", "safe")]
    assert [r[1] for r in rows(engine, "ent_account", "amount")] == [12, 1234, None]


def test_a_smaller_decimal_of_the_same_type_checks_digits_and_places(
        tmp_path: Path, engine: sa.Engine) -> None:
    folder = small_pack(tmp_path / "schemas", account(rate={"type": "decimal"}))
    apply(engine, folder)
    insert(engine, "ent_account", {"name": "A", "rate": "12345.5"},
           {"name": "B", "rate": "1.25"})
    small_pack(folder, account(rate={"type": "decimal", "precision": 5, "scale": 1}))
    [step] = refused(engine, folder)
    assert step.rows == 2 and "decimal (18, 4) to decimal (5, 1)" in step.summary
    problems = " ".join(step.problems)
    assert "row id 1" in problems and "at most 4 digits before the decimal point" in problems
    assert "row id 2" in problems and "more than 1 decimal places" in problems
    small_pack(folder, account(rate={"type": "decimal", "precision": 8, "scale": 2}))
    apply(engine, folder)
    assert plan_change(engine, meta_of(folder)).is_empty
    assert [r[1] for r in rows(engine, "ent_account", "rate")] == [Decimal("12345.5"),
                                                                    Decimal("1.25")]


# --- lookups pointed elsewhere --------------------------------------------------------------

def lookup(to: str, on_delete: str = "set_null") -> dict[str, Any]:
    return {"type": "lookup", "to": to, "on_delete": on_delete}


@pytest.fixture
def linked(tmp_path: Path, engine: sa.Engine) -> Path:
    """account.parent and account.partner added to a table that already exists (on SQLite
    with ADD COLUMN ... REFERENCES, whose ON DELETE reflection does not see)."""
    folder = small_pack(tmp_path / "schemas")
    apply(engine, folder)
    small_pack(folder, account(parent=lookup("account"), partner=lookup("account", "restrict")))
    apply(engine, folder)
    insert(engine, "ent_account", {"name": "Head office"}, {"name": "Acme"})
    insert(engine, "ent_contact", {"last_name": "Zhang"})
    return folder


def test_a_lookup_whose_rows_hold_links_cannot_point_elsewhere(
        engine: sa.Engine, linked: Path) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("update ent_account set parent_id = 1 where id = 2"))
    small_pack(linked, account(parent=lookup("contact"), partner=lookup("account", "restrict")))
    [step] = refused(engine, linked)
    assert (step.op, step.rows) == ("alter_foreign_key", 1)
    assert "1 rows point at account records" in step.problems[0]
    assert "add a new field" in step.problems[0]
    assert foreign_key(engine, "ent_account", "parent_id")["referred_table"] == "ent_account"


def test_an_empty_lookup_points_elsewhere_and_its_foreign_key_follows(
        engine: sa.Engine, linked: Path) -> None:
    small_pack(linked, account(parent=lookup("contact"), partner=lookup("account", "restrict")))
    result = apply(engine, linked)
    assert [(s.op, s.safety) for s in result.plan.steps] == [("alter_foreign_key", "safe")]
    assert "contact" in result.plan.steps[0].summary
    parent = foreign_key(engine, "ent_account", "parent_id")
    assert parent["referred_table"] == "ent_contact"
    assert parent["options"].get("ondelete") == "SET NULL"
    # the other lookup of the rebuilt table keeps its own ON DELETE
    assert foreign_key(engine, "ent_account", "partner_id")["options"].get(
        "ondelete") == "RESTRICT"
    with engine.begin() as conn:  # a contact's id is accepted, and the link survives
        contact_id = conn.execute(sa.text("select max(id) from ent_contact")).scalar_one()
        conn.execute(sa.text("update ent_account set parent_id = :c where id = 2"),
                     {"c": contact_id})
    assert rows(engine, "ent_account", "name", "parent_id")[1] == (2, "Acme", contact_id)
    assert plan_change(engine, meta_of(linked)).is_empty


def test_another_on_delete_rebuilds_the_foreign_key_with_links_kept(
        engine: sa.Engine, linked: Path) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("update ent_account set partner_id = 1 where id = 2"))
    small_pack(linked, account(parent=lookup("account"), partner=lookup("account")))
    result = apply(engine, linked)
    assert [(s.op, s.safety) for s in result.plan.steps] == [("alter_foreign_key", "safe")]
    assert foreign_key(engine, "ent_account", "partner_id")["options"].get(
        "ondelete") == "SET NULL"
    assert rows(engine, "ent_account", "partner_id") == [(1, None), (2, 1)]


# --- a rename reverted ------------------------------------------------------------------------

def test_reverting_a_rename_renames_the_column_back_with_its_values(
        tmp_path: Path, engine: sa.Engine) -> None:
    folder = small_pack(tmp_path / "schemas", account(code={"type": "string"}))
    apply(engine, folder)
    insert(engine, "ent_account", {"name": "A", "code": "A-1"})
    small_pack(folder, account(ref={"type": "string", "renamed_from": "code"}))
    apply(engine, folder)
    small_pack(folder, account(code={"type": "string"}))
    result = apply(engine, folder)
    assert [(s.op, s.column, s.data.get("old_column")) for s in result.plan.steps] == [
        ("rename_column", "code", "ref")]
    assert rows(engine, "ent_account", "code") == [(1, "A-1")]
    assert plan_change(engine, meta_of(folder)).is_empty
