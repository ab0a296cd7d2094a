"""The list query (app.records.query): every filter operator of every field type, quick search,
sort, keyset pages across ties and empty values (SQLite and PostgreSQL), the capped count and
the query string."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.fields import registry
from app.i18n import use_locale
from app.meta.listconf import relative_date
from app.migrate.publish import publish
from app.model.build import build_models
from app.model.system import create_system_tables
from app.records import SYSTEM, Actor, Records
from app.records.query import (
    COUNT_CAP,
    Filter,
    ListQuery,
    QueryError,
    iter_rows,
    run,
)
from app.records.queryparams import from_params, to_params
from app.users import create_user
from tests.factories import OPEN_ACCESS, ROLES, meta_of, write_schema

ITEM: dict[str, Any] = {
    "entity": "item",
    "label": {"en": "Item", "zh": "物品"},
    "title": "name",
    "fields": {
        "name": {"type": "string", "required": True, "label": {"en": "Name", "zh": "名称"}},
        "email": {"type": "email"},
        "qty": {"type": "integer", "label": {"en": "Quantity", "zh": "数量"}},
        "price": {"type": "currency", "currency": "CNY", "label": {"en": "Price", "zh": "价格"}},
        "ratio": {"type": "percent"},
        "weight": {"type": "decimal", "scale": 2},
        "active": {"type": "boolean"},
        "due": {"type": "date", "label": {"en": "Due", "zh": "到期日"}},
        "at": {"type": "datetime"},
        "tm": {"type": "time"},
        "stage": {"type": "picklist", "choices": [
            {"value": "open", "label": {"en": "Open", "zh": "进行中"}},
            {"value": "won", "label": {"en": "Won", "zh": "赢单"}},
            {"value": "lost", "label": {"en": "Lost", "zh": "输单"}}]},
        "colors": {"type": "multi_picklist", "choices": [
            {"value": "red", "label": {"en": "Red", "zh": "红"}}, "green", "blue"]},
        "tags": {"type": "tags"},
        "notes": {"type": "text"},
        "body": {"type": "rich_text"},
        "site": {"type": "url"},
        "phone": {"type": "phone"},
        "org": {"type": "lookup", "to": "org"},
        "assignee": {"type": "user"},
        "data": {"type": "json"},
        "total": {"type": "formula", "expr": "qty * price", "result": "currency"},
    },
}
ORG: dict[str, Any] = {
    "entity": "org", "title": "name",
    "fields": {"name": {"type": "string", "required": True},
               "items": {"type": "rollup", "entity": "item", "via": "org", "op": "count"}},
}


@pytest.fixture
def rec(tmp_path: Path, engine: sa.Engine) -> Records:
    write_schema(tmp_path / "s", "item", ITEM)
    write_schema(tmp_path / "s", "org", ORG)
    write_schema(tmp_path / "s", "_access", OPEN_ACCESS)
    with engine.begin() as conn:
        create_system_tables(conn)
    meta = meta_of(tmp_path / "s")
    publish(engine, meta)
    return Records(engine, build_models(meta))


def user(rec: Records, name: str) -> Actor:
    with rec.engine.begin() as conn:
        uid = create_user(conn, name, "password-123", ["sales_rep"], ROLES, full_name=name.title())
    return Actor(uid, name, ("sales_rep",))


def names(page: Any) -> list[str]:
    return [r["name"] for r in page.rows]


def find(rec: Records, *filters: Filter, **kw: Any) -> list[str]:
    page = run(rec, "item", ListQuery(filters=filters, sort="name", **kw))
    return names(page)


@pytest.fixture
def items(rec: Records) -> dict[str, Any]:
    acme = rec.create("org", {"name": "Acme Ltd"})
    beta = rec.create("org", {"name": "Beta"})
    ann = user(rec, "ann")
    rec.create("item", {
        "name": "alpha", "email": "a@acme.com", "qty": 1, "price": "1000", "ratio": "12.5",
        "weight": "1.5", "active": True, "due": "2026-01-31",
        "at": datetime(2026, 1, 31, 15, 0, tzinfo=UTC), "tm": "09:30", "stage": "open",
        "colors": ["red", "green"], "tags": ["vip", "北京"], "notes": "Big 50% deal",
        "body": "<p>Hello <b>World</b></p>", "site": "https://acme.com",
        "phone": "+86 10 1234 5678", "org": acme["id"], "assignee": ann.id,
        "data": {"k": 1}}, ann)
    rec.create("item", {
        "name": "beta thing", "email": "b@beta.cn", "qty": 5, "price": "20.5", "ratio": "50",
        "weight": "2", "active": False, "due": "2026-03-01",
        "at": datetime(2026, 2, 1, 0, 0, tzinfo=UTC), "tm": "14:00", "stage": "won",
        "colors": ["blue"], "tags": ["smb"], "notes": "under_score", "org": beta["id"]})
    rec.create("item", {"name": "gamma", "qty": 3, "stage": "lost", "colors": [], "tags": []})
    return {"acme": acme, "beta": beta, "ann": ann}


OPS: list[tuple[str, str, tuple[Any, ...], list[str]]] = [
    # text
    ("name", "eq", ("alpha",), ["alpha"]),
    ("name", "ne", ("alpha",), ["beta thing", "gamma"]),
    ("name", "contains", ("ET",), ["beta thing"]),
    ("name", "starts_with", ("b",), ["beta thing"]),
    ("name", "in", ("alpha", "gamma"), ["alpha", "gamma"]),
    ("email", "contains", ("acme",), ["alpha"]),
    ("email", "eq", ("b@beta.cn",), ["beta thing"]),
    ("email", "empty", (), ["gamma"]),
    ("email", "not_empty", (), ["alpha", "beta thing"]),
    ("notes", "contains", ("50%",), ["alpha"]),
    ("notes", "contains", ("r_s",), ["beta thing"]),
    ("body", "contains", ("world",), ["alpha"]),
    ("body", "empty", (), ["beta thing", "gamma"]),
    ("site", "starts_with", ("https://acme",), ["alpha"]),
    ("phone", "contains", ("1234",), ["alpha"]),
    # numbers
    ("qty", "eq", ("5",), ["beta thing"]),
    ("qty", "ne", ("5",), ["alpha", "gamma"]),
    ("qty", "lt", ("3",), ["alpha"]),
    ("qty", "lte", ("3",), ["alpha", "gamma"]),
    ("qty", "gt", ("3",), ["beta thing"]),
    ("qty", "gte", ("3",), ["beta thing", "gamma"]),
    ("qty", "between", ("2", "5"), ["beta thing", "gamma"]),
    ("qty", "between", ("5..1",), ["alpha", "beta thing", "gamma"]),
    ("price", "gte", ("¥1,000",), ["alpha"]),
    ("price", "lt", ("CNY 100",), ["beta thing"]),
    ("price", "empty", (), ["gamma"]),
    ("ratio", "gt", ("20%",), ["beta thing"]),
    ("weight", "lte", ("1.5",), ["alpha"]),
    ("total", "gte", ("100",), ["alpha", "beta thing"]),
    ("total", "lt", ("¥500",), ["beta thing"]),
    ("total", "empty", (), ["gamma"]),
    # yes / no
    ("active", "eq", ("yes",), ["alpha"]),
    ("active", "eq", ("否",), ["beta thing"]),
    ("active", "empty", (), ["gamma"]),
    # dates and times
    ("due", "eq", ("2026年1月31日",), ["alpha"]),
    ("due", "lt", ("2026-02-01",), ["alpha"]),
    ("due", "gte", ("2026/3/1",), ["beta thing"]),
    ("due", "between", ("2026-01-01", "2026-12-31"), ["alpha", "beta thing"]),
    ("due", "not_empty", (), ["alpha", "beta thing"]),
    ("at", "eq", ("2026-01-31",), ["alpha"]),
    ("at", "lte", ("2026-01-31",), ["alpha"]),
    ("at", "gt", ("2026-01-31",), ["beta thing"]),
    ("at", "lt", ("2026-02-01 00:00",), ["alpha"]),
    ("at", "between", ("2026-01-31", "2026-02-01"), ["alpha", "beta thing"]),
    ("tm", "lt", ("10:00",), ["alpha"]),
    ("tm", "gte", ("下午2:00",), ["beta thing"]),
    # choices
    ("stage", "eq", ("won",), ["beta thing"]),
    ("stage", "eq", ("输单",), ["gamma"]),
    ("stage", "ne", ("won",), ["alpha", "gamma"]),
    ("stage", "in", ("open", "Won"), ["alpha", "beta thing"]),
    ("stage", "not_in", ("open",), ["beta thing", "gamma"]),
    ("colors", "contains", ("红",), ["alpha"]),
    ("colors", "contains", ("green", "blue"), ["alpha", "beta thing"]),
    ("colors", "empty", (), ["gamma"]),
    ("colors", "not_empty", (), ["alpha", "beta thing"]),
    ("tags", "contains", ("北京",), ["alpha"]),
    ("tags", "empty", (), ["gamma"]),
    # relations and others
    ("org", "empty", (), ["gamma"]),
    ("assignee", "not_empty", (), ["alpha"]),
    ("data", "not_empty", (), ["alpha"]),
    ("data", "empty", (), ["beta thing", "gamma"]),
]


def test_every_filter_operator_of_every_type(rec: Records, items: dict[str, Any]) -> None:
    wrong = []
    for fname, op, values, expected in OPS:
        got = find(rec, Filter(fname, op, values))
        if got != expected:
            wrong.append(f"{fname} {op} {values}: {got} != {expected}")
    assert not wrong, "\n".join(wrong)


def test_every_operator_any_type_offers_is_covered() -> None:
    offered = {op for _, ftype in registry.items() for op in ftype.filter_ops}
    tested = {op for _, op, _, _ in OPS}
    assert offered <= tested, offered - tested


def test_lookup_user_and_owner_filters(rec: Records, items: dict[str, Any]) -> None:
    acme, beta, ann = items["acme"], items["beta"], items["ann"]
    assert find(rec, Filter("org", "eq", (str(acme["id"]),))) == ["alpha"]
    assert find(rec, Filter("org", "in", (acme["id"], beta["id"]))) == ["alpha", "beta thing"]
    assert find(rec, Filter("assignee", "eq", ("me",)), me=ann.id) == ["alpha"]
    assert find(rec, owner_id=ann.id) == ["alpha"]
    assert find(rec, Filter("owner", "eq", ("me",)), me=ann.id) == ["alpha"]
    assert find(rec, Filter("owner", "empty", ())) == ["beta thing", "gamma"]


def test_filters_combine_with_and(rec: Records, items: dict[str, Any]) -> None:
    assert find(rec, Filter("qty", "gte", ("1",)), Filter("stage", "ne", ("won",))) == [
        "alpha", "gamma"]


def test_relative_dates() -> None:
    today = date(2026, 5, 20)
    assert relative_date("today", today) == today
    assert relative_date("today-30", today) == date(2026, 4, 20)
    assert relative_date("year_start", today) == date(2026, 1, 1)
    assert relative_date("month_end", today) == date(2026, 5, 31)
    assert relative_date("week_start", today) == date(2026, 5, 18)
    assert relative_date("2026-01-01", today) is None


@pytest.mark.parametrize(("flt", "words"), [
    (Filter("qty", "gte", ("many",)), ["Quantity", "many"]),
    (Filter("due", "lt", ("31/31/2026",)), ["Due", "31/31/2026"]),
    (Filter("stage", "eq", ("maybe",)), ["maybe"]),
    (Filter("qty", "contains", ("1",)), ["Quantity", "contains"]),
    (Filter("qty", "between", ("1",)), ["between"]),
    (Filter("nope", "eq", ("1",)), ["nope"]),
])
def test_bad_filter_names_field_and_value(rec: Records, flt: Filter, words: list[str]) -> None:
    with pytest.raises(QueryError) as err:
        run(rec, "item", ListQuery(filters=(flt,)))
    assert err.value.status == 400
    for word in words:
        assert word in err.value.message


def test_bad_filter_message_follows_the_locale(rec: Records) -> None:
    with use_locale("zh_CN"), pytest.raises(QueryError) as err:
        run(rec, "item", ListQuery(filters=(Filter("qty", "gte", ("many",)),)))
    assert "数量" in err.value.message


def test_quick_search(rec: Records, items: dict[str, Any]) -> None:
    assert names(run(rec, "item", ListQuery(search="BETA", sort="name"))) == ["beta thing"]
    assert names(run(rec, "item", ListQuery(search="acme.com"))) == ["alpha"]
    assert names(run(rec, "item", ListQuery(search="50%"))) == ["alpha"]
    assert names(run(rec, "item", ListQuery(search="Beta THING", sort="name"))) == [
        "beta thing"]
    assert names(run(rec, "item", ListQuery(search="nothing-like-it"))) == []


def test_sort_by_fields_formulas_and_system_columns(rec: Records, items: dict[str, Any]
                                                     ) -> None:
    def order(sort: str) -> list[str]:
        return names(run(rec, "item", ListQuery(sort=sort)))

    assert order("qty") == ["alpha", "gamma", "beta thing"]
    assert order("-qty") == ["beta thing", "gamma", "alpha"]
    assert order("-total") == ["alpha", "beta thing", "gamma"]  # empty last
    assert order("total") == ["beta thing", "alpha", "gamma"]  # empty last
    assert order("-due") == ["beta thing", "alpha", "gamma"]
    assert order("created_at") == ["alpha", "beta thing", "gamma"]
    assert order("-id") == ["gamma", "beta thing", "alpha"]
    with pytest.raises(QueryError):
        order("colors")
    with pytest.raises(QueryError):
        order("nope")


def test_lookup_and_user_titles(rec: Records, items: dict[str, Any]) -> None:
    page = run(rec, "item", ListQuery(sort="name", columns=("name", "org", "assignee",
                                                            "owner")))
    acme = items["acme"]["id"]
    assert page.titles["org"][acme] == "Acme Ltd"
    assert page.titles["assignee"] == {items["ann"].id: "Ann"}
    assert page.titles["owner"] == {items["ann"].id: "Ann"}
    assert [c.name for c in page.columns] == ["name", "org", "assignee", "owner"]


def test_deleted_records_only_when_asked(rec: Records, items: dict[str, Any]) -> None:
    gamma = run(rec, "item", ListQuery(search="gamma")).rows[0]
    rec.delete("item", gamma["id"])
    assert find(rec) == ["alpha", "beta thing"]
    assert find(rec, include_deleted=True) == ["gamma"]


# --- keyset pages ---------------------------------------------------------------------------
def _expected(rows: list[tuple[int, Any]], desc: bool) -> list[int]:
    valued = sorted((r for r in rows if r[1] is not None), key=lambda r: (r[1], r[0]),
                    reverse=desc)
    empty = sorted((r for r in rows if r[1] is None), key=lambda r: r[0], reverse=desc)
    return [r[0] for r in valued + empty]


def _walk(rec: Records, sort: str, size: int) -> tuple[list[list[int]], list[list[int]]]:
    """Pages forward to the end, then backward to the start (ids per page)."""
    forward: list[list[int]] = []
    q = ListQuery(sort=sort, page_size=size)
    while True:
        page = run(rec, "item", q)
        forward.append([r["id"] for r in page.rows])
        assert page.has_prev == (len(forward) > 1)
        if not page.has_more:
            break
        q = ListQuery(sort=sort, page_size=size, cursor=page.next_cursor)
    backward = [forward[-1]]
    while page.has_prev:
        page = run(rec, "item", ListQuery(sort=sort, page_size=size, cursor=page.prev_cursor,
                                          backward=True))
        backward.insert(0, [r["id"] for r in page.rows])
    return forward, backward


@pytest.mark.parametrize("sort", ["qty", "-qty", "due", "-due", "-id", "name", "total",
                                  "-price"])
def test_keyset_pages_with_ties_and_empty_values(rec: Records, sort: str) -> None:
    data = []
    for i in range(23):
        qty = None if i % 5 == 0 else i % 4
        due = None if i % 3 == 0 else date(2026, 1, 1 + i % 2)
        made = rec.create("item", {"name": f"n{i % 7}", "qty": qty, "due": due,
                                   "price": None if i % 4 == 0 else i % 3})
        data.append(made)
    key = sort.removeprefix("-")
    expected = _expected([(r["id"], r[key]) for r in data], sort.startswith("-"))
    forward, backward = _walk(rec, sort, 4)
    assert [i for p in forward for i in p] == expected
    assert all(len(p) == 4 for p in forward[:-1])
    assert backward == forward


def test_keyset_pages_combine_with_filters(rec: Records) -> None:
    for i in range(12):
        rec.create("item", {"name": f"x{i}", "qty": i % 3, "stage": "won" if i % 2 else "open"})
    q = ListQuery(sort="-qty", page_size=2, filters=(Filter("stage", "eq", ("won",)),))
    seen = []
    for rows, _titles in iter_rows(rec, "item", q, batch=2):
        seen += [r["name"] for r in rows]
    assert len(seen) == 6 and set(seen) == {f"x{i}" for i in range(1, 12, 2)}


def test_a_damaged_or_foreign_cursor_is_a_400(rec: Records) -> None:
    for i in range(3):
        rec.create("item", {"name": f"x{i}", "qty": i})
    page = run(rec, "item", ListQuery(sort="qty", page_size=1))
    with pytest.raises(QueryError):
        run(rec, "item", ListQuery(sort="name", cursor=page.next_cursor))
    with pytest.raises(QueryError):
        run(rec, "item", ListQuery(sort="qty", cursor="garbage!"))


def test_count_is_capped(rec: Records) -> None:
    table = rec.table("item")
    now = datetime.now(UTC)
    with rec.engine.begin() as conn:
        conn.execute(table.insert(), [
            {"name": f"r{i}", "version": 1, "created_at": now, "updated_at": now}
            for i in range(COUNT_CAP + 5)])
    page = run(rec, "item", ListQuery(page_size=10))
    assert page.count_capped and page.count == COUNT_CAP and page.count_text == "10,000+"
    small = run(rec, "item", ListQuery(search="r999"))
    assert not small.count_capped and small.count == 11 and small.count_text == "11"


# --- query string ---------------------------------------------------------------------------
def test_query_string_round_trip(rec: Records) -> None:
    entity = rec.entity("item")
    args = {"q": ["acme"], "cols": ["name,qty,org"], "sort": ["-qty"], "size": ["25"],
            "owner": ["me"], "f.qty.gte": ["2"], "f.stage.in": ["open", "won"],
            "f.price.lte": [""], "f.email.empty": ["1"], "page": ["x"]}
    q = from_params(rec, entity, args, me=7)
    assert q.search == "acme" and q.columns == ("name", "qty", "org")
    assert q.sort == "-qty" and q.page_size == 25 and q.owner_id == 7
    assert Filter("stage", "in", ("open", "won")) in q.filters
    assert [f.field for f in q.filters] == ["qty", "stage", "email"]  # blank inputs dropped
    again = from_params(rec, entity, _multi(to_params(q)), me=7)
    assert again == q


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


@pytest.mark.parametrize("args", [{"size": ["0"]}, {"size": ["x"]}, {"cols": ["name,nope"]},
                                  {"owner": ["bob"]}])
def test_bad_query_string(rec: Records, args: dict[str, list[str]]) -> None:
    with pytest.raises(QueryError):
        from_params(rec, rec.entity("item"), args)


def test_values_come_back_typed(rec: Records, items: dict[str, Any]) -> None:
    row = run(rec, "item", ListQuery(search="alpha")).rows[0]
    assert row["due"] == date(2026, 1, 31) and row["tm"] == time(9, 30)
    assert row["price"] == Decimal("1000.00") and row["colors"] == ["red", "green"]
    assert row["owner"] == items["ann"].id
    assert SYSTEM.id is None
