"""Duplicate detection (app/dedupe/find.py) on the database: each normaliser finds its pairs,
deleted records and other values stay out, groups honour "not duplicates" marks, the `merge`
grant and hidden fields, and one record's cheap check agrees with the full search."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.dedupe import dismiss, duplicates_of, find, mergeable, rules_for
from app.records import Forbidden, NotFound, RecordError
from tests.mergekit import actor, deployment, make, records


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = deployment(tmp_path, database_url)
    yield c
    c.dispose()


def ids(groups: list, rule: str | None = None) -> list[set[int]]:
    return [set(g.ids) for g in groups if rule is None or g.rule == rule]


@pytest.fixture
def data(ctx: Context) -> dict[str, int]:
    made: dict[str, int] = {}

    def c(key: str, **values: object) -> None:
        made[key] = int(make(ctx, "contact", **values)["id"])

    def a(key: str, **values: object) -> None:
        made[key] = int(make(ctx, "account", **values)["id"])

    c("zhang1", last_name="张三")
    c("zhang2", last_name="\u3000张　三")
    c("li", last_name="李四", mobile="+86 138-0013-8000", email="Li.Si@Example.com")
    c("li2", last_name="Lee", mobile="13800138000", email="li.si@example.COM ")
    c("other", last_name="王五", mobile="13900000000", email="wang@example.com")
    c("gone", last_name="王五", mobile="13900000001")
    records(ctx).delete("contact", made["gone"])
    a("acme1", name="Acme Ltd", city="Beijing")
    a("acme2", name="ACME", city="beijing")
    a("acme3", name="ACME Co., Ltd.", city="Beijing")
    a("other_co", name="Globex Inc", city="Shanghai")
    return made


def test_each_normaliser_finds_its_pairs(ctx: Context, data: dict[str, int]) -> None:
    rs, admin = records(ctx), actor(ctx, "admin")
    # text: full-width spaces around and between Chinese characters
    found = find(rs, admin, "contact", rule="contact_last_name")
    assert ids(found) == [{data["zhang1"], data["zhang2"]}]
    assert [r["id"] for r in found[0].records] == [data["zhang1"], data["zhang2"]]
    # phone: +86 and dashes; the deleted record with the same number stays out
    found = find(rs, admin, "contact", rule="contact_mobile")
    assert ids(found) == [{data["li"], data["li2"]}] and found[0].key == ("13800138000",)
    # email: grouped by the database, case and spaces ignored
    assert ids(find(rs, admin, "contact", rule="contact_email")) == [{data["li"], data["li2"]}]
    # company: legal forms, punctuation and case ignored
    assert ids(find(rs, admin, "account", rule="account_name")) \
        == [{data["acme1"], data["acme2"], data["acme3"]}]
    # exact: as stored (beijing is not Beijing)
    assert ids(find(rs, admin, "account", rule="account_city")) \
        == [{data["acme1"], data["acme3"]}]
    # every rule: li/li2 match by email and by mobile, one group; `limit`
    found = find(rs, admin, "contact")
    assert sorted(map(sorted, ids(found))) == sorted([
        sorted([data["zhang1"], data["zhang2"]]), sorted([data["li"], data["li2"]])])
    assert len(find(rs, admin, "contact", limit=1)) == 1


def test_grant_rules_and_one_records_check(ctx: Context, data: dict[str, int]) -> None:
    rs = records(ctx)
    with pytest.raises(Forbidden):
        find(rs, actor(ctx, "rep"), "contact")
    with pytest.raises(NotFound, match="contact_email"):
        find(rs, actor(ctx, "admin"), "contact", rule="nope")
    assert ids(find(rs, actor(ctx, "manager"), "contact", rule="contact_mobile")) \
        == [{data["li"], data["li2"]}]
    assert [e.name for e in mergeable(rs, actor(ctx, "manager"))] == ["account", "contact"]
    assert mergeable(rs, actor(ctx, "rep")) == []
    # a rule on a field hidden from them is not theirs (it would tell equal hidden values)
    assert "contact_secret" in [r.name for r in rules_for(rs, actor(ctx, "admin"), "contact")]
    assert "contact_secret" not in [r.name for r in rules_for(rs, actor(ctx, "manager"),
                                                                "contact")]

    # one record's cheap check agrees with the full search
    admin = actor(ctx, "admin")
    li = rs.get("contact", data["li"])
    assert duplicates_of(rs, admin, "contact", li) == [data["li2"]]
    zhang = rs.get("contact", data["zhang2"])
    assert duplicates_of(rs, admin, "contact", zhang) == [data["zhang1"]]
    acme = rs.get("account", data["acme2"])
    assert duplicates_of(rs, admin, "account", acme) == [data["acme1"], data["acme3"]]
    assert duplicates_of(rs, admin, "contact", rs.get("contact", data["other"])) == []
    assert duplicates_of(rs, actor(ctx, "rep"), "contact", li) == []  # no merge grant


def test_not_duplicates_splits_groups(tmp_path: Path, database_url: str) -> None:
    ctx = deployment(tmp_path, database_url)
    try:
        rs = records(ctx)
        admin = actor(ctx, "admin")
        a, b, c = (int(make(ctx, "account", name=n)["id"]) for n in ("Acme", "ACME Ltd",
                                                                     "Acme Inc"))
        assert ids(find(rs, admin, "account", rule="account_name")) == [{a, b, c}]
        assert dismiss(rs, admin, "account", [a, b]) == 1
        assert dismiss(rs, admin, "account", [b, a]) == 0  # already
        # b-c and a-c still link all three
        assert ids(find(rs, admin, "account", rule="account_name")) == [{a, b, c}]
        assert dismiss(rs, admin, "account", [a, b, c]) == 2
        assert find(rs, admin, "account", rule="account_name") == []
        assert duplicates_of(rs, admin, "account", rs.get("account", a)) == []
        with pytest.raises(RecordError):
            dismiss(rs, admin, "account", [a])
        with pytest.raises(Forbidden):
            dismiss(rs, actor(ctx, "rep"), "account", [a, b])
    finally:
        ctx.dispose()
