"""The "My work" start page: my overdue and due-today activities (not someone else's), mark
done through the records service, my deals closing this month, my recent records, my counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.i18n import format_money
from app.model.system import users
from app.records import Actor, Records
from app.records.mywork import month_bounds, my_activities, my_counts, recent
from tests.webkit import csrf, deployment, records_of, sign_in, user_id, web_app


def actors(crm: Context) -> tuple[Actor, Actor]:
    return (Actor(user_id(crm, "admin"), "admin", ("admin",)),
            Actor(user_id(crm, "rep"), "rep", ("sales_rep",)))


def seed_activities(rec: Records, me: Actor, other: Actor) -> dict[str, int]:
    now = datetime.now(UTC)
    def make(subject: str, due: datetime | None, who: Actor, **extra: object) -> int:
        values = {"subject": subject, "due_at": due.isoformat() if due else None, **extra}
        return int(rec.create("activity", values, who)["id"])
    return {
        "overdue": make("Call overdue client", now - timedelta(days=3), me),
        "today": make("Send today's quote", now.replace(hour=0, minute=1), me,
                      priority="high"),
        "assigned": make("Assigned by rep", now - timedelta(days=1), other,
                         assigned_to=me.id),
        "theirs": make("Rep private task", now - timedelta(days=1), other),
        "future": make("Next week meeting", now + timedelta(days=7), me),
        "done": make("Already finished", now - timedelta(days=2), me, status="done"),
        "undated": make("No due date", None, me),
    }


def test_my_activities_due(web: Flask, crm: Context, client: FlaskClient) -> None:
    me, other = actors(crm)
    ids = seed_activities(records_of(web), me, other)
    html = client.get("/").text
    assert "My work" in html
    section = html[html.index('id="my-activities"'):html.index('id="my-deals"')]
    overdue = section[section.index('id="overdue"'):section.index('id="due-today"')]
    today = section[section.index('id="due-today"'):]
    assert "Call overdue client" in overdue and "Assigned by rep" in overdue
    assert "Send today&#39;s quote" in today and "High" in today
    for hidden in ("Rep private task", "Next week meeting", "Already finished", "No due date"):
        assert hidden not in section
    assert "Rep private task" not in html  # not even among my recent records
    assert f'href="/activity/{ids["overdue"]}"' in overdue


def test_someone_else_sees_their_own(web: Flask, crm: Context) -> None:
    me, other = actors(crm)
    seed_activities(records_of(web), me, other)
    c = web.test_client()
    sign_in(c, "rep")
    html = c.get("/").text
    assert "Rep private task" in html and "Assigned by rep" in html
    assert "Call overdue client" not in html.split('id="recent"')[0]


def test_mark_done(web: Flask, crm: Context, client: FlaskClient) -> None:
    me, other = actors(crm)
    rec = records_of(web)
    ids = seed_activities(rec, me, other)
    html = client.get("/").text
    token = csrf(html)
    url = f"/my-work/activities/{ids['overdue']}/done"
    assert client.post(url, data={"version": "1"}).status_code == 400  # no CSRF token
    assert rec.get("activity", ids["overdue"])["status"] == "planned"
    resp = client.post(url, data={"version": "1", "csrf_token": token}, follow_redirects=True)
    assert resp.status_code == 200
    assert "Call overdue client is done." in resp.text
    assert rec.get("activity", ids["overdue"])["status"] == "done"
    assert f'href="/activity/{ids["overdue"]}"' not in resp.text.split('id="recent"')[0]
    last = rec.history("activity", ids["overdue"])[0]
    assert last["username"] == "admin" and last["changes"]["status"] == ["planned", "done"]
    stale = client.post(f"/my-work/activities/{ids['today']}/done",
                        data={"version": "7", "csrf_token": token}, follow_redirects=True)
    assert "nothing was saved" in stale.text
    assert rec.get("activity", ids["today"])["status"] == "planned"
    missing = client.post("/my-work/activities/999999/done",
                          data={"version": "1", "csrf_token": token}, follow_redirects=True)
    assert missing.status_code == 200 and "does not exist" in missing.text
    huge = client.post(f"/my-work/activities/{10**30}/done", data={"csrf_token": token})
    assert huge.status_code == 404


def test_deals_closing_this_month(web: Flask, crm: Context, client: FlaskClient) -> None:
    me, other = actors(crm)
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme"}, me)["id"]
    first, following = month_bounds(datetime.now(UTC).date())
    def deal(name: str, who: Actor, close: object, stage: str = "proposal",
             amount: str = "100") -> None:
        rec.create("opportunity", {"name": name, "account": acc, "stage": stage,
                                   "amount": amount, "close_date": str(close)}, who)
    deal("Mine this month", me, first, amount="1200.50")
    deal("Mine end of month", me, following - timedelta(days=1), amount="800")
    deal("Mine won", me, first, stage="won")
    deal("Mine next month", me, following)
    deal("Rep deal", other, first)
    html = client.get("/").text
    section = html[html.index('id="my-deals"'):html.index('id="recent"')]
    assert "Mine this month" in section and "Mine end of month" in section
    for absent in ("Mine won", "Mine next month", "Rep deal"):
        assert absent not in section
    assert format_money(Decimal("2000.50"), "CNY", "en") in section
    assert "Acme" in section


def test_recent_records_and_counts(web: Flask, crm: Context, client: FlaskClient) -> None:
    me, other = actors(crm)
    rec = records_of(web)
    acc = rec.create("account", {"name": "Recent Account"}, me)["id"]
    rec.update("account", acc, {"phone": "010-12345678"}, me)
    gone = rec.create("account", {"name": "Deleted Account"}, me)["id"]
    rec.delete("account", gone, me)
    rec.create("contact", {"last_name": "Wang"}, me)
    rec.create("account", {"name": "Rep Account"}, other)
    mine = recent(rec, int(me.id or 0))
    assert [(r.entity.name, r.title, r.action) for r in mine] == [
        ("contact", "Wang", "create"), ("account", "Recent Account", "update")]
    html = client.get("/").text
    section = html[html.index('id="recent"'):html.index('id="my-counts"')]
    assert f'href="/account/{acc}">Recent Account</a>' in section and "Edited" in section
    assert "Deleted Account" not in section and "Rep Account" not in section
    counts = {e.name: (n, more) for e, n, more in my_counts(rec, int(me.id or 0))}
    assert counts["account"] == (1, False) and counts["contact"] == (1, False)
    assert counts["lead"] == (0, False)
    rec.create("contact", {"last_name": "Li"}, me)
    capped = {e.name: (n, more) for e, n, more in my_counts(rec, int(me.id or 0), cap=1)}
    assert capped["contact"] == (1, True) and capped["account"] == (1, False)
    cards = html[html.index('id="my-counts"'):]
    assert re.search(r'href="/account/\?owner=me" data-entity="account">\s*'
                     r'<span[^>]*>Accounts</span>\s*<span[^>]*>1</span>', cards)


def test_in_chinese(web: Flask, crm: Context, client: FlaskClient) -> None:
    me, other = actors(crm)
    seed_activities(records_of(web), me, other)
    with crm.engine.begin() as conn:
        conn.execute(sa.update(users).where(users.c.username == "admin").values(locale="zh_CN"))
    html = client.get("/").text
    assert "截止时间" in html and "高" in html  # field and choice labels from the YAML
    assert "年" in html  # dates in the Chinese format


def test_agenda_split_and_limit(web: Flask, crm: Context) -> None:
    me, other = actors(crm)
    rec = records_of(web)
    seed_activities(rec, me, other)
    agenda = my_activities(rec, int(me.id or 0), limit=2)
    assert agenda is not None and agenda.total == 3
    assert [r["subject"] for r in agenda.overdue] == ["Call overdue client", "Assigned by rep"]
    assert agenda.today == []


def test_small_pack_without_activities(tmp_path: Path, database_url: str) -> None:
    ctx = deployment(tmp_path, database_url, pack="small")
    try:
        c = web_app(ctx).test_client()
        sign_in(c)
        resp = c.get("/")
        assert resp.status_code == 200 and "My work" in resp.text
        assert 'id="my-activities"' not in resp.text and 'id="my-counts"' in resp.text
    finally:
        ctx.dispose()
