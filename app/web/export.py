"""Exports of a list view: `/<entity>/export.csv` and `/<entity>/export.xlsx`.

The same query string as the list page (`q`, `cols`, `sort`, `f.<field>.<op>`, `owner=me`),
every matching row, read in keyset batches (`app.records.query.iter_rows`) so a large export
never holds all rows at once. CSV is UTF-8 with a byte order mark (Excel then opens Chinese
correctly), with the values as the page shows them, sent as it is made; XLSX (openpyxl's
write-only mode) holds real numbers, dates and yes/no values, and is written to a temporary file
first (app.records.export_writers.xlsx_file), then sent from it in chunks; the file is deleted
when the response is closed. Either way memory stays flat however many rows are exported, and a
bad filter is a 400 before anything is sent. Headers are the column labels in the user's
language.
Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) stays text: a leading
`'` in CSV, a text cell in XLSX.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, request, stream_with_context
from flask_login import current_user, login_required

from app.i18n import _, get_locale
from app.meta.types import EntityDef, FieldDef, Meta
from app.records.errors import Forbidden
from app.records.export_writers import XLSX_TYPE, FileStream, neutral, xlsx_file
from app.records.query import ListQuery, iter_rows, resolve_columns
from app.records.queryparams import from_params
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
    numeric = [value_kind(f, meta) in NUMBER_KINDS for f in columns]  # once, not per cell
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
                writer.writerow([csv_cell(display(f, row.get(f.name), currency=currency,
                                                  titles=titles.get(f.name), meta=meta), num)
                                 for f, num in zip(columns, numeric, strict=True)])
            yield out.getvalue()  # one chunk per batch: nothing is kept once it is sent

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{_filename(e.name, "csv")}"'})


def csv_cell(text: str, numeric: bool) -> str:
    """A shown value for CSV: text that could run as a formula is neutralised; numbers (a
    negative amount) stay as they are."""
    return text if numeric else neutral(text)


def cell(f: FieldDef, kind: str, value: Any, titles: dict[int, str] | None, currency: str,
         meta: Meta | None) -> Any:
    """A value as an Excel cell (`kind`: the field's `value_kind`): numbers, dates, times and
    yes/no as themselves (datetimes in UTC without a zone: Excel has none), the rest as the
    page shows it."""
    if value is None:
        return None
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
    return display(f, value, currency=currency, titles=titles, meta=meta)


@bp.route("/<entity>/export.xlsx")
@login_required
def xlsx_export(entity: str) -> Response:
    e, query, columns = _setup(entity)
    currency = state().ctx.settings.currency
    meta = state().meta
    kinds = [value_kind(f, meta) for f in columns]
    batches = _rows(entity, query, columns)
    first = next(batches, None)  # a bad filter is a 400 before the workbook exists

    def cells() -> Iterator[list[Any]]:
        for rows, titles in itertools.chain([first] if first else [], batches):
            for row in rows:
                yield [cell(f, kind, row.get(f.name), titles.get(f.name), currency, meta)
                       for f, kind in zip(columns, kinds, strict=True)]

    stream = xlsx_file(e.plural_for(get_locale()), _headers(columns), cells(), fallback=e.name)
    return xlsx_response(stream, _filename(e.name, "xlsx"))


def xlsx_response(stream: FileStream, filename: str) -> Response:
    """A streamed download of an XLSX file made by `xlsx_file` (also for report exports): 64
    KiB chunks, its length known; the file is deleted when the response is closed."""
    return Response(stream, mimetype=XLSX_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Content-Length": str(stream.size)})
