"""Reading uploaded tables: CSV in UTF-8 (with or without BOM), GB18030 and UTF-16 with the
delimiter sniffed, XLSX (first or named sheet, typed cells), the header row, and clear refusals
of files that are not CSV or XLSX."""

from __future__ import annotations

import io
from datetime import datetime

import pytest

from app.imports.reader import FileProblem, column_names, inspect, read_rows
from tests.importkit import csv_bytes, xlsx_bytes

ROWS = [["王", "小明", "wang@example.cn"], ["Smith", "Anna", "anna@example.com"]]
HEAD = ["姓", "名", "邮箱"]


def rows_of(data: bytes, name: str = "f.csv", **kw: object) -> tuple[list[str], list[tuple[
        int, list[object]]]]:
    stream = io.BytesIO(data)
    info = inspect(stream, name, **kw)  # type: ignore[arg-type]
    return info.columns, list(read_rows(stream, name, info.kind, info.options(),
                                        len(info.columns)))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_csv_encodings_are_detected(encoding: str) -> None:
    columns, rows = rows_of(csv_bytes(ROWS, HEAD, encoding=encoding))
    assert columns == HEAD
    assert rows == [(2, ROWS[0]), (3, ROWS[1])]


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_the_delimiter_is_sniffed(delimiter: str) -> None:
    data = csv_bytes([["a, b", "1"], ["c", "2"]], ["name", "count"], delimiter=delimiter)
    info = inspect(io.BytesIO(data), "x.csv")
    assert info.delimiter == delimiter
    assert info.columns == ["name", "count"] and info.total == 2


def test_header_row_blank_rows_and_columns() -> None:
    data = b"\n,,\nName,,Name,\nA,1,2,3\n\n,,,\nB,,,\n"
    stream = io.BytesIO(data)
    info = inspect(stream, "x.csv")
    assert info.header_row == 3
    assert info.columns == ["Name", "Column B", "Name (2)"]
    assert info.total == 2 and info.samples[0] == ["A", "1", "2"]
    rows = list(read_rows(stream, "x.csv", info.kind, info.options(), 3))
    assert rows == [(4, ["A", "1", "2"]), (7, ["B", "", ""])]  # row numbers as in the file
    later = inspect(io.BytesIO(data), "x.csv", header_row=4)
    assert later.columns == ["A", "1", "2", "3"] and later.total == 1


def test_xlsx_first_sheet_named_sheet_and_typed_cells() -> None:
    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    first.title = "Notes"
    first.append(["only", "notes"])
    second = book.create_sheet("客户")
    second.append(["姓", "生日", "金额"])
    second.append(["王", datetime(1985, 3, 5), 1234.5])
    second.append([None, None, None])
    second.append(["李", 31112, 7])
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    assert rows_of(data, "book.xlsx")[0] == ["only", "notes"]
    info = inspect(io.BytesIO(data), "book.xlsx", sheet="客户")
    assert info.kind == "xlsx" and info.sheets == ["Notes", "客户"] and info.sheet == "客户"
    columns, rows = rows_of(data, "book.xlsx", sheet="客户")
    assert columns == ["姓", "生日", "金额"]
    assert rows == [(2, ["王", datetime(1985, 3, 5), 1234.5]), (4, ["李", 31112, 7])]
    with pytest.raises(FileProblem, match="no sheet 'Missing'"):
        inspect(io.BytesIO(data), "book.xlsx", sheet="Missing")


def test_xlsx_of_the_kit() -> None:
    columns, rows = rows_of(xlsx_bytes(ROWS, HEAD), "c.xlsx")
    assert columns == HEAD and [r for _n, r in rows] == ROWS


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"", "e.csv", "is empty"),
    (b"   \n\n", "e.csv", "is empty"),
    (b"%PDF-1.4 binary", "doc.pdf", "not a CSV or Excel"),
    (b"\x89PNG\r\n\x1a\n....", "p.csv", "not a CSV or Excel"),
    (b"a,b\x00c", "bin.csv", "not a CSV or Excel"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old", "old.xls", "old Excel file"),
    (b"PK\x03\x04 not really a zip", "broken.xlsx", "not a valid Excel"),
    (b"just text", "fake.xlsx", "not a valid Excel"),
    (b"\xff\xfe\x00\xd8", "bad16.csv", "not text in UTF-8 or GB18030"),
])
def test_files_that_are_not_tables_are_refused_clearly(data: bytes, name: str,
                                                       message: str) -> None:
    with pytest.raises(FileProblem, match=message) as caught:
        inspect(io.BytesIO(data), name)
    assert caught.value.status == 400


def test_a_header_without_names_and_too_many_columns() -> None:
    with pytest.raises(FileProblem, match="has no header row"):
        inspect(io.BytesIO(b"  ,\t, \n"), "x.csv")
    with pytest.raises(FileProblem, match="no column names"):
        inspect(io.BytesIO(b"  , , \nA,B\n"), "x.csv", header_row=1)
    wide = (",".join(f"c{i}" for i in range(501)) + "\n").encode()
    with pytest.raises(FileProblem, match="at most 500"):
        inspect(io.BytesIO(wide), "wide.csv")


def test_rows_are_read_lazily() -> None:
    data = csv_bytes([[str(i)] for i in range(5000)], ["n"])
    stream = io.BytesIO(data)
    info = inspect(stream, "n.csv")
    assert info.total == 5000
    rows = read_rows(stream, "n.csv", info.kind, info.options(), 1)
    assert next(rows) == (2, ["0"])
    assert stream.tell() < len(data)  # only a buffer's worth was read so far
    rows.close()


def test_column_names() -> None:
    assert column_names([" First  name ", None, "", "x", "x"]) == [
        "First name", "Column B", "Column C", "x", "x (2)"]
