"""Updating records: only changed fields are written and audited, the version goes up, and a
stale edit gets a Conflict listing the other person's changes instead of overwriting them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.records import Conflict, NotFound, ValidationFailed
from tests.factories import account, deal, make_user, service, write_schema


@pytest.fixture
def rec(tmp_path: Path, engine: sa.Engine) -> Any:
    write_schema(tmp_path / "s", "account", account())
    write_schema(tmp_path / "s", "deal", deal())
    return service(engine, tmp_path / "s")


def test_update_writes_changed_fields_and_bumps_the_version(rec: Any, engine: sa.Engine
                                                           ) -> None:
    alice = make_user(engine, "alice")
    made = rec.create("deal", {"name": "A", "amount": 100})
    done = rec.update("deal", made["id"], {"amount": 150, "name": "A"}, alice, version=1)
    assert done["version"] == 2 and float(done["amount"]) == 150
    assert done["updated_by_id"] == alice.id
    latest = rec.history("deal", made["id"])[0]
    assert latest["action"] == "update" and latest["username"] == "alice"
    assert latest["changes"] == {"amount": ["100.00", "150.00"]}


def test_an_update_that_changes_nothing_keeps_the_version(rec: Any) -> None:
    made = rec.create("deal", {"name": "A"})
    same = rec.update("deal", made["id"], {"name": "A"}, version=1)
    assert same["version"] == 1
    assert len(rec.history("deal", made["id"])) == 1


def test_stale_edit_gets_the_other_persons_change(rec: Any, engine: sa.Engine) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    made = rec.create("deal", {"name": "Deal", "amount": 100})
    rec.update("deal", made["id"], {"amount": 200}, alice, version=1)
    with pytest.raises(Conflict) as err:
        rec.update("deal", made["id"], {"amount": 300}, bob, version=1)
    assert err.value.status == 409 and "alice" in err.value.message
    (theirs,) = err.value.changes
    assert (theirs.field, theirs.old, theirs.new, theirs.by) == ("amount", "100.00", "200.00",
                                                                 "alice")
    assert float(err.value.current["amount"]) == 200
    assert float(rec.get("deal", made["id"])["amount"]) == 200  # not overwritten
    again = rec.update("deal", made["id"], {"amount": 300}, bob, version=2)
    assert float(again["amount"]) == 300 and again["version"] == 3


def test_update_validates_the_whole_record(rec: Any) -> None:
    made = rec.create("deal", {"name": "A"})
    with pytest.raises(ValidationFailed) as err:
        rec.update("deal", made["id"], {"stage": "won"})
    assert "close_date" in err.value.errors
    assert rec.get("deal", made["id"])["stage"] == "open"


def test_update_of_a_missing_or_deleted_record_is_not_found(rec: Any) -> None:
    with pytest.raises(NotFound):
        rec.update("deal", 999, {"name": "x"})
    made = rec.create("deal", {"name": "A"})
    rec.delete("deal", made["id"])
    with pytest.raises(NotFound):
        rec.update("deal", made["id"], {"name": "x"})


def test_owner_change_is_audited(rec: Any, engine: sa.Engine) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    made = rec.create("deal", {"name": "A"}, alice)
    moved = rec.update("deal", made["id"], {"owner": bob.id}, alice)
    assert moved["owner_id"] == bob.id and moved["version"] == 2
    assert rec.history("deal", made["id"])[0]["changes"] == {"owner": [alice.id, bob.id]}


def test_bulk_update_is_all_or_nothing(rec: Any) -> None:
    a = rec.create("deal", {"name": "A", "close_date": "2026-01-01"})
    b = rec.create("deal", {"name": "B"})
    with pytest.raises(ValidationFailed) as err:
        rec.bulk_update("deal", [a["id"], b["id"]], {"stage": "won"})
    assert "B:" in err.value.errors["close_date"][0]
    assert rec.get("deal", a["id"])["stage"] == "open"
    assert rec.bulk_update("deal", [a["id"]], {"stage": "won"}) == 1
