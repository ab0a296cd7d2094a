"""The Targets pages: attainment bars and the leaderboard for managers (with amounts) and reps
(ranks and percentages; amounts only their own), nothing for those who may not read targets;
the "Set targets" sheet of a team saved in one go, or nothing saved with errors per row; the
card on the sales dashboard and the navigation link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import clock
from app.context import Context
from app.targets.periods import Period
from app.web import create_app
from tests.targetskit import PASSWORD, deal, deployment, records, target, uid
from tests.webkit import csrf

Q4 = Period("quarter", date(2026, 10, 1))


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = deployment(tmp_path, database_url)
    clock.set_now(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    try:
        yield made
    finally:
        clock.set_now(None)
        made.dispose()


@pytest.fixture
def web(ctx: Context) -> Flask:
    return create_app(ctx, testing=True)


def _client(web: Flask, username: str) -> FlaskClient:
    c = web.test_client()
    resp = c.post("/login", data={"username": username, "password": PASSWORD,
                                  "csrf_token": csrf(c.get("/login").text)})
    assert resp.status_code == 302, resp.text
    return c


def _fill(ctx: Context) -> None:
    deal(ctx, "alice", "150000", date(2026, 11, 3))
    deal(ctx, "bob", "50000", date(2026, 10, 20))
    target(ctx, "revenue", Q4, "200000", rep="alice")
    target(ctx, "revenue", Q4, "100000", rep="bob")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_manager_sees_bars_leaderboard_and_amounts(ctx: Context, web: Flask) -> None:
    _fill(ctx)
    page = _client(web, "manager").get("/targets/")  # this quarter by default: 2026 Q4
    assert page.status_code == 200
    html = page.text
    assert 'id="targets-link"' in html and 'id="set-targets"' in html
    assert "2026 Q4" in html and 'crm-w-75 bg-warning' in html and 'crm-w-50 bg-warning' in html
    rows = re.findall(r'<tr class="crm-leader-row" data-user="(\d+)" data-rank="(\d*)"', html)
    assert rows == [(str(uid(ctx, "alice")), "1"), (str(uid(ctx, "bob")), "2")]
    text = _text(html)
    assert "CN¥150,000.00" in text and "CN¥200,000.00" in text and "75%" in text
    assert "style=" not in html.split("<main", 1)[1]


def test_a_rep_sees_ranks_and_percentages_and_only_their_own_amounts(
        ctx: Context, web: Flask) -> None:
    _fill(ctx)
    html = _client(web, "bob").get("/targets/?period=2026-Q4&metric=revenue").text
    text = _text(html)
    assert "Alice East" in text and "75%" in text and "Bob East" in text and "50%" in text
    assert "CN¥50,000.00" in text and "CN¥100,000.00" in text   # his own
    assert "150,000" not in text and "200,000" not in text      # hers
    assert 'id="set-targets"' not in html
    assert _client(web, "bob").get("/targets/set").status_code == 403


def test_who_may_not_read_targets_is_refused_and_has_no_link(web: Flask) -> None:
    agent = _client(web, "agent")
    assert agent.get("/targets/").status_code == 403
    assert 'id="targets-link"' not in agent.get("/").text


def test_bad_period_and_unknown_metric(web: Flask) -> None:
    c = _client(web, "manager")
    resp = c.get("/targets/?period=2026-Q9")
    assert resp.status_code == 400 and "2026-Q4" in resp.text
    assert c.get("/targets/?metric=nope").status_code == 404
    html = c.get("/targets/?period=last_month&metric=won_deals").text
    assert "2026-10" in html and 'data-metric="won_deals" href' in html


def test_set_targets_of_a_team_at_once(ctx: Context, web: Flask) -> None:
    c = _client(web, "manager")
    form = c.get("/targets/set?team=east&period=2026-Q4&metric=revenue")
    assert form.status_code == 200
    keys = re.findall(r'name="t_([^"]+)"', form.text)
    alice, bob, manager = (str(uid(ctx, n)) for n in ("alice", "bob", "manager"))
    assert keys == ["team", alice, bob, manager]  # the team, then its members by name
    data = {"csrf_token": csrf(form.text), "team": "east", "period": "2026-Q4",
            "metric": "revenue", "t_team": "¥500,000", f"t_{alice}": "200,000",
            f"t_{bob}": "150000", f"t_{manager}": ""}
    resp = c.post("/targets/set", data=data)
    assert resp.status_code == 303 and "period=2026-Q4" in resp.headers["Location"]
    rs = records(ctx)
    table = rs.table("sales_target")
    with ctx.engine.connect() as conn:
        saved = {(r.assignee_id, r.team, r.target_amount, r.owner_id)
                 for r in conn.execute(table.select())}
    assert saved == {(None, "east", 500000, uid(ctx, "manager")),
                     (int(alice), None, 200000, int(alice)),
                     (int(bob), None, 150000, int(bob))}
    again = c.get("/targets/set?team=east&period=2026-Q4&metric=revenue").text
    assert f'name="t_{alice}" id="t_{alice}" value="200000.00"' in again
    resp = c.post("/targets/set", data={**data, "csrf_token": csrf(again),
                                        f"t_{alice}": "250000"})
    assert resp.status_code == 303
    with ctx.engine.connect() as conn:
        assert conn.execute(table.select().where(table.c.assignee_id == int(alice))).one() \
            .target_amount == 250000


def test_one_bad_row_saves_nothing_and_says_which(ctx: Context, web: Flask) -> None:
    c = _client(web, "manager")
    form = c.get("/targets/set?team=east&period=2026-11&metric=won_deals")
    alice, bob = str(uid(ctx, "alice")), str(uid(ctx, "bob"))
    resp = c.post("/targets/set", data={
        "csrf_token": csrf(form.text), "team": "east", "period": "2026-11",
        "metric": "won_deals", "t_team": "10", f"t_{alice}": "4", f"t_{bob}": "2.5"})
    assert resp.status_code == 422
    assert 'id="e_' + bob + '"' in resp.text and 'id="e_' + alice + '"' not in resp.text
    assert f'name="t_{alice}" id="t_{alice}" value="4"' in resp.text  # what was typed stays
    with ctx.engine.connect() as conn:
        assert conn.execute(records(ctx).table("sales_target").select()).first() is None
    resp = c.post("/targets/set", data={
        "team": "east", "period": "2026-11", "metric": "won_deals", "t_team": "10"})
    assert resp.status_code == 400  # no CSRF token


def test_a_target_set_above_cannot_be_changed_on_the_sheet(ctx: Context, web: Flask) -> None:
    from tests.targetskit import actor

    target(ctx, "revenue", Q4, "900000", team="east", by=actor(ctx, "director"))
    c = _client(web, "manager")
    form = c.get("/targets/set?team=east&period=2026-Q4&metric=revenue").text
    assert 'name="t_team" id="t_team" value="900000.00" maxlength="40" disabled' in form
    resp = c.post("/targets/set", data={"csrf_token": csrf(form), "team": "east",
                                        "period": "2026-Q4", "metric": "revenue",
                                        "t_team": "1"})
    assert resp.status_code == 422 and 'id="e_team"' in resp.text


def test_the_sales_dashboard_shows_the_targets_card(ctx: Context, web: Flask) -> None:
    _fill(ctx)
    html = _client(web, "alice").get("/dashboards/sales").text
    card = html[html.index('id="targets-card"'):]
    assert "2026 Q4" in card and "Alice East" in _text(card) and "75%" in _text(card)
    assert 'href="/targets/?period=2026-Q4"' in card


def test_the_page_in_chinese(ctx: Context, web: Flask) -> None:
    import sqlalchemy as sa

    from app.model.system import users

    _fill(ctx)
    with ctx.engine.begin() as conn:
        conn.execute(sa.update(users).where(users.c.username == "manager")
                     .values(locale="zh_CN"))
    text = _text(_client(web, "manager").get("/targets/?period=2026-Q4").text)
    assert "2026年第4季度" in text and "收入" in text and "赢单数" in text
    assert "¥150,000.00" in text
