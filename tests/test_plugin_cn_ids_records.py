"""cn_ids through the records service: an entity with both field types, stored normalised,
refused with a message per field (English and Chinese), filtered by prefix, and
`birth_date_of` in a validation rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.i18n import use_locale
from app.records import ValidationFailed
from app.records.query import Filter, ListQuery, run
from tests.factories import service, write_schema
from tests.pluginkit import example_plugins

PARTY = {
    "entity": "party",
    "title": "name",
    "fields": {
        "name": {"type": "string", "required": True},
        "id_number": {"type": "cn_resident_id", "label": {"en": "ID number", "zh": "身份证号"}},
        "credit_code": {"type": "cn_uscc", "unique": True},
    },
    "rules": [{
        "name": "adult",
        "when": "birth_date_of(id_number) != null and "
                "days_between(birth_date_of(id_number), today()) < 6570",
        "field": "id_number",
        "message": {"en": "The holder must be 18 or older.", "zh": "持证人须年满18岁。"},
    }],
}


@pytest.fixture
def rec(tmp_path: Path, engine: sa.Engine) -> Iterator[Any]:
    with example_plugins() as pm:
        write_schema(tmp_path / "s", "party", PARTY)
        yield service(engine, tmp_path / "s", plugins=pm)


def test_valid_numbers_are_stored_normalised(rec: Any, engine: sa.Engine) -> None:
    made = rec.create("party", {"name": "Li Lei", "id_number": "110105 19491231 002x",
                                "credit_code": "91350100m000100y43"})
    assert made["id_number"] == "11010519491231002X"
    assert made["credit_code"] == "91350100M000100Y43"
    table = rec.table("party")
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns(table.name)}
    assert columns["id_number"]["type"].length == 18


def test_invalid_numbers_are_refused_per_field(rec: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        rec.create("party", {"name": "X", "id_number": "110105194912310021",
                             "credit_code": "91350100M000100Y44"})
    assert "check digit" in err.value.errors["id_number"][0]
    assert "check character" in err.value.errors["credit_code"][0]
    assert run(rec, "party", ListQuery()).rows == []  # nothing saved


def test_messages_follow_the_language(rec: Any) -> None:
    with use_locale("zh_CN"), pytest.raises(ValidationFailed) as err:
        rec.create("party", {"name": "X", "id_number": "1101"})
    assert err.value.errors["id_number"] == ["身份证号码应为18位（此处为4位）。"]


def test_birth_date_of_in_a_rule(rec: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        rec.create("party", {"name": "Kid", "id_number": "110105201801010019"})
    assert err.value.errors["id_number"] == ["The holder must be 18 or older."]
    rec.create("party", {"name": "Adult", "id_number": "11010519491231002X"})


def test_filter_by_prefix(rec: Any) -> None:
    rec.create("party", {"name": "A", "id_number": "11010519491231002X"})
    rec.create("party", {"name": "B", "id_number": "440301199001011234"})
    page = run(rec, "party", ListQuery(filters=(Filter("id_number", "starts_with", ("1101",)),)))
    assert [r["name"] for r in page.rows] == ["A"]
