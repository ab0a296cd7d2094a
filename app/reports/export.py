"""A report's result as CSV or XLSX: every group (not only the report's `limit`), then the
totals, through the shared writers of app/records/export_writers.py. The report runs before
the first chunk is produced (XLSX: the whole workbook is written to a temporary file first), so
a report that cannot run raises before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator

from app.records.export_writers import FileStream, csv_chunks, xlsx_file
from app.records.service import Records
from app.reports.compute import iter_report_rows
from app.reports.types import ReportDef


def report_csv(records: Records, r: ReportDef, *, me: int | None = None, locale: str = "en",
               bom: bool = True) -> Iterator[str]:
    """CSV chunks of `r` run as the records service's actor (UTF-8 text, a byte order mark
    first unless `bom` is False)."""
    rows = iter_report_rows(records, r, me=me, locale=locale)
    header = next(rows)  # runs the report now
    return csv_chunks(header, rows, bom=bom)


def report_xlsx(records: Records, r: ReportDef, *, me: int | None = None,
                locale: str = "en") -> FileStream:
    """An XLSX workbook of `r` run as the records service's actor, in a temporary file whose
    stream deletes it when closed (the caller closes it, or a response of it does)."""
    rows = iter_report_rows(records, r, me=me, locale=locale)
    header = next(rows)
    return xlsx_file(r.label_for(locale), header, rows, fallback=r.name)
