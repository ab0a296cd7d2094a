"""Archiving runs (app/archive): the records matching `when` and older than the age are
archived, younger or open ones are not; master-detail children go (and come back) with their
parent; a large run goes to the task queue; a run and a single record can be restored; only
administrators may; every run and restore is in the security log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import app.archive as archive
from app import clock, seclog
from app.archive import ArchiveError, parse_age, preview, restore_record, restore_run, start
from app.context import Context
from app.model.archive import archive_runs, archived
from app.records import Forbidden, NotFound, Records
from app.records.change import SYSTEM
from tests.consentkit import actor, consent_deployment, records

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
#: the shipped rules, and campaigns (with their members, a master-detail child)
RULES = (
    "archiving:\n"
    "  case: {when: \"status == 'closed'\", age_field: resolved_at}\n"
    "  campaign: {when: \"status in ['completed', 'aborted']\", age_field: end_date}\n"
)


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    clock.set_now(NOW)
    c = consent_deployment(tmp_path, database_url, workflows=(), reports=(),
                           files={"workflows/archiving.yaml": RULES})
    try:
        yield c
    finally:
        clock.set_now(None)
        c.dispose()


def case(rs: Records, subject: str, status: str = "closed",
         resolved: str | None = "2024-01-10T00:00:00+00:00") -> int:
    values = {"subject": subject, "status": status, "resolved_at": resolved,
              "resolution": "Fixed" if status in ("resolved", "closed") else None}
    return int(rs.create("case", values)["id"])


def archived_ids(ctx: Context, entity: str) -> set[int]:
    with ctx.engine.connect() as conn:
        return set(conn.execute(sa.select(archived.c.record_id)
                                .where(archived.c.entity == entity)).scalars())


def log(ctx: Context, event: str) -> list[dict[str, Any]]:
    with ctx.engine.connect() as conn:
        return seclog.query(conn, event=event)


def test_old_closed_records_are_archived_and_a_run_restores(ctx: Context) -> None:
    rs = records(ctx)
    old = case(rs, "Old closed")
    older = case(rs, "Older closed", resolved="2023-05-01T00:00:00+00:00")
    young = case(rs, "Recent closed", resolved="2026-05-01T00:00:00+00:00")
    still_open = case(rs, "Old but open", status="in_progress",
                      resolved="2024-01-10T00:00:00+00:00")
    undated = case(rs, "Closed, no date", resolved=None)
    admin = actor(ctx, "admin")

    p = preview(rs, admin, "case", parse_age("1y"))
    assert p.count == 2 and p.cutoff == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert [title for _id, title, _age in p.sample] == ["Older closed", "Old closed"]
    run_id = start(rs, admin, "case", parse_age("1y"))
    assert archived_ids(ctx, "case") == {old, older}
    assert {young, still_open, undated}.isdisjoint(archived_ids(ctx, "case"))
    with ctx.engine.connect() as conn:
        run = conn.execute(sa.select(archive_runs)).one()
    assert (run.id, run.status, run.total, run.done, run.older_than) == (
        run_id, "done", 2, 2, "1y")
    [entry] = log(ctx, archive.ARCHIVED_EVENT)
    assert entry["entity"] == "case" and entry["detail"]["records"] == 2
    # a second run finds nothing left
    with pytest.raises(ArchiveError):
        start(rs, admin, "case", parse_age("1y"))
    assert rs.get("case", old)["subject"] == "Old closed"  # kept, opens by id

    restore_record(rs, admin, "case", old)
    assert archived_ids(ctx, "case") == {older}
    with pytest.raises(NotFound):
        restore_record(rs, admin, "case", old)
    assert restore_run(rs, admin, run_id) == 1
    assert archived_ids(ctx, "case") == set()
    assert len(log(ctx, archive.RESTORED_EVENT)) == 2
    with ctx.engine.connect() as conn:
        assert conn.execute(sa.select(archive_runs.c.status)).scalar_one() == "restored"


def test_children_follow_their_parent(ctx: Context) -> None:
    rs = records(ctx)
    done = rs.create("campaign", {"name": "Done", "status": "completed",
                                  "end_date": "2024-03-01"})["id"]
    live = rs.create("campaign", {"name": "Live", "status": "active",
                                  "end_date": "2024-03-01"})["id"]
    c = int(rs.create("contact", {"last_name": "Member"})["id"])
    kids = [rs.create("campaign_member", {"campaign": cid, "contact": c})["id"]
            for cid in (done, done, live)]
    run_id = start(rs, SYSTEM, "campaign", parse_age("6m"))
    assert archived_ids(ctx, "campaign") == {done}
    assert archived_ids(ctx, "campaign_member") == set(kids[:2])
    restore_record(rs, SYSTEM, "campaign", done)
    assert archived_ids(ctx, "campaign_member") == set()
    assert restore_run(rs, SYSTEM, run_id) == 0


def test_large_runs_go_to_the_task_queue(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    rs = records(ctx)
    ids = {case(rs, f"Case {i}") for i in range(5)}
    monkeypatch.setattr(archive, "QUEUE_ABOVE", 3)
    monkeypatch.setattr(archive, "BATCH", 2)
    run_id = start(rs, SYSTEM, "case", parse_age("365d"), queue=ctx.queue)
    assert archived_ids(ctx, "case") == ids  # the immediate queue ran it, in 3 batches
    with ctx.engine.connect() as conn:
        run = conn.execute(sa.select(archive_runs).where(archive_runs.c.id == run_id)).one()
    assert (run.status, run.done, run.total) == ("done", 5, 5)


def test_refusals(ctx: Context) -> None:
    rs = records(ctx)
    case(rs, "Old closed")
    rep = actor(ctx, "rep")
    with pytest.raises(Forbidden):
        preview(rs, rep, "case", parse_age("1y"))
    with pytest.raises(Forbidden):
        start(rs, rep, "case", parse_age("1y"))
    with pytest.raises(ArchiveError) as err:
        preview(rs, SYSTEM, "opportunity", parse_age("1y"))
    assert "archiving" in err.value.message
    for bad in ("", "12", "3 fortnights", "0d", "101y", "-5d"):
        with pytest.raises(ArchiveError):
            parse_age(bad)
    assert parse_age(" 18M ").text == "18m"
    run_id = start(rs, SYSTEM, "case", parse_age("1y"))
    with pytest.raises(Forbidden):
        restore_run(rs, rep, run_id)
    with pytest.raises(NotFound):
        restore_run(rs, SYSTEM, run_id + 100)


def test_month_and_year_ages_follow_the_calendar() -> None:
    at = datetime(2026, 3, 31, 8, 0, tzinfo=UTC)
    assert parse_age("1m").cutoff(at) == datetime(2026, 2, 28, 8, 0, tzinfo=UTC)
    assert parse_age("13m").cutoff(at) == datetime(2025, 2, 28, 8, 0, tzinfo=UTC)
    assert parse_age("2y").cutoff(at) == datetime(2024, 3, 31, 8, 0, tzinfo=UTC)
    assert parse_age("2w").cutoff(at) == datetime(2026, 3, 17, 8, 0, tzinfo=UTC)
