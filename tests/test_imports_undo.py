"""Undoing an import: created records go to the recycle bin (with their master-detail
children), updated records get their earlier values back unless changed since (reported, not
overwritten); only the importer or an administrator may undo, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.imports import ImportOptions, SetupProblem, configure, start, undo, upload
from app.records import Actor, NotFound
from app.users import create_user
from tests.importkit import admin, csv_bytes, import_deployment, live, store


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = import_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def marketer(ctx: Context, name: str = "mkt") -> Actor:
    with ctx.engine.begin() as conn:
        uid = create_user(conn, name, "mkt-pass-123", ["marketing"], ctx.settings.roles)
    return Actor(uid, name, ("marketing",))


def imported(ctx: Context, who: Actor, entity: str, header: list[str],
             rows: list[list[str]], **options: object) -> int:
    rs = live(ctx, who)
    files = store(ctx)
    job = upload(rs, files, who, entity, "u.csv", csv_bytes(rows, header))
    configure(rs, files, who, job.id, job.fields, ImportOptions.from_json(options))
    done = start(rs, files, who, job.id, dry_run=False)
    assert done.status == "done", done.status_json()
    return int(done.id)


def test_undo_restores_updates_unless_changed_since(ctx: Context) -> None:
    who = admin(ctx)
    rs = live(ctx, who)
    kept = rs.create("contact", {"last_name": "Kept", "email": "kept@example.com",
                                 "title": "Clerk"})
    edited = rs.create("contact", {"last_name": "Edited", "email": "edited@example.com",
                                   "title": "Clerk"})
    job = imported(ctx, who, "contact", ["Last name", "Email", "Title"], [
        ["New", "new@example.com", "Boss"], ["Kept", "kept@example.com", "Boss"],
        ["Edited", "edited@example.com", "Boss"]], upsert_key="email")
    rs.update("contact", edited["id"], {"title": "Director"})  # someone works on it
    done = undo(rs, who, job)
    assert done.status == "undone"
    assert rs.get("contact", kept["id"])["title"] == "Clerk"  # restored
    assert rs.get("contact", edited["id"])["title"] == "Director"  # left alone, reported
    assert done.undo_report[0] == "Undone: 1 record(s) deleted, 1 restored."
    assert done.undo_report[1] == (f"Row 4, Contact #{edited['id']}: it was changed since the "
                                   "import; left as it is.")
    assert [r["last_name"] for r in rs.recycle_bin("contact")] == ["New"]
    with pytest.raises(SetupProblem, match="Only an import that wrote records"):
        undo(rs, who, job)


def test_children_go_with_their_imported_parent(ctx: Context) -> None:
    who = admin(ctx)
    rs = live(ctx, who)
    job = imported(ctx, who, "campaign", ["Name"], [["春季展会"], ["Webinar"]])
    campaign = next(r for r in _live_rows(rs, "campaign") if r["name"] == "Webinar")
    person = rs.create("contact", {"last_name": "王"})
    rs.create("campaign_member", {"campaign": campaign["id"], "contact": person["id"]})
    undo(rs, who, job)
    assert _live_rows(rs, "campaign") == [] and _live_rows(rs, "campaign_member") == []
    assert rs.get("contact", person["id"])["deleted_at"] is None


def test_only_the_importer_or_an_admin_may_undo(ctx: Context) -> None:
    first, second = marketer(ctx, "mkt1"), marketer(ctx, "mkt2")
    job = imported(ctx, first, "lead", ["Last name", "Company"], [["李", "Acme"]])
    with pytest.raises(NotFound):
        undo(live(ctx, second), second, job)
    dry = upload(live(ctx, first), store(ctx), first, "lead", "d.csv",
                 csv_bytes([["赵", "X"]], ["Last name", "Company"]))
    start(live(ctx, first), store(ctx), first, dry.id, dry_run=True)
    with pytest.raises(SetupProblem, match="Only an import that wrote records"):
        undo(live(ctx, first), first, dry.id)
    done = undo(live(ctx, admin(ctx)), admin(ctx), job)
    assert done.status == "undone" and done.undo_report == [
        "Undone: 1 record(s) deleted, 0 restored."]


def _live_rows(rs: object, entity: str) -> list[dict[str, object]]:
    from tests.test_records_bulk import all_of

    return all_of(rs, entity)
