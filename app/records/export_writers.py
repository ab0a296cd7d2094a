"""Writers of exported rows, shared by list exports (app/web/export.py), report exports and
`crm report run --csv`: CSV as UTF-8 with a byte order mark (Excel then opens Chinese
correctly), streamed in chunks; XLSX with openpyxl's write-only mode into a temporary file on
disk, sent back in chunks by a `FileStream` that deletes the file when it is closed. Memory
stays flat however many rows there are: openpyxl's write-only sheet writes each row to its own
temporary file as it comes (inline strings, no shared-string table), and the zip step copies
that file into the archive in small blocks. Text a spreadsheet would run as a formula (`=`,
`+`, `-`, `@` first) stays text: a leading `'` in CSV, a text cell in XLSX. No Flask."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

#: first characters that make a spreadsheet read a cell as a formula (CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: bytes per chunk of a streamed file, and the size CSV text is gathered to before a chunk
CHUNK = 64 * 1024
#: temporary export files are named crm-export-*.xlsx in the system's temporary folder
TEMP_PREFIX = "crm-export-"


def neutral(text: str) -> str:
    """Text a spreadsheet shows as text: a leading ' before a would-be formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def text_cell(sheet: Any, value: Any) -> Any:
    """Strings stay strings in XLSX (openpyxl would store '=...' as a formula); control
    characters XML cannot hold (a pasted \\x01) are left out instead of failing the export."""
    if not isinstance(value, str):
        return value
    made = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
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
    """CSV text in chunks of about CHUNK characters (the first with the byte order mark and
    the headings alone, so it is sent at once)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(str(h)) for h in header])
    yield ("\ufeff" if bom else "") + out.getvalue()
    out.seek(0)
    out.truncate()
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        if out.tell() >= CHUNK:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue()


def sheet_title(text: str, fallback: str = "export") -> str:
    """A worksheet name: at most 31 characters, none of []:*?/\\ (`text`, else `fallback`,
    else "export")."""
    for candidate in (text, fallback):
        cleaned = re.sub(r"[\[\]:*?/\\]", " ", candidate)[:31].strip()
        if cleaned:
            return cleaned
    return "export"


class FileStream:
    """The bytes of a temporary file, CHUNK at a time, for a streamed response; iterate it
    once. `close()` deletes the file: a WSGI server calls it when the response has been sent
    and also when the client went away; at the latest the file goes when this object is
    garbage collected or the process exits. No `len()`: a response of it is streamed."""

    def __init__(self, path: Path, chunk: int = CHUNK) -> None:
        self.path = path
        self.chunk = chunk
        self._file: IO[bytes] = path.open("rb")
        self.size = os.fstat(self._file.fileno()).st_size
        self._release = weakref.finalize(self, _release, self._file, path)

    def __iter__(self) -> Iterator[bytes]:
        while block := self._file.read(self.chunk):
            yield block

    def close(self) -> None:
        self._release()

    @property
    def closed(self) -> bool:
        return not self._release.alive


def _release(file: IO[bytes], path: Path) -> None:
    file.close()
    path.unlink(missing_ok=True)


def xlsx_file(title: str, header: Sequence[Any], rows: Iterable[Sequence[Any]], *,
              fallback: str = "export", folder: str | None = None) -> FileStream:
    """An XLSX workbook of one sheet (headings, then the rows: numbers, dates and yes/no as
    themselves, text as text), written row by row into a temporary file (in `folder`, else
    the system's temporary folder); its stream deletes the file when closed. If writing fails,
    nothing is left on disk and the error is raised, before anything could be sent."""
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".xlsx", dir=folder)
    os.close(fd)
    path = Path(name)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=sheet_title(title, fallback))
    try:
        sheet.append([text_cell(sheet, str(h)) for h in header])
        for row in rows:
            sheet.append([text_cell(sheet, v) for v in row])
        book.save(path)
        return FileStream(path)
    except BaseException:
        _drop_sheet_file(sheet)
        path.unlink(missing_ok=True)
        raise


def _drop_sheet_file(sheet: Any) -> None:
    """Delete the temporary file openpyxl's write-only sheet writes its rows to, after a
    failure: openpyxl itself would keep it until the process exits (`save` removes it)."""
    from openpyxl.worksheet import _writer

    writer = getattr(sheet, "_writer", None)
    out = getattr(writer, "out", None)
    if writer is None or not isinstance(out, str):
        return
    for step in (getattr(sheet, "_rows", None), writer.xf):  # rows first: they write to xf
        if step is not None:
            with suppress(Exception):  # cleanup after an error: that error is what is raised
                step.close()  # the last one closes the file handle
    Path(out).unlink(missing_ok=True)
    with suppress(ValueError):
        _writer.ALL_TEMP_FILES.remove(out)
