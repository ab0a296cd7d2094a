"""Exports stream with flat memory: list CSV is read by keyset batch as the response is
consumed (never all rows at once); XLSX (list and report) is written to a temporary file and sent
from it in chunks, the file deleted when the response is closed, also when the client stops
reading; a bad filter is a 400 before any file exists; permissions still apply (a rep exports
only their own deals, without the fields hidden from them; a role without `export` gets 403)."""

from __future__ import annotations

import csv
import gc
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook

from app.context import Context
from app.records.change import SYSTEM
from app.records.export_writers import TEMP_PREFIX, xlsx_file
from app.web import export
from tests.reportswebkit import DEALS, client_for, report_deployment, seed_deals
from tests.webkit import records_of, user_id, web_app

COLS = "cols=name,stage,amount,owner&sort=amount"


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's temporary folder for this test: export files (and openpyxl's sheet
    files) land here, so the test can see them come and go."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = report_deployment(tmp_path / "crm", database_url)
    try:
        yield c
    finally:
        c.dispose()


@pytest.fixture
def web(ctx: Context) -> Flask:
    app = web_app(ctx)
    seed_deals(app, ctx)
    rec = records_of(app)
    acc = rec.create("account", {"name": "=Formula Co"}, SYSTEM)["id"]
    for i, margin in enumerate((12, 30)):  # two more of rep's, with a margin reps may not see
        rec.create("opportunity", {"name": f"Margin deal {i}", "account": acc,
                                   "amount": 10 + i, "margin": margin,
                                   "owner": user_id(ctx, "rep")}, SYSTEM)
    return app


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_list_csv_reads_batches_only_as_the_stream_is_consumed(
        web: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "BATCH", 2)
    read: list[int] = []
    real = export.iter_rows

    def counting(*args: Any, **kw: Any) -> Any:
        for batch in real(*args, **kw):
            read.append(len(batch[0]))
            yield batch

    monkeypatch.setattr(export, "iter_rows", counting)
    resp = client_for(web, "admin").get(f"/opportunity/export.csv?{COLS}")
    assert resp.status_code == 200 and resp.is_streamed
    assert read == [2]  # only the first batch (read early: a bad filter is a 400)
    chunks = resp.iter_encoded()
    head = next(chunks)
    assert head.startswith("\ufeff".encode()) and read == [2]
    body = head + b"".join(chunks)
    assert read == [2, 2, 2, 2]  # 8 deals, 2 at a time, each read when its chunk was due
    resp.close()
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["Opportunity name", "Stage", "Amount", "Owner"]
    assert len(rows) == 1 + len(DEALS) + 2


def test_list_xlsx_is_sent_from_a_temporary_file_deleted_on_close(
        web: Flask, temp_dir: Path) -> None:
    resp = client_for(web, "admin").get(f"/opportunity/export.xlsx?{COLS}")
    assert resp.status_code == 200 and resp.is_streamed
    made = files(temp_dir)
    assert len(made) == 1 and made[0].startswith(TEMP_PREFIX)  # openpyxl's sheet file: gone
    data = resp.get_data()
    assert int(resp.headers["Content-Length"]) == len(data)
    resp.close()
    assert files(temp_dir) == []
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert rows[0] == ("Opportunity name", "Stage", "Amount", "Owner")
    assert len(rows) == 1 + len(DEALS) + 2
    assert rows[1] == ("Margin deal 0", "Prospecting", 10, "Rep")


def test_the_file_is_deleted_when_the_client_stops_reading(web: Flask, temp_dir: Path
                                                           ) -> None:
    resp = client_for(web, "admin").get(f"/opportunity/export.xlsx?{COLS}")
    chunks = resp.iter_encoded()
    assert next(chunks).startswith(b"PK")  # a zip: the first chunk of the file
    assert len(files(temp_dir)) == 1
    resp.close()  # what the WSGI server does when the client goes away
    assert files(temp_dir) == []


def test_report_xlsx_streams_from_a_temporary_file(web: Flask, temp_dir: Path) -> None:
    resp = client_for(web, "manager").get("/reports/pipeline_by_stage/export.xlsx")
    assert resp.status_code == 200 and resp.is_streamed
    assert len(files(temp_dir)) == 1
    data = resp.get_data()
    assert int(resp.headers["Content-Length"]) == len(data)
    resp.close()
    assert files(temp_dir) == []
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Stage" and rows[-1][0] == "Total"
    assert sheet.title == "Pipeline by stage"
    csv_resp = client_for(web, "manager").get("/reports/pipeline_by_stage/export.csv")
    assert csv_resp.status_code == 200 and csv_resp.is_streamed


def test_a_rep_exports_only_their_deals_without_hidden_fields(web: Flask, temp_dir: Path
                                                              ) -> None:
    rep = client_for(web, "rep")
    mine = sorted([f"Deal {i}" for i, d in enumerate(DEALS) if d[2] == "rep"]
                  + ["Margin deal 0", "Margin deal 1"])
    text = rep.get("/opportunity/export.csv?sort=name").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert "Margin (%)" not in rows[0] and [r[0] for r in rows[1:]] == mine
    book = load_workbook(io.BytesIO(rep.get("/opportunity/export.xlsx?sort=name").data))
    got = list(book.active.iter_rows(values_only=True))
    assert "Margin (%)" not in got[0] and [r[0] for r in got[1:]] == mine
    for ext in ("csv", "xlsx"):  # asking for the hidden column by name does not show it
        resp = rep.get(f"/opportunity/export.{ext}?cols=name,margin")
        assert resp.status_code == 400 and "margin" in resp.text
    admin = client_for(web, "admin").get("/opportunity/export.csv?cols=name,margin&sort=name")
    assert "Margin (%)" in admin.data.decode("utf-8-sig").splitlines()[0]  # it exists
    assert client_for(web, "agent").get("/opportunity/export.xlsx").status_code == 403
    assert files(temp_dir) == []


def test_a_bad_filter_is_a_400_and_leaves_no_file(web: Flask, temp_dir: Path) -> None:
    client = client_for(web, "admin")
    for ext in ("csv", "xlsx"):
        resp = client.get(f"/opportunity/export.{ext}?f.amount.gte=lots")
        assert resp.status_code == 400 and "lots" in resp.text
    assert files(temp_dir) == []


def test_a_failing_writer_leaves_nothing_on_disk(temp_dir: Path) -> None:
    def rows() -> Iterator[list[Any]]:
        yield ["ok", 1]
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError, match="went away"):
        xlsx_file("t", ["a", "b"], rows())
    assert files(temp_dir) == []  # neither our file nor openpyxl's sheet file
    gc.collect()  # openpyxl's row writer, closed cleanly: nothing written to a closed file


def test_formulas_and_control_characters_stay_text(temp_dir: Path) -> None:
    stream = xlsx_file("=sheet", ["=h"], [["=1+1", "bad\x01char", -5]])
    data = b"".join(stream)
    stream.close()
    assert stream.closed and files(temp_dir) == []
    sheet = load_workbook(io.BytesIO(data)).active
    assert list(sheet.iter_rows(values_only=True)) == [("=h", None, None),
                                                      ("=1+1", "badchar", -5)]
    assert sheet["A2"].data_type == "s"
