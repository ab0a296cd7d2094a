"""Reading an uploaded table: CSV (UTF-8, UTF-8 with BOM, UTF-16 or GB18030; the delimiter
sniffed) or XLSX (openpyxl's read-only mode, the first sheet or a named one), streamed row by
row so a large file is never held in memory.

`inspect` looks at a file once (kind, encoding, delimiter, sheets, the header row, the column
names, a few sample rows and the number of data rows); `read_rows` then yields
`(row number, cells)` for each data row. Row numbers are those a spreadsheet shows: the header
is row 1 (or the `header_row` chosen), so the first data row is row 2. A file that is neither
CSV nor XLSX, or that cannot be read, is `FileProblem` with a sentence saying why.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from app.i18n import _
from app.records.errors import RecordError

#: how much of a file is looked at to tell its kind, encoding and delimiter
HEAD = 64 * 1024
DELIMITERS = ",;\t|"
#: sample rows kept for the mapping page
SAMPLES = 5
#: the widest row read (columns beyond are an error: a broken file, not a customer list)
MAX_COLUMNS = 500
#: the longest cell of a CSV file (csv's own limit is 128 KB)
MAX_CELL = 1024 * 1024
#: an XLSX file is a zip: what its parts may unpack to (a "zip bomb" of a few hundred KB that
#: unpacks to gigabytes would take the server's memory: openpyxl reads the shared strings,
#: styles and workbook parts whole); spreadsheets' XML packs about 5 to 20 times
MAX_UNPACKED = 2 * 1024**3
MAX_PART = 256 * 1024**2
MAX_RATIO = 100
MAX_PARTS = 10_000
CSV, XLSX = "csv", "xlsx"

csv.field_size_limit(MAX_CELL)


class FileProblem(RecordError):
    """The uploaded file cannot be imported (not CSV or XLSX, unreadable, empty)."""

    status = 400


class RaggedRow(list[Any]):
    """A CSV row with more values than its header row has cells (an unquoted delimiter in a
    value moved the others): `header` is how many the header row has."""

    def __init__(self, cells: list[Any], header: int) -> None:
        super().__init__(cells)
        self.header = header


@dataclass
class TableInfo:
    """What `inspect` found in a file."""

    kind: str  # csv or xlsx
    columns: list[str]
    header_row: int
    #: data rows (blank rows not counted; for XLSX the sheet's declared size, an estimate)
    total: int
    samples: list[list[Any]] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)

    def options(self) -> dict[str, Any]:
        """How to read the file again (stored with the import)."""
        return {"encoding": self.encoding, "delimiter": self.delimiter, "sheet": self.sheet,
                "header_row": self.header_row}


def kind_of(head: bytes, name: str) -> str:
    """csv or xlsx, from the first bytes (the name only breaks no tie); FileProblem else."""
    lower = name.lower()
    if head.startswith(b"PK\x03\x04"):
        return XLSX
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(_("%(name)s is an old Excel file (.xls): save it as .xlsx or CSV "
                            "and upload that.", name=name))
    if lower.endswith((".xlsx", ".xlsm")):
        raise FileProblem(_("%(name)s is not a valid Excel (.xlsx) file.", name=name))
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return CSV  # UTF-16 text (Excel's "Unicode text")
    if b"\x00" in head or head.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8", b"GIF8")):
        raise FileProblem(_("%(name)s is not a CSV or Excel (.xlsx) file.", name=name))
    return CSV


def detect_encoding(stream: IO[bytes], name: str) -> str:
    """utf-8-sig, utf-16 (by their byte order marks), utf-8 when the whole file decodes as
    UTF-8, else gb18030 (Chinese Excel's CSV) when that decodes it; FileProblem else."""
    stream.seek(0)
    head = stream.read(4)
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        if _decodes(stream, encoding):
            stream.seek(0)
            return encoding
    raise FileProblem(_("%(name)s is not text in UTF-8 or GB18030: save it as CSV UTF-8 and "
                        "upload it again.", name=name))


def _decodes(stream: IO[bytes], encoding: str) -> bool:
    stream.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := stream.read(1024 * 1024):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: csv.Sniffer among , ; tab |, else the one the first line
    holds most of, else a comma."""
    lines = sample.splitlines()[:20]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    first = lines[0] if lines else ""
    best = max(DELIMITERS, key=first.count)
    return best if first.count(best) else ","


def blank(cells: list[Any] | tuple[Any, ...]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def column_names(header: list[Any]) -> list[str]:
    """Header cells as unique column names: blanks become `Column C`, a repeated name gets
    ` (2)`."""
    names: list[str] = []
    for index, cell in enumerate(header):
        text = "" if cell is None else " ".join(str(cell).split())
        base = text or _("Column %(letter)s", letter=column_letter(index))
        name, n = base, 2
        while name in names:
            name, n = f"{base} ({n})", n + 1
        names.append(name)
    return names


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# --- reading --------------------------------------------------------------------------------
def inspect(stream: IO[bytes], name: str, *, sheet: str | None = None,
            header_row: int | None = None) -> TableInfo:
    """Look at a whole file once (see the module's docstring). `stream` must be seekable."""
    stream.seek(0)
    head = stream.read(HEAD)
    if not head.strip():
        raise FileProblem(_("%(name)s is empty.", name=name))
    kind = kind_of(head, name)
    if kind == XLSX:
        return _inspect_xlsx(stream, name, sheet, header_row)
    encoding = detect_encoding(stream, name)
    sample = head.decode(encoding, errors="ignore")
    delimiter = sniff_delimiter(sample.lstrip("\ufeff"))
    info = TableInfo(CSV, [], 0, 0, encoding=encoding, delimiter=delimiter)
    return _scan(info, _csv_rows(stream, encoding, delimiter, name), name, header_row)


def _scan(info: TableInfo, rows: Iterator[tuple[int, list[Any]]], name: str,
          header_row: int | None) -> TableInfo:
    header: list[Any] | None = None
    for number, cells in rows:
        if header is None:
            if (header_row is None and blank(cells)) or (header_row and number < header_row):
                continue
            header, info.header_row = list(cells), number
            continue
        if blank(cells):
            continue
        info.total += 1
        if len(info.samples) < SAMPLES:
            info.samples.append(list(cells))
        if info.kind == XLSX and info.total >= SAMPLES:
            break  # XLSX: the sheet's declared size counts the rest
    if header is None:
        raise FileProblem(_("%(name)s has no header row.", name=name))
    while header and (header[-1] is None or str(header[-1]).strip() == ""):
        header.pop()
    if not header:
        raise FileProblem(_("%(name)s has no column names in its header row.", name=name))
    if not info.samples and info.kind == CSV:  # a workbook's other sheets may have rows
        raise FileProblem(_("%(name)s has no rows under its header row (row %(row)s).",
                            name=name, row=info.header_row))
    info.columns = column_names(header)
    width = len(info.columns)
    info.samples = [(s + [None] * width)[:width] for s in info.samples]
    return info


def read_rows(stream: IO[bytes], name: str, kind: str, options: dict[str, Any],
              width: int) -> Iterator[tuple[int, list[Any]]]:
    """The data rows after the header row, `width` cells each; blank rows left out."""
    header_row = int(options.get("header_row") or 1)
    if kind == XLSX:
        book, sheet = _open_sheet(stream, name, options.get("sheet"))
        rows: Iterator[tuple[int, list[Any]]] = enumerate(_xlsx_rows(sheet), 1)
    else:
        book = None
        rows = _csv_rows(stream, str(options.get("encoding") or "utf-8"),
                         str(options.get("delimiter") or ","), name)
    header = width
    try:
        for number, cells in rows:
            if number == header_row:
                header = max(width, len(cells))
            if number <= header_row or blank(cells):
                continue
            if kind == CSV and len(cells) > header and not blank(cells[header:]):
                yield number, RaggedRow(cells, header)  # the parser reports it
                continue
            yield number, (cells + [None] * width)[:width]
    finally:
        if book is not None:
            book.close()


def _csv_rows(stream: IO[bytes], encoding: str, delimiter: str, name: str
              ) -> Iterator[tuple[int, list[Any]]]:
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    try:
        reader = csv.reader(text, delimiter=delimiter)
        for number, cells in enumerate(reader, 1):
            if number == 1 and cells and cells[0].startswith("\ufeff"):
                cells[0] = cells[0][1:]  # a byte order mark the codec kept (GB18030's)
            if len(cells) > MAX_COLUMNS:
                raise FileProblem(_("Row %(row)s of %(name)s has %(count)s columns; at most "
                                    "%(limit)s are read.", row=number, name=name,
                                    count=len(cells), limit=MAX_COLUMNS))
            yield number, list(cells)
    except csv.Error as exc:
        raise FileProblem(_("%(name)s cannot be read as CSV: %(reason)s", name=name,
                            reason=str(exc))) from None
    finally:
        text.detach()


def _open_sheet(stream: IO[bytes], name: str, sheet: str | None) -> tuple[Any, Any]:
    from openpyxl import load_workbook

    _check_zip(stream, name)
    stream.seek(0)
    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise FileProblem(_("%(name)s is not a valid Excel (.xlsx) file.", name=name)) from None
    if not book.worksheets:
        book.close()
        raise FileProblem(_("%(name)s has no sheet.", name=name))
    if sheet is None:
        return book, book.worksheets[0]
    if sheet not in book.sheetnames:
        names = ", ".join(book.sheetnames)
        book.close()
        raise FileProblem(_("%(name)s has no sheet %(sheet)s (it has %(sheets)s).", name=name,
                            sheet=repr(sheet), sheets=names))
    return book, book[sheet]


def _check_zip(stream: IO[bytes], name: str) -> None:
    """Refuse an XLSX whose parts unpack to more than a spreadsheet's do (see MAX_UNPACKED),
    before anything is unpacked (the sizes are in the zip's directory; reading a part never
    unpacks more than its declared size)."""
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileProblem(_("%(name)s is not a valid Excel (.xlsx) file.", name=name)) from None
    total = sum(p.file_size for p in parts)
    packed = len(parts) > MAX_PARTS or total > MAX_UNPACKED or any(
        (p.file_size > MAX_PART and not p.filename.startswith("xl/worksheets/"))
        or (p.file_size > 1024**2 and p.file_size > MAX_RATIO * max(p.compress_size, 1))
        for p in parts)
    if packed:
        raise FileProblem(_("%(name)s unpacks to far more data than a spreadsheet holds "
                            "(%(size)s MB); it is not read. Save it again from Excel, or as "
                            "CSV.", name=name, size=total // 1024**2))


def _xlsx_rows(ws: Any) -> Iterator[list[Any]]:
    """The cells of each row of a sheet, as values; a number formatted as a percentage as the
    text it shows (0.12 shown as 12% is `"12%"`: a percent field holds 12, and a plain number
    field refuses it rather than take 0.12)."""
    for row in ws.iter_rows():
        yield [_cell_value(c) for c in row]


def _cell_value(cell: Any) -> Any:
    value = cell.value
    if isinstance(value, int | float) and not isinstance(value, bool) \
            and "%" in (cell.number_format or "") and math.isfinite(value):
        return f"{(Decimal(str(value)) * 100).normalize():f}%"
    return value


def _inspect_xlsx(stream: IO[bytes], name: str, sheet: str | None, header_row: int | None
                  ) -> TableInfo:
    book, ws = _open_sheet(stream, name, sheet)
    try:
        info = TableInfo(XLSX, [], 0, 0, sheet=ws.title, sheets=list(book.sheetnames))
        rows = enumerate(itertools.islice(_xlsx_rows(ws), 1_000_000), 1)
        _scan(info, rows, name, header_row)
        declared = ws.max_row
        if isinstance(declared, int) and declared > info.header_row:
            info.total = max(info.total, declared - info.header_row)
    finally:
        book.close()
    if len(info.columns) > MAX_COLUMNS:
        raise FileProblem(_("%(name)s has %(count)s columns; at most %(limit)s are read.",
                            name=name, count=len(info.columns), limit=MAX_COLUMNS))
    return info
