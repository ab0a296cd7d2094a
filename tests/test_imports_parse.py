"""Cells -> values: each field type's `parse_cell` (the messy dates, numbers, yes/no, picklist
labels and phones of real files, Excel's typed cells) and the batch parser with lookups by a
key field and users by username or name, resolved in bulk."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.context import Context
from app.fields import FieldValueError, registry
from app.imports.mapping import resolve, targets
from app.imports.options import ImportOptions, SetupProblem
from app.imports.parse import RowParser
from app.meta.types import FieldDef, freeze
from tests.importkit import admin, import_deployment, live, rep


def cell(type_: str, value: Any, order: str | None = None, **options: Any) -> Any:
    f = FieldDef("x", type_, pattern=options.pop("pattern", None), options=freeze(options))
    return registry.get(type_).parse_cell(f, value, date_order=order)


@pytest.mark.parametrize(("value", "order", "expected"), [
    ("2024年3月5日", None, date(2024, 3, 5)),
    ("2024/3/5", None, date(2024, 3, 5)),
    ("2024-03-05", None, date(2024, 3, 5)),
    ("20240305", None, date(2024, 3, 5)),
    ("05/03/2024", "dmy", date(2024, 3, 5)),
    ("05/03/2024", "mdy", date(2024, 5, 3)),
    ("5.3.2024", "dmy", date(2024, 3, 5)),
    ("15/03/2024", "mdy", date(2024, 3, 15)),  # only one reading is a date
    ("March 5, 2024", None, date(2024, 3, 5)),
    (45356, None, date(2024, 3, 5)),  # an Excel serial
    ("45356", None, date(2024, 3, 5)),
    (datetime(2024, 3, 5), None, date(2024, 3, 5)),  # an Excel date cell
    (date(2024, 3, 5), None, date(2024, 3, 5)),
    ("  ", None, None),
])
def test_dates(value: Any, order: str | None, expected: date | None) -> None:
    assert cell("date", value, order) == expected


@pytest.mark.parametrize(("value", "order", "message"), [
    ("05/03/2024", None, "could be 2024-05-03 or 2024-03-05"),
    ("05/03/2024", "ymd", "could be"),
    ("2024-13-45", "dmy", "not a date on the calendar"),
    ("soon", None, "not a date"),
    (datetime(2024, 3, 5, 14, 30), None, "has a time of day"),
])
def test_dates_refused(value: Any, order: str | None, message: str) -> None:
    with pytest.raises(FieldValueError, match=message):
        cell("date", value, order)


def test_datetimes() -> None:
    assert cell("datetime", "05/03/2024 14:30", "dmy") == datetime(2024, 3, 5, 14, 30,
                                                                    tzinfo=UTC)
    assert cell("datetime", 45356.5) == datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
    assert cell("datetime", datetime(2024, 3, 5, 9)) == datetime(2024, 3, 5, 9, tzinfo=UTC)


@pytest.mark.parametrize(("type_", "value", "expected"), [
    ("decimal", "1,234.50", Decimal("1234.5")),
    ("decimal", "1 234", Decimal("1234")),
    ("decimal", "1\u00a0234,", None),
    ("currency", "¥1,234", Decimal("1234.00")),
    ("currency", "１２３４元", Decimal("1234.00")),
    ("percent", "12%", Decimal("12")),
    ("integer", "1,000", 1000),
    ("integer", 7.0, 7),
    ("decimal", 1234.5, Decimal("1234.5")),
])
def test_numbers(type_: str, value: Any, expected: Any) -> None:
    if expected is None:
        with pytest.raises(FieldValueError):
            cell(type_, value)
    else:
        assert cell(type_, value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("yes", True), ("No", False), ("是", True), ("否", False), ("1", True), ("0", False),
    ("Y", True), ("n", False), (1.0, True), (0, False), (True, True)])
def test_booleans(value: Any, expected: bool) -> None:
    assert cell("boolean", value) is expected


def test_picklists_by_value_or_label_in_either_language() -> None:
    choices = [{"value": "web", "label": {"en": "Website", "zh": "官网"}}, "other"]
    for text in ("web", "WEBSITE", " website ", "官网", "OTHER"):
        assert cell("picklist", text, choices=choices) in ("web", "other")
    assert cell("multi_picklist", "官网；Other", choices=choices) == ["web", "other"]
    with pytest.raises(FieldValueError, match="not one of the allowed values"):
        cell("picklist", "telepathy", choices=choices)


def test_text_phones_and_spreadsheet_numbers() -> None:
    pattern = "^1[3-9][0-9]{9}$"
    for text in ("+86 138 1234 5678", "0086-13812345678", "(+86)13812345678", "138.1234.5678",
                 13812345678, 13812345678.0):
        assert cell("phone", text, pattern=pattern) == "13812345678"
    assert cell("phone", "010-1234 5678") == "010-1234 5678"  # no pattern: kept as written
    assert cell("string", 100080.0) == "100080"
    assert cell("string", datetime(2024, 3, 5)) == "2024-03-05"
    assert cell("email", " a@b.cn ") == "a@b.cn"


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = import_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def test_lookups_by_key_field_users_and_owner_in_bulk(ctx: Context) -> None:
    who = admin(ctx)
    rs = live(ctx, who)
    acme = rs.create("account", {"name": "ACME  Ltd"})["id"]
    rs.create("account", {"name": "Twin"})
    rs.create("account", {"name": "twin"})
    gone = rs.create("account", {"name": "Gone"})["id"]
    rs.delete("account", gone)
    columns = ["姓", "公司", "负责人", "公司编号"]
    found = targets(rs, "contact", who)
    mapped = resolve(columns, {"姓": "last_name", "公司": "account", "负责人": "owner"}, found)
    parser = RowParser(rs, "contact", mapped, ImportOptions(), who)
    statements: list[str] = []
    sa.event.listen(ctx.engine, "before_cursor_execute",
                    lambda *a: statements.append(a[2]) if "ent_account" in a[2] else None)
    rows = parser.parse([
        (2, ["王", "acme ltd", "rep", None]),
        (3, ["李", "ＡＣＭＥ LTD", "Rep2", None]),
        (4, ["张", "Twin", "nobody", None]),
        (5, ["赵", "Gone", "admin", None]),
        (6, ["钱", "  ", "", None]),
    ])
    assert len(statements) == 1  # one query for the batch's account names
    assert rows[0].values == {"last_name": "王", "account": acme,
                              "owner": _uid(ctx, "rep")}
    assert rows[1].values["account"] == acme and rows[1].values["owner"] == _uid(ctx, "rep2")
    assert [(p.column, p.message) for p in rows[2].problems] == [
        ("公司", "2 Accounts have Account name 'Twin': use a column that tells them apart."),
        ("负责人", "There is no user 'nobody'.")]
    assert [p.message for p in rows[3].problems] == [
        "There is no Account with Account name 'Gone'."]
    assert rows[4].values == {"last_name": "钱"} and not rows[4].problems
    again = parser.parse([(7, ["孙", "Acme Ltd", "Rep", None])])
    assert again[0].values["account"] == acme and len(statements) == 2  # a new name only


def test_lookup_by_id_and_a_key_the_user_cannot_use(ctx: Context) -> None:
    who = admin(ctx)
    rs = live(ctx, who)
    acme = rs.create("account", {"name": "Acme"})["id"]
    found = targets(rs, "contact", who)
    mapped = resolve(["a"], {"a": "account"}, found)
    parser = RowParser(rs, "contact", mapped, ImportOptions(lookup_keys={"account": "id"}), who)
    rows = parser.parse([(2, [str(acme)]), (3, ["x"])])
    assert rows[0].values == {"account": acme}
    assert "not a record id" in rows[1].problems[0].message
    with pytest.raises(SetupProblem, match="cannot be matched by 'industry'"):
        ImportOptions(lookup_keys={"account": "industry"}).check(found, {"account"})
    seller = rep(ctx)
    assert "id_number" not in targets(live(ctx, seller), "contact", seller)  # hidden from reps


def _uid(ctx: Context, name: str) -> int:
    from tests.webkit import user_id

    return user_id(ctx, name)
