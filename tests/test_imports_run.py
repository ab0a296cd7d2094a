"""An import end to end on the engine: a generated messy 10,000-row file (tests/importkit.py)
is uploaded, mapped, dry-run (every bad row reported with its row, column and message, every
duplicate found, nothing written), run on the task queue (counts right, records tagged,
existing duplicates updated) and undone (created records gone, updated ones restored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.context import Context
from app.imports import ImportOptions, configure, start, undo, upload
from app.imports.jobs import get, problems, report_csv
from app.model.imports import import_rows
from tests.importkit import (
    EXPECTED_MAPPING,
    MAPPING,
    admin,
    csv_bytes,
    import_deployment,
    live,
    make_accounts,
    messy_contacts,
    store,
)

ROWS = 10_000
EXISTING = ("boss@example.com", "ceo@example.com")


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = import_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def count(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.text(
            "select count(*) from ent_contact where deleted_at is null")).scalar_one())


def test_ten_thousand_messy_rows_end_to_end(ctx: Context) -> None:
    who = admin(ctx)
    rs = live(ctx, who)
    accounts = make_accounts(rs)
    old = {email: rs.create("contact", {"last_name": "Old", "email": email, "title": "Was"})
           for email in EXISTING}
    messy = messy_contacts(ROWS, existing=EXISTING)
    files = store(ctx)
    job = upload(rs, files, who, "contact", "客户名单.csv", csv_bytes(messy.rows,
                                                                    encoding="gb18030"))
    assert job.total == ROWS and job.fields == EXPECTED_MAPPING
    options = ImportOptions.from_json({**job.options, "date_order": "dmy", "dedupe": "email",
                                       "on_duplicate": "update"})
    configure(rs, files, who, job.id, MAPPING, options)
    before = count(ctx)

    dry = start(rs, files, who, job.id, dry_run=True, queue=ctx.queue)
    assert dry.status == "validated" and count(ctx) == before
    errors = problems(ctx.engine, dry.id, limit=ROWS)
    assert {e["row_number"]: e["column_name"] for e in errors} == {
        row: column for row, (_kind, column) in messy.bad.items()}
    assert dry.failed == len(messy.bad) == dry.error_count
    duplicates = problems(ctx.engine, dry.id, "duplicate", limit=ROWS)
    assert {d["row_number"] for d in duplicates} == set(messy.repeats) | set(messy.existing)
    assert dry.duplicates == len(duplicates) and dry.skipped == len(messy.repeats)
    assert dry.created == len(messy.good) and dry.updated == len(messy.existing)

    done = start(rs, files, who, job.id, dry_run=False, queue=ctx.queue)
    assert done.status == "done" and done.processed == ROWS
    assert (done.created, done.updated, done.skipped, done.failed) == (
        len(messy.good), len(messy.existing), len(messy.repeats), len(messy.bad))
    assert count(ctx) == before + len(messy.good)
    with ctx.engine.connect() as conn:
        tags = conn.execute(sa.select(import_rows.c.row_number, import_rows.c.record_id,
                                      import_rows.c.action)
                            .where(import_rows.c.import_id == job.id)).all()
    assert len(tags) == len(messy.good) + len(messy.existing)
    row, record_id, _action = next(t for t in tags if t.action == "created")
    saved = rs.get("contact", record_id)
    clean = messy.clean[row]
    assert (saved["last_name"], saved["email"], saved["mobile"], saved["birthday"],
            saved["lead_source"], saved["account"]) == (
        clean["last_name"], clean["email"], clean["mobile"], clean["birthday"],
        clean["lead_source"], accounts[clean["account"]])
    report = "".join(report_csv(ctx.engine, job.id))
    assert report.startswith("\ufeffkind,row,column,message,value")
    assert report.count("\n") == 1 + len(messy.bad) + len(duplicates)

    undone = undo(rs, who, job.id)
    assert undone.status == "undone" and count(ctx) == before
    assert undone.undo_report == [
        f"Undone: {len(messy.good)} record(s) deleted, {len(messy.existing)} restored."]
    for email, record in old.items():
        assert rs.get("contact", record["id"])["email"] == email  # the file had it in capitals
    with pytest.raises(Exception, match="Only an import that wrote records"):
        undo(rs, who, job.id)


def test_small_imports_run_inline_and_a_bad_file_fails_the_import(ctx: Context) -> None:
    who = admin(ctx)
    rs = live(ctx, who)
    files = store(ctx)
    job = upload(rs, files, who, "contact", "one.csv", csv_bytes([["王"]], ["姓"]))
    done = start(rs, files, who, job.id, dry_run=False)
    assert (done.status, done.created) == ("done", 1)
    with pytest.raises(Exception, match="has already run"):
        start(rs, files, who, job.id, dry_run=False)
    assert get(ctx.engine, job.id, who).status_json()["percent"] == 100
