"""Exports of a list view: `/<entity>/export.csv` and `/<entity>/export.xlsx`.

The same query string as the list page (`q`, `cols`, `sort`, `f.<field>.<op>`, `owner=me`),
every matching row, read in keyset batches (`app.records.query.iter_rows`) so a large export
never holds all rows at once. CSV is UTF-8 with a byte order mark (Excel then opens Chinese
correctly), with the values as the page shows them; XLSX (openpyxl's write-only mode) holds real
numbers, dates and yes/no values. Headers are the column labels in the user's language.
Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) stays text: a leading
`'` in CSV, a text cell in XLSX.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, request, stream_with_context
from flask_login import current_user, login_required
from openpyxl import Workbook

from app.i18n import _, get_locale
from app.meta.types import EntityDef, FieldDef
from app.records.errors import Forbidden
from app.records.export_writers import neutral, text_cell
from app.records.query import ListQuery, from_params, iter_rows, resolve_columns
from app.web.format import display, value_kind
from app.web.state import entity_or_404, may, records, state

bp = Blueprint("export", __name__)

BATCH = 1000
NUMBER_KINDS = frozenset({"integer", "decimal", "currency", "percent"})


def _setup(entity: str) -> tuple[EntityDef, ListQuery, list[FieldDef]]:
    e = entity_or_404(entity)
    if not may(e.name, "export"):
        raise Forbidden(_("You may not export %(entities)s.", entities=e.plural_for(
            get_locale())))
    query = from_params(records(), e, request.args.to_dict(flat=False),
                        me=int(current_user.id))
    columns = resolve_columns(records(), e, query.columns)
    from app import seclog
    from app.web.seclog import record as log_security

    log_security(seclog.EXPORT, entity=e.name, detail={  # who exported what (security log)
        "format": request.path.rsplit(".", 1)[-1], "query": request.query_string.decode(
            "utf-8", "replace"), "columns": [f.name for f in columns]})
    return e, query, columns


def _filename(entity: str, ext: str) -> str:
    return f"{entity}-{datetime.now(UTC).strftime('%Y%m%d')}.{ext}"


def _headers(columns: list[FieldDef]) -> list[str]:
    locale = get_locale()
    return [f.label_for(locale) for f in columns]


def _rows(entity: str, query: ListQuery, columns: list[FieldDef]
          ) -> Iterator[tuple[list[dict[str, Any]], dict[str, dict[int, str]]]]:
    yield from iter_rows(records(), entity, replace(query, columns=tuple(
        f.name for f in columns)), batch=BATCH)


@bp.route("/<entity>/export.csv")
@login_required
def csv_export(entity: str) -> Response:
    e, query, columns = _setup(entity)
    currency = state().ctx.settings.currency
    meta = state().meta
    batches = _rows(entity, query, columns)
    first = next(batches, None)  # a bad filter is a 400 before anything is sent

    def generate() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(_headers(columns))
        yield "\ufeff" + out.getvalue()
        for rows, titles in itertools.chain([first] if first else [], batches):
            out.seek(0)
            out.truncate()
            for row in rows:
                writer.writerow([csv_cell(f, display(f, row.get(f.name), currency=currency,
                                                     titles=titles.get(f.name), meta=meta))
                                 for f in columns])
            yield out.getvalue()

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{_filename(e.name, "csv")}"'})


def csv_cell(f: FieldDef, text: str) -> str:
    """A shown value for CSV: text that could run as a formula is neutralised; numbers (a
    negative amount) stay as they are."""
    if value_kind(f, state().meta) in NUMBER_KINDS:
        return text
    return neutral(text)


def cell(f: FieldDef, value: Any, titles: dict[int, str] | None, currency: str) -> Any:
    """A value as an Excel cell: numbers, dates, times and yes/no as themselves (datetimes in
    UTC without a zone: Excel has none), the rest as the page shows it."""
    if value is None:
        return None
    kind = value_kind(f, state().meta)
    if kind in NUMBER_KINDS and isinstance(value, int | float | Decimal) \
            and not isinstance(value, bool):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date | time):
        return value
    if f.type == "rollup" and isinstance(value, int | Decimal):
        return value
    return display(f, value, currency=currency, titles=titles, meta=state().meta)


@bp.route("/<entity>/export.xlsx")
@login_required
def xlsx_export(entity: str) -> Response:
    e, query, columns = _setup(entity)
    currency = state().ctx.settings.currency
    batches = _rows(entity, query, columns)
    first = next(batches, None)  # a bad filter is a 400 before the workbook exists
    book = Workbook(write_only=True)
    try:
        title = re.sub(r"[\[\]:*?/\\]", " ", e.plural_for(get_locale()))[:31].strip()
        sheet = book.create_sheet(title=title or e.name)
        sheet.append(_headers(columns))
        for rows, titles in itertools.chain([first] if first else [], batches):
            for row in rows:
                sheet.append([text_cell(sheet, cell(f, row.get(f.name), titles.get(f.name),
                                                    currency)) for f in columns])
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as buffer:
            book.save(buffer)
            buffer.seek(0)
            data = buffer.read()
    finally:
        book.close()
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument."
                    "spreadsheetml.sheet",
                    headers={"Content-Disposition":
                             f'attachment; filename="{_filename(e.name, "xlsx")}"'})
