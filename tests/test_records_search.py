"""Global search in the engine: which columns are searched, case-insensitive contains with
wildcards taken literally, deleted records skipped, hits and counts bounded."""

from __future__ import annotations

from flask import Flask

from app.context import Context
from app.records import Actor
from app.records import search as s
from tests.webkit import records_of, user_id


def test_searched_columns_are_bounded(web: Flask) -> None:
    rec = records_of(web)
    cols = s.searchable(rec, "contact")
    assert len(cols) <= s.MAX_COLUMNS
    assert cols[0][0] is None  # the title (a formula) comes first
    names = [f.name for f, _ in cols[1:] if f is not None]
    # first and last name are in the title formula; the indexed email comes first
    assert names == ["email", "mobile", "phone", "title"]
    account = [f.name for f, _ in s.searchable(rec, "account") if f is not None]
    assert "account_number" in account  # autonumbers are searched
    assert s.searchable(rec, "quote_line")  # its title is a plain string field


def test_finds_across_entities_and_skips_deleted(web: Flask, crm: Context) -> None:
    rec = records_of(web)
    who = Actor(user_id(crm, "admin"), "admin", ("admin",))
    acc = rec.create("account", {"name": "Zebra Holdings", "email": "x@zebra.cn"}, who)
    rec.create("contact", {"first_name": "Zed", "last_name": "Zebrowski",
                           "account": acc["id"]}, who)
    other = rec.create("contact", {"last_name": "Lee", "email": "lee@ZEBRA.cn"}, who)
    gone = rec.create("lead", {"company": "Zebra Gone"}, who)
    rec.delete("lead", gone["id"], who)
    found = {g.entity.name: g for g in s.search(rec, "zebr")}
    assert set(found) == {"account", "contact"}
    assert [h.title for h in found["account"].hits] == ["Zebra Holdings"]
    contacts = found["contact"]
    assert contacts.total == 2 and not contacts.capped
    by_id = {h.id: h for h in contacts.hits}
    matched = by_id[other["id"]].field
    assert matched is not None and matched.name == "email"
    assert by_id[other["id"]].value == "lee@ZEBRA.cn"
    assert s.search(rec, "z") == []  # too short
    assert s.search(rec, "nothing-like-this") == []


def test_wildcards_are_literal_and_counts_capped(web: Flask, crm: Context) -> None:
    rec = records_of(web)
    who = Actor(user_id(crm, "admin"), "admin", ("admin",))
    for i in range(4):
        rec.create("account", {"name": f"Widget {i}"}, who)
    rec.create("account", {"name": "100% Widgets"}, who)
    assert s.search(rec, "%")  == []  # one character
    literal = s.search_entity(rec, "account", "0%")
    assert [h.title for h in literal.hits] == ["100% Widgets"]
    assert s.search_entity(rec, "account", "W_dget").total == 0
    capped = s.search_entity(rec, "account", "widget", per_entity=2, count_cap=3)
    assert len(capped.hits) == 2 and capped.total == 3 and capped.capped
    assert [h.title for h in capped.hits] == ["100% Widgets", "Widget 3"]  # newest first
