"""The leaderboard: reps ranked by attainment (ties share a rank, listed by name), those
without a target after them; names and percentages for everyone in sales, amounts only for
the reps (and teams) the viewer's read scope on sales targets reaches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.context import Context
from app.records import Forbidden
from app.records.change import SYSTEM, Actor
from app.targets import leaderboard
from app.targets.periods import Period
from app.targets.service import Board
from tests.targetskit import actor, deal, deployment, records, target

NOV = Period("month", date(2026, 11, 1))


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def _board(ctx: Context, who: Actor = SYSTEM) -> Board:
    rs = records(ctx)
    return leaderboard(rs, who, NOV, rs.meta.feature("targets")["won_deals"])


def _deals(ctx: Context, owner: str, n: int) -> None:
    for i in range(n):
        deal(ctx, owner, 100 + i, date(2026, 11, 1 + i))


def test_ranked_by_attainment_ties_share_a_rank(ctx: Context) -> None:
    _deals(ctx, "alice", 2)      # 2 of 4: 50%
    _deals(ctx, "bob", 1)        # 1 of 2: 50%, a tie with alice
    _deals(ctx, "carol", 3)      # 3 of 2: 150%
    _deals(ctx, "manager", 1)    # no target: unranked, after the ranked
    target(ctx, "won_deals", NOV, 4, rep="alice")
    target(ctx, "won_deals", NOV, 2, rep="bob")
    target(ctx, "won_deals", NOV, 2, rep="carol")
    target(ctx, "won_deals", NOV, 5, rep="director")  # a target, nothing reached: 0%
    board = _board(ctx)
    assert [(ln.name, ln.rank, ln.percent) for ln in board.reps] == [
        ("Carol North", 1, Decimal("150.0")),
        ("Alice East", 2, Decimal("50.0")),
        ("Bob East", 2, Decimal("50.0")),
        ("Zhou Director", 4, Decimal("0.0")),
        ("Wang Manager", None, None),
    ]
    # team subtotals: east = alice + bob + manager (4 deals) against 4 + 2 (the reps' targets)
    assert [(ln.name, ln.rank, ln.actual, ln.target, ln.percent) for ln in board.teams] == [
        ("North", 1, 3, 2, Decimal("150.0")),
        ("East", 2, 4, 6, Decimal("66.7")),
    ]


def test_a_rep_sees_everyone_s_rank_and_percent_but_only_their_own_amounts(
        ctx: Context) -> None:
    _deals(ctx, "alice", 1)
    _deals(ctx, "bob", 2)
    target(ctx, "won_deals", NOV, 2, rep="alice")
    target(ctx, "won_deals", NOV, 2, rep="bob")
    target(ctx, "won_deals", NOV, 10, team="east")
    board = _board(ctx, actor(ctx, "alice"))
    seen = {ln.name: (ln.rank, ln.percent, ln.amounts, ln.actual, ln.target)
            for ln in board.reps}
    assert seen == {"Bob East": (1, Decimal("100.0"), False, None, None),
                    "Alice East": (2, Decimal("50.0"), True, 1, 2)}
    east = board.teams[0]
    assert (east.percent, east.amounts, east.actual, east.target, east.target_id) == (
        Decimal("30.0"), False, None, None, None)


def test_a_manager_sees_the_amounts_of_those_below(ctx: Context) -> None:
    _deals(ctx, "carol", 1)
    _deals(ctx, "director", 1)
    target(ctx, "won_deals", NOV, 2, rep="carol")
    target(ctx, "won_deals", NOV, 1, rep="director")
    board = _board(ctx, actor(ctx, "manager"))
    seen = {ln.name: (ln.amounts, ln.actual) for ln in board.reps}
    assert seen == {"Carol North": (True, 1), "Zhou Director": (False, None)}
    assert board.amounts
    director = _board(ctx, actor(ctx, "director"))
    assert all(ln.amounts for ln in (*director.reps, *director.teams))


def test_who_may_not_read_targets_gets_no_board(ctx: Context) -> None:
    with pytest.raises(Forbidden):
        _board(ctx, actor(ctx, "agent"))
