"""`/api/v1/targets/...`: attainment and the leaderboard as JSON, with the same visibility as
the page (a rep gets every rank and percentage, amounts only their own), and clear errors for
a bad period, an unknown metric or parameter, and callers who may not see targets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.context import Context
from app.targets.periods import Period
from app.web import create_app
from tests.apikit import token_for
from tests.targetskit import deal, deployment, target, uid

Q4 = Period("quarter", date(2026, 10, 1))


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = deployment(tmp_path, database_url)
    try:
        deal(made, "alice", "150000", date(2026, 11, 3))
        deal(made, "bob", "50000", date(2026, 10, 20))
        deal(made, "carol", "10000", date(2026, 12, 31))
        target(made, "revenue", Q4, "200000", rep="alice")
        target(made, "revenue", Q4, "100000", rep="bob")
        target(made, "revenue", Q4, "500000", team="east")
        yield made
    finally:
        made.dispose()


@pytest.fixture
def web(ctx: Context) -> Flask:
    return create_app(ctx, testing=True)


def _get(web: Flask, ctx: Context, username: str, url: str) -> tuple[int, Any]:
    resp = web.test_client().get(url, headers=token_for(ctx, username))
    return resp.status_code, resp.get_json()


def test_attainment_as_a_manager(web: Flask, ctx: Context) -> None:
    code, body = _get(web, ctx, "manager",
                      "/api/v1/targets/attainment?period=2026-Q4&metric=revenue")
    assert code == 200, body
    assert (body["period"], body["start"], body["end"], body["metric"], body["kind"]) == (
        "2026-Q4", "2026-10-01", "2026-12-31", "revenue", "currency")
    reps = {r["name"]: (r["rank"], r["percent"], r["actual"], r["target"])
            for r in body["reps"]}
    assert reps == {"Alice East": (1, "75.0", "150000.00", "200000.00"),
                    "Bob East": (2, "50.0", "50000.00", "100000.00"),
                    "Carol North": (None, None, "10000.00", None)}
    east = next(t for t in body["teams"] if t["team"] == "east")
    assert (east["actual"], east["target"], east["percent"], east["target_from_reps"]) == (
        "200000.00", "500000.00", "40.0", False)


def test_leaderboard_as_a_rep(web: Flask, ctx: Context) -> None:
    code, body = _get(web, ctx, "bob", "/api/v1/targets/leaderboard?period=2026-Q4")
    assert code == 200, body
    assert [(r["name"], r["rank"], r["percent"]) for r in body["ranking"]] == [
        ("Alice East", 1, "75.0"), ("Bob East", 2, "50.0")]
    alice, bob = body["ranking"]
    assert "actual" not in alice and "target" not in alice and alice["amounts"] is False
    assert (bob["actual"], bob["target"]) == ("50000.00", "100000.00")
    assert body["unranked"] == [{"kind": "rep", "name": "Carol North", "rank": None,
                                 "percent": None, "amounts": False,
                                 "user_id": uid(ctx, "carol"), "teams": ["north"]}]
    assert [t["team"] for t in body["teams"]] == ["east", "north"]
    assert "actual" not in body["teams"][0]


def test_metrics_and_errors(web: Flask, ctx: Context) -> None:
    code, body = _get(web, ctx, "alice", "/api/v1/targets/metrics")
    assert code == 200 and [m["name"] for m in body["data"]] == [
        "revenue", "won_deals", "new_customers"]
    code, body = _get(web, ctx, "alice", "/api/v1/targets/attainment?period=2026-13")
    assert code == 400 and "2026-Q4" in body["error"]["message"]
    code, body = _get(web, ctx, "alice", "/api/v1/targets/attainment?metric=profit")
    assert code == 404 and "revenue" in body["error"]["message"]
    code, body = _get(web, ctx, "alice", "/api/v1/targets/leaderboard?when=now")
    assert code == 400 and "when" in body["error"]["message"]
    code, body = _get(web, ctx, "agent", "/api/v1/targets/attainment")
    assert code == 403
    code, body = _get(web, ctx, "agent", "/api/v1/targets/metrics")
    assert code == 403
    resp = web.test_client().get("/api/v1/targets/attainment")
    assert resp.status_code == 401
