"""Creating records through the service: defaults, autonumbers, formulas, required fields,
conditional fields, rules, lookups and unique values; refused writes save nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.i18n import use_locale
from app.records import SYSTEM, ValidationFailed
from tests.factories import account, deal, make_user, rows, service, write_schema


@pytest.fixture
def rec(tmp_path: Path, engine: sa.Engine) -> Any:
    write_schema(tmp_path / "s", "account", account(
        code={"type": "string", "unique": True}))
    write_schema(tmp_path / "s", "deal", deal())
    return service(engine, tmp_path / "s")


def test_defaults_autonumber_and_formula(rec: Any) -> None:
    acc = rec.create("account", {"name": "Acme"})
    first = rec.create("deal", {"name": "A", "account": acc["id"], "amount": "200"})
    second = rec.create("deal", {"name": "B"})
    assert (first["number"], second["number"]) == ("D-0001", "D-0002")
    assert first["stage"] == "open" and first["probability"] == 10
    assert float(first["expected"]) == 20.0
    assert first["version"] == 1 and first["deleted_at"] is None


def test_required_field_is_refused_with_its_label(rec: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        rec.create("deal", {"amount": 5})
    assert err.value.errors == {"name": ["Name is required."]}
    with use_locale("zh_CN"), pytest.raises(ValidationFailed) as zh:
        rec.create("deal", {"stage": "won"})
    assert "名称" in zh.value.errors["name"][0]
    assert zh.value.errors["close_date"] == ["赢单必须填写成交日期"]


def test_required_when_applies_only_while_visible(rec: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        rec.create("deal", {"name": "L", "stage": "lost"})
    assert list(err.value.errors) == ["loss_reason"]
    ok = rec.create("deal", {"name": "L", "stage": "lost", "loss_reason": "price"})
    assert ok["loss_reason"] == "price"
    assert rec.create("deal", {"name": "O", "stage": "open"})["loss_reason"] is None


def test_type_and_range_problems_are_named_per_field(rec: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        rec.create("deal", {"name": "X", "amount": "lots", "probability": 300,
                            "stage": "maybe"})
    assert set(err.value.errors) == {"amount", "probability", "stage"}


def test_unknown_and_computed_fields_are_refused(rec: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        rec.create("deal", {"name": "X", "colour": "red", "expected": 5, "number": "D-9"})
    assert set(err.value.errors) == {"colour", "expected", "number"}


def test_lookup_must_point_at_a_live_record(rec: Any) -> None:
    acc = rec.create("account", {"name": "Gone"})
    rec.delete("account", acc["id"])
    with pytest.raises(ValidationFailed) as err:
        rec.create("deal", {"name": "X", "account": acc["id"]})
    assert "account" in err.value.errors
    with pytest.raises(ValidationFailed):
        rec.create("deal", {"name": "X", "account": 9999})


def test_unique_value_is_refused_before_the_database(rec: Any) -> None:
    rec.create("account", {"name": "A", "code": "X1"})
    with pytest.raises(ValidationFailed) as err:
        rec.create("account", {"name": "B", "code": "X1"})
    assert "must be unique" in err.value.errors["code"][0]


def test_a_refused_create_saves_nothing_and_draws_no_number(rec: Any, engine: sa.Engine
                                                            ) -> None:
    with pytest.raises(ValidationFailed):
        rec.create("deal", {"name": "W", "stage": "won"})
    assert rows(engine, "ent_deal") == []
    assert rec.create("deal", {"name": "ok"})["number"] == "D-0001"


def test_owner_defaults_to_the_actor_and_can_be_given(rec: Any, engine: sa.Engine) -> None:
    alice = make_user(engine, "alice")
    bob = make_user(engine, "bob")
    mine = rec.create("deal", {"name": "M"}, alice)
    assert mine["owner_id"] == alice.id and mine["created_by_id"] == alice.id
    given = rec.create("deal", {"name": "G", "owner": bob.id}, alice)
    assert given["owner_id"] == bob.id
    with pytest.raises(ValidationFailed) as err:
        rec.create("deal", {"name": "N", "owner": 999}, SYSTEM)
    assert "owner" in err.value.errors


def test_create_is_audited_with_the_values(rec: Any) -> None:
    made = rec.create("deal", {"name": "Audited", "amount": 10})
    (entry,) = rec.history("deal", made["id"])
    assert entry["action"] == "create" and entry["version"] == 1
    assert entry["changes"]["name"] == [None, "Audited"]
    assert entry["changes"]["amount"] == [None, "10.00"]
