"""Duplicates: values compared exactly or normalised (case, spaces, full-width, phone digits
without +86), against existing records and earlier rows of the file, any or all of the chosen
fields; what an import does with them (skip, update, create) and upsert by a key field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from app.imports import ImportOptions, configure, start, upload
from app.imports.dedupe import DuplicateFinder, normalise
from app.imports.jobs import problems
from app.meta.types import FieldDef
from tests.importkit import admin, csv_bytes, import_deployment, live, store


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = import_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def test_normalise() -> None:
    text, phone = FieldDef("n", "string"), FieldDef("p", "phone")
    assert normalise(text, "  Wang   XIAO ming ") == normalise(text, "wang xiao ming")
    assert normalise(text, "ＡＢＣ") == "abc"
    assert normalise(text, "A b", "exact") == "A b" != normalise(text, "a b", "exact")
    assert normalise(phone, "+86 138-1234-5678") == normalise(phone, "0086 13812345678") \
        == normalise(phone, "13812345678") == "13812345678"
    assert normalise(text, "  ") is None and normalise(text, None) is None


def test_finder_existing_and_earlier_rows(ctx: Context) -> None:
    rs = live(ctx, admin(ctx))
    old = rs.create("contact", {"last_name": "Old", "email": "old@example.com",
                                "mobile": "13812345678"})["id"]
    gone = rs.create("contact", {"last_name": "Gone", "email": "gone@example.com"})["id"]
    rs.delete("contact", gone)
    finder = DuplicateFinder(rs, "contact", ["email", "mobile"])
    by_mobile = finder.find({"email": "new@example.com", "mobile": "+86 138 1234 5678"}, 2)
    assert by_mobile is not None and by_mobile.record_id == old and by_mobile.field == "mobile"
    assert finder.find({"email": "gone@example.com"}, 3) is None  # deleted records do not count
    first = finder.find({"email": " GONE@example.com"}, 4)
    assert first is not None and first.row == 3
    finder.forget(3)  # row 3 was not written after all
    assert finder.find({"email": "gone@example.com"}, 5) is None
    both = DuplicateFinder(rs, "contact", ["email", "mobile"], match="all")
    assert both.find({"email": "old@example.com"}, 2) is None
    assert both.find({"email": "OLD@example.com", "mobile": "13812345678"}, 3) is not None


def run_import(ctx: Context, rows: list[list[Any]], **options: Any) -> Any:
    who = admin(ctx)
    rs = live(ctx, who)
    files = store(ctx)
    job = upload(rs, files, who, "contact", "d.csv",
                 csv_bytes(rows, ["Last name", "Email", "Title"]))
    configure(rs, files, who, job.id, job.fields, ImportOptions.from_json(options))
    return start(rs, files, who, job.id, dry_run=False)


@pytest.mark.parametrize(("choice", "created", "updated", "skipped"), [
    ("skip", 1, 0, 2), ("update", 1, 1, 1), ("create", 3, 0, 0)])
def test_on_duplicate(ctx: Context, choice: str, created: int, updated: int,
                      skipped: int) -> None:
    rs = live(ctx, admin(ctx))
    old = rs.create("contact", {"last_name": "Old", "email": "old@example.com",
                                "title": "Clerk"})
    job = run_import(ctx, [["New", "new@example.com", ""], ["Old", "OLD@example.com", "Boss"],
                           ["Again", " new@EXAMPLE.com ", "x"]],
                     dedupe="email", on_duplicate=choice)
    assert (job.created, job.updated, job.skipped, job.duplicates) == (created, updated,
                                                                       skipped, 2)
    found = problems(ctx.engine, job.id, "duplicate")
    assert [(p["row_number"], p["column_name"]) for p in found] == [(3, "Email"), (4, "Email")]
    assert f"Contact #{old['id']}" in found[0]["message"] and "row 2" in found[1]["message"]
    title = rs.get("contact", old["id"])["title"]
    assert title == ("Boss" if choice == "update" else "Clerk")


def test_upsert_by_a_key_field(ctx: Context) -> None:
    rs = live(ctx, admin(ctx))
    old = rs.create("contact", {"last_name": "Old", "email": "old@example.com"})
    job = run_import(ctx, [["Older", "old@example.com", "Boss"], ["New", "n@example.com", ""],
                           ["Twice", "n@example.com", ""]], upsert_key="email")
    assert (job.created, job.updated, job.skipped, job.duplicates) == (1, 1, 1, 1)
    assert rs.get("contact", old["id"])["last_name"] == "Older"


def test_a_row_that_failed_makes_no_duplicates(ctx: Context) -> None:
    job = run_import(ctx, [["", "same@example.com", "no last name"],
                           ["Second", "SAME@example.com", "ok"],
                           ["Third", "same@example.com", "a real duplicate of row 3"]],
                     dedupe="email")
    assert (job.created, job.failed, job.skipped, job.duplicates) == (1, 1, 1, 1)
    found = problems(ctx.engine, job.id, "duplicate")
    assert [(d["row_number"], "row 3" in d["message"]) for d in found] == [(4, True)]
