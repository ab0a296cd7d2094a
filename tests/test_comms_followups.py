"""Overdue follow-ups (app/comms/followups.py): open activities past their due time for their
owner or assignee, and for the manager of the people responsible (sys_user.manager_id), grouped
by person; not for anyone else. The page /my-work/followups, the home page's count, and
GET /api/v1/activities/overdue?scope=mine|team."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from app import clock
from app.comms.followups import overdue
from app.context import Context
from app.users import create_user
from tests.apikit import token_for
from tests.commskit import actor_of, comms_deployment, records
from tests.mailkit import set_user
from tests.webkit import sign_in, user_id, web_app

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = comms_deployment(tmp_path, database_url)
    with c.engine.begin() as conn:
        create_user(conn, "boss", "boss-pass-123", ["sales_manager"], c.settings.roles,
                    full_name="Boss")
    set_user(c, "rep", manager_id=user_id(c, "boss"))
    clock.set_now(NOW)
    try:
        yield c
    finally:
        clock.set_now(None)
        c.dispose()


def _activities(ctx: Context) -> dict[str, int]:
    rs = records(ctx)
    rep, rep2 = actor_of(ctx, "rep"), actor_of(ctx, "rep2")
    past, future = NOW - timedelta(days=1), NOW + timedelta(hours=2)
    made = {}
    for name, owner, due, extra in (
            ("Late call", rep, past, {}),
            ("Later call", rep, future, {}),
            ("Done call", rep, past, {"status": "done"}),
            ("Handed over", rep, past - timedelta(hours=1), {"assigned_to": rep2.id}),
            ("Rep2 late", rep2, past, {})):
        made[name] = rs.create("activity", {"subject": name, "due_at": due, "owner": owner.id,
                                            **extra})["id"]
    return made


def test_owner_assignee_and_manager(ctx: Context) -> None:
    made = _activities(ctx)
    rs = records(ctx)
    rs.actor = actor_of(ctx, "rep")
    mine = overdue(rs, int(rs.actor.id or 0))
    assert [r["subject"] for r in mine.rows] == ["Handed over", "Late call"]
    assert mine.total == 2
    rs2 = records(ctx)
    rs2.actor = actor_of(ctx, "rep2")
    assert [r["subject"] for r in overdue(rs2, int(rs2.actor.id or 0)).rows] == ["Rep2 late"]
    assert overdue(rs2, int(rs2.actor.id or 0), scope="team").groups == []  # manages nobody
    boss = records(ctx)
    from app.records import Actor

    boss.actor = Actor(user_id(ctx, "boss"), "boss", ("sales_manager",))
    team = overdue(boss, user_id(ctx, "boss"), scope="team")
    rep_id = user_id(ctx, "rep")
    # grouped by person: the assignee when they report to the boss, else the owner
    assert [(uid, [r["id"] for r in rows]) for uid, rows in team.groups] == [
        (rep_id, [made["Handed over"], made["Late call"]])]
    assert overdue(boss, user_id(ctx, "boss")).groups == []  # nothing of their own


def test_pages_and_api(ctx: Context) -> None:
    _activities(ctx)
    app: Flask = web_app(ctx)
    rep = app.test_client()
    sign_in(rep, "rep")
    home = rep.get("/").text
    assert 'id="followups-overdue">2<' in home
    page = rep.get("/my-work/followups").text
    assert "Late call" in page and "Handed over" in page and "Rep2 late" not in page
    assert "Later call" not in page and "Done call" not in page
    assert 'id="scope-team"' not in page  # rep manages nobody
    boss = app.test_client()
    sign_in(boss, "boss", "boss-pass-123")
    team = boss.get("/my-work/followups?scope=team").text
    assert "Late call" in team and "Rep2 late" not in team and ">Rep <" in team
    assert 'id="no-followups"' in boss.get("/my-work/followups").text
    assert boss.get("/my-work/followups?scope=all").status_code == 404

    api = app.test_client()
    body = api.get("/api/v1/activities/overdue?scope=team",
                   headers=token_for(ctx, "boss")).get_json()
    assert body["scope"] == "team" and body["count"] == 2
    [group] = body["groups"]
    assert group["name"] == "Rep" and [a["subject"] for a in group["data"]] == [
        "Handed over", "Late call"]
    mine = api.get("/api/v1/activities/overdue", headers=token_for(ctx, "rep2")).get_json()
    assert [a["subject"] for g in mine["groups"] for a in g["data"]] == ["Rep2 late"]
    bad = api.get("/api/v1/activities/overdue?scope=everyone", headers=token_for(ctx, "rep"))
    assert bad.status_code == 400 and "scope" in bad.get_json()["error"]["message"]
