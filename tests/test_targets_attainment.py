"""Attainment against hand-counted fixtures: won deals count and lost ones do not, the last
day of the period counts and the next day does not (UTC for date-and-time fields), deleted
records never count, and teams add up their members."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from app.context import Context
from app.records.change import SYSTEM
from app.targets import attainment
from app.targets.compute import actuals
from app.targets.periods import Period
from app.targets.service import Board, Line
from tests.targetskit import account, deal, deployment, records, target, uid

Q4 = Period("quarter", date(2026, 10, 1))
NOV = Period("month", date(2026, 11, 1))


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def _board(ctx: Context, metric: str, period: Period) -> Board:
    rs = records(ctx)
    return attainment(rs, SYSTEM, period, rs.meta.feature("targets")[metric])


def _rep(board: Board, ctx: Context, username: str) -> Line:
    return next(ln for ln in board.reps if ln.user_id == uid(ctx, username))


def _team(board: Board, name: str) -> Line:
    return next(ln for ln in board.teams if ln.team == name)


def test_revenue_counts_won_deals_closed_in_the_period(ctx: Context) -> None:
    deal(ctx, "alice", "1000.10", date(2026, 10, 1))                # first day: in
    deal(ctx, "alice", "2000", date(2026, 12, 31))                  # last day: in
    deal(ctx, "alice", "4000", date(2027, 1, 1))                    # next day: out
    deal(ctx, "alice", "8000", date(2026, 9, 30))                   # day before: out
    deal(ctx, "alice", "16000", date(2026, 11, 5), stage="lost")    # lost: out
    deal(ctx, "alice", "32000", date(2026, 11, 5), stage="proposal")  # open: out
    gone = deal(ctx, "alice", "64000", date(2026, 11, 6))           # deleted: out
    records(ctx).delete("opportunity", gone["id"])
    deal(ctx, "bob", "0.30", date(2026, 11, 30))
    deal(ctx, "bob", "0.10", date(2026, 11, 1))
    rs = records(ctx)
    metrics = rs.meta.feature("targets")
    assert actuals(rs, metrics["revenue"], Q4) == {uid(ctx, "alice"): Decimal("3000.10"),
                                                   uid(ctx, "bob"): Decimal("0.40")}
    assert actuals(rs, metrics["revenue"], NOV) == {uid(ctx, "bob"): Decimal("0.40")}
    assert actuals(rs, metrics["won_deals"], Q4) == {uid(ctx, "alice"): 2, uid(ctx, "bob"): 2}


def test_new_customers_by_creation_moment_in_utc(ctx: Context) -> None:
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    account(ctx, "carol", type="customer", created=start)                        # in
    account(ctx, "carol", type="customer", created=end - timedelta(seconds=1))   # in
    account(ctx, "carol", type="customer", created=end)                          # out
    account(ctx, "carol", type="customer", created=start - timedelta(microseconds=1))  # out
    account(ctx, "carol", type="prospect", created=start + timedelta(days=3))    # no customer
    rs = records(ctx)
    assert actuals(rs, rs.meta.feature("targets")["new_customers"], Q4) == {
        uid(ctx, "carol"): 2}
    board = _board(ctx, "new_customers", Q4)
    assert [(ln.name, ln.actual, ln.target, ln.rank) for ln in board.reps] == [
        ("Carol North", 2, None, None)]


def test_attainment_of_reps_and_teams(ctx: Context) -> None:
    deal(ctx, "alice", "150000", date(2026, 11, 3))
    deal(ctx, "bob", "50000", date(2026, 10, 20))
    deal(ctx, "carol", "90000", date(2026, 12, 1))
    target(ctx, "revenue", Q4, "200000", rep="alice")
    target(ctx, "revenue", Q4, "100000", rep="bob")
    target(ctx, "revenue", Q4, "300000", rep="carol")
    target(ctx, "revenue", Q4, "400000", team="east")
    board = _board(ctx, "revenue", Q4)
    alice = _rep(board, ctx, "alice")
    assert (alice.target, alice.actual, alice.percent, alice.teams) == (
        Decimal("200000.00"), Decimal("150000.00"), Decimal("75.0"), ("east",))
    assert _rep(board, ctx, "bob").percent == Decimal("50.0")
    assert _rep(board, ctx, "carol").percent == Decimal("30.0")
    east = _team(board, "east")  # its own target; members alice, bob (and the manager)
    assert (east.target, east.actual, east.percent, east.from_reps, east.members) == (
        Decimal("400000.00"), Decimal("200000.00"), Decimal("50.0"), False, 3)
    north = _team(board, "north")  # no team target: the sum of its reps' targets
    assert (north.target, north.actual, north.percent, north.from_reps) == (
        Decimal("300000.00"), Decimal("90000.00"), Decimal("30.0"), True)
    assert [ln.team for ln in board.teams] == ["east", "north"]  # south: nothing at all


def test_a_user_in_two_teams_counts_in_both(ctx: Context) -> None:
    from app.users import set_teams

    with ctx.engine.begin() as conn:
        set_teams(conn, uid(ctx, "carol"), ["north", "south"], ["east", "north", "south"])
    deal(ctx, "carol", "10", date(2026, 11, 3))
    deal(ctx, "carol", "5", date(2026, 11, 4))
    target(ctx, "won_deals", NOV, 4, team="south")
    board = _board(ctx, "won_deals", NOV)
    assert (_team(board, "north").actual, _team(board, "north").target) == (2, None)
    south = _team(board, "south")
    assert (south.actual, south.target, south.percent, south.rank) == (2, 4, Decimal("50.0"), 1)
    assert _rep(board, ctx, "carol").teams == ("north", "south")


def test_monthly_and_quarterly_targets_are_apart(ctx: Context) -> None:
    deal(ctx, "bob", "100", date(2026, 11, 15))
    target(ctx, "revenue", NOV, "100", rep="bob")
    target(ctx, "revenue", Q4, "400", rep="bob")
    assert _rep(_board(ctx, "revenue", NOV), ctx, "bob").percent == Decimal("100.0")
    assert _rep(_board(ctx, "revenue", Q4), ctx, "bob").percent == Decimal("25.0")
    assert _board(ctx, "revenue", Period("month", date(2026, 12, 1))).reps == ()
