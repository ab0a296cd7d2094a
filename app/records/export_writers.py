"""Writers of exported rows, shared by list exports (app/web/export.py), report exports and
`crm report run --csv`: CSV as UTF-8 with a byte order mark (Excel then opens Chinese
correctly), streamed row by row; XLSX with openpyxl's write-only mode. Text a spreadsheet
would run as a formula (`=`, `+`, `-`, `@` first) stays text: a leading `'` in CSV, a text cell
in XLSX. No Flask."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

#: first characters that make a spreadsheet read a cell as a formula (CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutral(text: str) -> str:
    """Text a spreadsheet shows as text: a leading ' before a would-be formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def text_cell(sheet: Any, value: Any) -> Any:
    """Strings stay strings in XLSX (openpyxl would store '=...' as a formula)."""
    if not isinstance(value, str):
        return value
    made = WriteOnlyCell(sheet, value)
    made.data_type = "s"
    return made


def csv_cell(value: Any) -> Any:
    """A value for CSV: text neutralised, None empty, numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutral(value)
    return value


def csv_chunks(header: Sequence[Any], rows: Iterable[Sequence[Any]], *, bom: bool = True
               ) -> Iterator[str]:
    """CSV text, one chunk per row (the first with the byte order mark and the headings)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(str(h)) for h in header])
    yield ("\ufeff" if bom else "") + out.getvalue()
    for row in rows:
        out.seek(0)
        out.truncate()
        writer.writerow([csv_cell(v) for v in row])
        yield out.getvalue()


def sheet_title(text: str, fallback: str = "export") -> str:
    """A worksheet name: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", " ", text)[:31].strip() or fallback


def xlsx_bytes(title: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
    """An XLSX workbook of one sheet (headings, then the rows: numbers, dates and yes/no as
    themselves, text as text), written row by row."""
    book = Workbook(write_only=True)
    try:
        sheet = book.create_sheet(title=sheet_title(title))
        sheet.append([text_cell(sheet, str(h)) for h in header])
        for row in rows:
            sheet.append([text_cell(sheet, v) for v in row])
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as buffer:
            book.save(buffer)
            buffer.seek(0)
            return buffer.read()
    finally:
        book.close()
