"""Exports of the current list view: CSV (UTF-8 with BOM, values as shown) and XLSX (real
numbers and dates), the same rows as the filtered, sorted page, read back and compared; labels
in the user's language; batches read by keyset; bad filters are a 400."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from app.web import export
from tests.webkit import csrf, records_of

VIEW = "f.stage.in=won&f.stage.in=proposal&sort=-amount&cols=name,account,stage,amount,close_date"


@pytest.fixture
def deals(web: Flask) -> list[dict[str, Any]]:
    rec = records_of(web)
    acme = rec.create("account", {"name": "Acme 中国"})
    made = []
    for i, (stage, amount, close) in enumerate([
            ("won", "1200.5", "2026-01-31"), ("proposal", "99", None),
            ("won", "5000", "2026-03-01"), ("prospecting", "7", None),
            ("proposal", "300", "2026-02-14")]):
        made.append(rec.create("opportunity", {
            "name": f"Deal {i} 项目", "account": acme["id"], "stage": stage, "amount": amount,
            "close_date": close}))
    return made


def page_names(client: FlaskClient, query: str) -> list[str]:
    html = client.get(f"/opportunity/?{query}").text
    return re.findall(r'crm-title">([^<]+)<', html)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())  # BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_is_the_filtered_sorted_view(client: FlaskClient, deals: list[dict[str, Any]]
                                         ) -> None:
    resp = client.get(f"/opportunity/export.csv?{VIEW}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="opportunity-{today}.csv"')
    rows = read_csv(resp.data)
    assert rows[0] == ["Opportunity name", "Account", "Stage", "Amount", "Close date"]
    assert [r[0] for r in rows[1:]] == page_names(client, VIEW)
    assert rows[1] == ["Deal 2 项目", "Acme 中国", "Won", "CN¥5,000.00", "Mar 1, 2026"]
    assert rows[4][4] == ""  # an empty date stays empty
    assert len(rows) == 5


def test_xlsx_has_real_numbers_and_dates(client: FlaskClient, deals: list[dict[str, Any]]
                                         ) -> None:
    resp = client.get(f"/opportunity/export.xlsx?{VIEW}")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(resp.data)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["Opportunity name", "Account", "Stage", "Amount", "Close date"]
    assert [r[0] for r in rows[1:]] == page_names(client, VIEW)
    assert rows[1][1:4] == ["Acme 中国", "Won", 5000]
    assert rows[1][4] == datetime(2026, 3, 1)
    assert isinstance(rows[2][3], int | float | Decimal) and float(rows[2][3]) == 1200.5
    assert rows[4][4] is None


def test_export_follows_search_mine_and_default_columns(
        client: FlaskClient, deals: list[dict[str, Any]]) -> None:
    rows = read_csv(client.get("/opportunity/export.csv?q=deal 3").data)
    assert rows[0][:3] == ["Opportunity name", "Account", "Stage"]
    assert [r[0] for r in rows[1:]] == ["Deal 3 项目"]
    assert read_csv(client.get("/opportunity/export.csv?owner=me").data)[1:] == []


def test_labels_and_values_in_chinese(client: FlaskClient, deals: list[dict[str, Any]]) -> None:
    token = csrf(client.get("/opportunity/").text)
    client.post("/me/language", data={"locale": "zh_CN", "csrf_token": token})
    rows = read_csv(client.get(f"/opportunity/export.csv?{VIEW}").data)
    assert rows[0] == ["商机名称", "客户", "销售阶段", "金额", "预计成交日期"]
    assert rows[1][2] == "赢单" and rows[1][4] == "2026年3月1日"
    sheet = load_workbook(io.BytesIO(client.get(
        f"/opportunity/export.xlsx?{VIEW}").data)).active
    header = next(sheet.iter_rows(values_only=True))
    assert list(header) == ["商机名称", "客户", "销售阶段", "金额", "预计成交日期"]
    assert sheet.title == "商机"


def test_all_rows_are_read_in_keyset_batches(client: FlaskClient, web: Flask,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    rec = records_of(web)
    acc = rec.create("account", {"name": "Batch Co"})
    for i in range(11):
        rec.create("opportunity", {"name": f"B{i:02d}", "account": acc["id"],
                                   "amount": None if i % 4 == 0 else i % 3})
    monkeypatch.setattr(export, "BATCH", 3)
    calls: list[int] = []
    real = export.iter_rows

    def counting(*args: Any, **kw: Any) -> Any:
        for batch in real(*args, **kw):
            calls.append(len(batch[0]))
            yield batch

    monkeypatch.setattr(export, "iter_rows", counting)
    query = "sort=amount&cols=name,amount&size=2"
    rows = read_csv(client.get(f"/opportunity/export.csv?{query}").data)
    assert calls == [3, 3, 3, 2]
    names = [r[0] for r in rows[1:]]
    assert len(names) == 11 == len(set(names))
    assert names[-3:] == ["B00", "B04", "B08"]  # empty amounts last
    book = load_workbook(io.BytesIO(client.get(f"/opportunity/export.xlsx?{query}").data))
    assert [r[0] for r in book.active.iter_rows(min_row=2, values_only=True)] == names


def test_bad_filter_is_a_400_not_a_broken_file(client: FlaskClient) -> None:
    for ext in ("csv", "xlsx"):
        resp = client.get(f"/opportunity/export.{ext}?f.amount.gte=lots")
        assert resp.status_code == 400
        assert "lots" in resp.text
    assert client.get("/nothing/export.csv").status_code == 404


def test_list_page_links_to_the_exports_of_its_view(client: FlaskClient) -> None:
    html = client.get(f"/opportunity/?{VIEW}").text
    link = re.search(r'id="export-csv" href="([^"]+)"', html)
    assert link and "f.stage.in=won" in link.group(1) and "sort=-amount" in link.group(1)
    assert date.today().year > 2000
