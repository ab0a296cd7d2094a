"""Sales target records: managers set them, reps only read their own; one target per rep (or
team), metric and period; the period starts on its first day; a name is filled in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from app.context import Context
from app.records import Actor, Forbidden, NotFound, RecordError, Records, ValidationFailed
from app.records.bulk import BulkRow
from app.targets.periods import Period
from tests.targetskit import actor, deployment, records, target, uid

Q4 = Period("quarter", date(2026, 10, 1))


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def _as(rs: Records, who: Actor) -> Records:
    return Records(rs.engine, rs.models, plugins=rs.plugins, actor=who)


def test_a_manager_sets_a_target_the_rep_reads_but_cannot_change(ctx: Context) -> None:
    rs = records(ctx)
    made = target(ctx, "revenue", Q4, "200000", rep="alice", by=actor(ctx, "manager"))
    assert made["name"] == "Revenue · Alice East · 2026 Q4"
    assert made["owner_id"] == uid(ctx, "alice")
    alice = actor(ctx, "alice")
    assert _as(rs, alice).get("sales_target", made["id"])["target_amount"] == 200000
    with pytest.raises(Forbidden):
        rs.update("sales_target", made["id"], {"target_amount": "1"}, alice)
    with pytest.raises(Forbidden):
        target(ctx, "revenue", Period("month", date(2026, 11, 1)), "1", rep="alice", by=alice)
    with pytest.raises(Forbidden):
        rs.delete("sales_target", made["id"], alice)
    with pytest.raises(NotFound):  # another rep's target is not theirs to see
        _as(rs, actor(ctx, "bob")).get("sales_target", made["id"])
    with pytest.raises(Forbidden):  # service agents see no targets at all
        _as(rs, actor(ctx, "agent")).get("sales_target", made["id"])
    rs.update("sales_target", made["id"], {"target_amount": "250000"}, actor(ctx, "manager"))


def test_one_target_per_rep_metric_and_period(ctx: Context) -> None:
    rs = records(ctx)
    first = target(ctx, "revenue", Q4, "100", rep="alice")
    with pytest.raises(ValidationFailed) as err:
        target(ctx, "revenue", Q4, "200", rep="alice")
    assert f"(#{first['id']})" in err.value.errors["__record__"][0]
    assert "Alice East" in err.value.errors["__record__"][0]
    target(ctx, "won_deals", Q4, 3, rep="alice")                          # another metric
    target(ctx, "revenue", Period("month", date(2026, 10, 1)), "50", rep="alice")  # a month
    target(ctx, "revenue", Q4, "100", rep="bob")                          # another rep
    team = target(ctx, "revenue", Q4, "900", team="east")
    with pytest.raises(ValidationFailed):
        target(ctx, "revenue", Q4, "901", team="east")
    other = target(ctx, "revenue", Period("quarter", date(2027, 1, 1)), "1", rep="alice")
    with pytest.raises(ValidationFailed):  # moving one onto the other's key
        rs.update("sales_target", other["id"], {"period_start": Q4.start})
    rs.delete("sales_target", first["id"])       # deleted: a new one may take its place
    again = target(ctx, "revenue", Q4, "300", rep="alice")
    with pytest.raises(RecordError, match="already"):  # and the old one cannot come back
        rs.restore("sales_target", first["id"])
    assert rs.get("sales_target", again["id"])["target_amount"] == 300
    assert team["name"] == "Revenue · East China · 2026 Q4"  # the picklist label


def test_an_import_of_the_same_key_twice_keeps_the_first(ctx: Context) -> None:
    rs = records(ctx)
    row = {"metric": "won_deals", "period_type": "month", "period_start": "2026-11-01",
           "team": "north", "target_count": "5"}
    outcome = rs.import_rows("sales_target", [BulkRow(1, row), BulkRow(2, dict(row))])
    assert [d.key for d in outcome.done] == [1]
    assert [f.key for f in outcome.failed] == [2]
    assert "already" in outcome.failed[0].errors["__record__"][0]


@pytest.mark.parametrize(("kind", "start", "ok"), [
    ("month", date(2026, 11, 1), True), ("month", date(2026, 11, 2), False),
    ("quarter", date(2026, 4, 1), True), ("quarter", date(2026, 5, 1), False),
    ("quarter", date(2026, 12, 31), False),
])
def test_the_period_starts_on_its_first_day(ctx: Context, kind: str, start: date,
                                            ok: bool) -> None:
    if ok:
        target(ctx, "revenue", Period(kind, start), "1", rep="bob")
        return
    with pytest.raises(ValidationFailed) as err:
        target(ctx, "revenue", Period(kind, start), "1", rep="bob")
    assert list(err.value.errors) == ["period_start"]
    assert start.isoformat() in err.value.errors["period_start"][0]


def test_a_target_is_for_one_rep_or_one_team_in_its_metric_field(ctx: Context) -> None:
    rs = records(ctx)
    base = {"metric": "won_deals", "period_type": "quarter", "period_start": Q4.start,
            "target_count": 3}
    with pytest.raises(ValidationFailed) as err:
        rs.create("sales_target", base)
    assert "assignee" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        rs.create("sales_target", {**base, "team": "east", "assignee": uid(ctx, "bob")})
    assert "team" in err.value.errors
    with pytest.raises(ValidationFailed) as err:  # a count metric: the target is a count
        rs.create("sales_target", {**base, "target_count": None, "target_amount": "3",
                                   "team": "east"})
    assert "target_count" in err.value.errors
    with pytest.raises(ValidationFailed) as err:  # a count is a whole number
        rs.create("sales_target", {**base, "target_count": "2.5", "team": "east"})
    assert "target_count" in err.value.errors


def test_a_filled_in_name_follows_the_target_a_given_one_stays(ctx: Context) -> None:
    rs = records(ctx)
    made = target(ctx, "won_deals", Q4, 3, rep="bob")
    moved = rs.update("sales_target", made["id"], {"period_start": date(2027, 1, 1)})
    assert moved["name"] == "Won deals · Bob East · 2027 Q1"
    named = rs.update("sales_target", made["id"], {"name": "Bob's stretch goal"})
    again = rs.update("sales_target", named["id"], {"target_count": 4})
    assert again["name"] == "Bob's stretch goal"
