"""Archived records leave every everyday read (app/records/archived.py): the list page, the API
list, exports, the global search, the board, related lists, reports, "My work" counts and the
lookup picker; their detail page still opens, with the "Archived on" card and Unarchive for
administrators, who can also show them in lists ("Show archived") and in the search."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app import clock
from app.archive import parse_age, start
from app.context import Context
from app.records.change import SYSTEM
from app.records.mywork import my_counts
from app.reports.compute import run_report
from tests.apikit import token_for
from tests.consentkit import PASSWORDS, actor, consent_deployment, records
from tests.webkit import csrf, sign_in, web_app

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
REPORTS = """reports:
  cases_by_status:
    label: {en: Cases by status}
    entity: case
    group_by: [status]
    measures: [count]
"""


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    clock.set_now(NOW)
    c = consent_deployment(tmp_path, database_url, workflows=("archiving.yaml",), reports=(),
                           files={"reports/cases.yaml": REPORTS})
    try:
        yield c
    finally:
        clock.set_now(None)
        c.dispose()


def _setup(ctx: Context) -> tuple[int, int, int]:
    """An account with an old closed case (archived) and a recent one (not), the cases the
    service agent's."""
    rs = records(ctx)
    admin = actor(ctx, "agent")
    account = int(rs.create("account", {"name": "Acme 归档", "owner": admin.id})["id"])
    old = int(rs.create("case", {"subject": "Zebra printer jam", "status": "closed",
                                 "resolution": "Fixed", "account": account, "owner": admin.id,
                                 "resolved_at": "2024-01-10T00:00:00+00:00"})["id"])
    new = int(rs.create("case", {"subject": "Zebra label order", "status": "closed",
                                 "resolution": "Sent", "account": account, "owner": admin.id,
                                 "resolved_at": "2026-05-10T00:00:00+00:00"})["id"])
    start(rs, SYSTEM, "case", parse_age("1y"))
    return account, old, new


def _ids(html: str, entity: str) -> set[int]:
    return {int(i) for i in re.findall(rf'href="/{entity}/(\d+)"', html)}


def _signed_in(ctx: Context, username: str = "admin") -> FlaskClient:
    client = web_app(ctx).test_client()
    sign_in(client, username, PASSWORDS[username])
    return client


def test_archived_records_leave_everyday_reads(ctx: Context) -> None:
    account, old, new = _setup(ctx)
    client = _signed_in(ctx)

    listed = client.get("/case/")
    assert new in _ids(listed.text, "case") and old not in _ids(listed.text, "case")
    api = client.get("/api/v1/case", headers=token_for(ctx, "admin")).get_json()
    assert [r["id"] for r in api["data"]] == [new]
    exported = client.get("/case/export.csv").text
    assert "Zebra label order" in exported and "Zebra printer jam" not in exported
    found = client.get("/search?q=Zebra", headers={"Accept": "application/json"}).get_json()
    [cases] = [g for g in found["results"] if g["entity"] == "case"]
    assert [h["id"] for h in cases["hits"]] == [new] and cases["total"] == 1
    board = client.get("/case/board?by=status")
    assert f'data-id="{new}"' in board.text and f'data-id="{old}"' not in board.text
    page = client.get(f"/account/{account}")
    assert new in _ids(page.text, "case") and old not in _ids(page.text, "case")
    picked = client.get("/lookup/case?q=Zebra").get_json()["results"]
    assert [r["id"] for r in picked] == [new]

    rs = records(ctx, actor(ctx, "admin"))
    result = run_report(rs, rs.meta.reports["cases_by_status"])
    assert result.totals["count"] == 1
    counts = {e.name: n for e, n, _more in my_counts(rs, actor(ctx, "agent").id or 0)}
    assert counts["case"] == 1

    detail = client.get(f"/case/{old}")
    assert detail.status_code == 200 and 'id="archived-banner"' in detail.text
    assert "Archived on" in detail.text and 'id="unarchive-record"' in detail.text
    assert 'id="archived-banner"' not in client.get(f"/case/{new}").text


def test_administrators_can_show_them_and_unarchive(ctx: Context) -> None:
    account, old, new = _setup(ctx)
    client = _signed_in(ctx)
    plain = client.get("/case/")
    assert 'id="show-archived"' in plain.text
    shown = client.get("/case/?archived=1")
    assert _ids(shown.text, "case") >= {old, new}
    assert f'<tr data-id="{old}" data-archived="1">' in shown.text
    assert "Archived records included" in shown.text
    api = client.get("/api/v1/case?archived=1", headers=token_for(ctx, "admin")).get_json()
    assert {r["id"] for r in api["data"]} == {old, new}
    found = client.get("/search?q=Zebra&archived=1",
                       headers={"Accept": "application/json"}).get_json()
    [cases] = [g for g in found["results"] if g["entity"] == "case"]
    assert {h["id"] for h in cases["hits"]} == {old, new}

    agent = _signed_in(ctx, "agent")  # not an administrator: the flag means nothing
    assert 'id="show-archived"' not in agent.get("/case/").text
    mine = agent.get("/case/?archived=1")
    assert new in _ids(mine.text, "case") and old not in _ids(mine.text, "case")
    found = agent.get("/search?q=Zebra&archived=1",
                      headers={"Accept": "application/json"}).get_json()
    assert old not in {h["id"] for g in found["results"] for h in g["hits"]}
    assert agent.post(f"/archive/record/case/{old}/restore",
                      data={"csrf_token": csrf(agent.get("/case/").text)}).status_code == 403

    token = csrf(client.get(f"/case/{old}").text)
    back = client.post(f"/archive/record/case/{old}/restore", data={"csrf_token": token})
    assert back.status_code == 303 and back.headers["Location"].endswith(f"/case/{old}")
    assert old in _ids(client.get("/case/").text, "case")
    assert 'id="archived-banner"' not in client.get(f"/case/{old}").text
    assert account
