"""Who agreed to what: contacts x purposes for one channel (no Flask).

    m = matrix(rs, channel="email", purposes=["marketing"], status="granted")
    for row in m.rows: row.name, row.cells["marketing"].status, .moment, .source

Each cell is the consent that counts (the latest for that contact, purpose and channel: see
app/consent), with the moment it was granted or withdrawn and its source. A row is a contact
with at least one consent for the channel among the chosen purposes; with `status`, only the
contacts with at least one cell of that status. Only the consents the records service's actor
may read count (Forbidden when they may read none); archived consents do not.

The rows are sorted by the contact's name. The whole matrix is computed in Python from one
streamed query over the channel's consents: fine up to a few hundred thousand consents.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.consent import CONSENT, GRANTED, WITHDRAWN, Latest, later
from app.fields.choices import choices_of
from app.i18n import _, get_locale
from app.meta.types import label_text
from app.records import RecordError, Records
from app.records.archived import excluded
from app.records.attachments import aware

STATUSES = (GRANTED, WITHDRAWN)


class ReportError(RecordError):
    """A filter that does not fit the consent entity (an unknown channel, purpose, status)."""


@dataclass
class Row:
    contact_id: int
    name: str
    cells: dict[str, Latest] = field(default_factory=dict)


@dataclass
class Matrix:
    channel: str
    #: the purposes shown, in the picklist's order: (value, label)
    purposes: list[tuple[str, str]]
    rows: list[Row]
    status: str | None = None


def options(rs: Records, name: str) -> list[tuple[str, str]]:
    """(value, label) of a consent picklist (`purpose`, `channel`, `status`, `source`)."""
    f = rs.entity(CONSENT).fields.get(name)
    if f is None:
        return []
    locale = get_locale()
    return [(c.value, label_text(c.label, locale, c.value)) for c in choices_of(f)]


def _check(rs: Records, channel: str, purposes: Sequence[str] | None, status: str | None
           ) -> list[tuple[str, str]]:
    channels = dict(options(rs, "channel"))
    if channel not in channels:
        raise ReportError(_("'%(value)s' is not a consent channel (one of %(options)s).",
                            value=str(channel)[:40], options=", ".join(channels)))
    known = options(rs, "purpose")
    wrong = [p for p in purposes or () if p not in dict(known)]
    if wrong:
        raise ReportError(_("'%(value)s' is not a consent purpose (one of %(options)s).",
                            value=str(wrong[0])[:40],
                            options=", ".join(v for v, _label in known)))
    if status not in (None, *STATUSES):
        raise ReportError(_("The status must be granted or withdrawn."))
    return [(v, lab) for v, lab in known if not purposes or v in purposes]


def matrix(rs: Records, channel: str = "email", purposes: Sequence[str] | None = None,
           status: str | None = None) -> Matrix:
    """The matrix (see the module's docstring)."""
    rs.readable(CONSENT)  # Forbidden when the actor may read no consent
    shown = _check(rs, channel, purposes, status)
    rows: dict[int, Row] = {}
    for contact_id, purpose, latest in _consents(rs, channel, [v for v, _lab in shown]):
        row = rows.setdefault(contact_id, Row(contact_id, ""))
        row.cells[purpose] = later(row.cells.get(purpose), latest)
    if status is not None:
        rows = {k: r for k, r in rows.items() if any(c.status == status
                                                     for c in r.cells.values())}
    names = rs.titles("contact", list(rows)) if rows and "contact" in rs.meta.entities else {}
    for r in rows.values():
        r.name = names.get(r.contact_id, "").strip() or f"#{r.contact_id}"
    ordered = sorted(rows.values(), key=lambda r: (r.name.casefold(), r.contact_id))
    return Matrix(channel, shown, ordered, status)


def _consents(rs: Records, channel: str, purposes: list[str]
              ) -> Iterator[tuple[int, str, Latest]]:
    """(contact id, purpose, the consent) of every readable live consent of the channel."""
    spec = rs.spec(CONSENT)
    table = rs.table(CONSENT)
    need = ("contact", "purpose", "channel", "status", "granted_at")
    if any(n not in spec.columns for n in need) or not purposes:
        return
    col = {n: table.c[c] for n, c in spec.columns.items()}
    stmt = (sa.select(table.c.id, col["contact"], col["purpose"], col["status"],
                      col["granted_at"], _col(col, "withdrawn_at"), _col(col, "source"))
            .where(table.c.deleted_at.is_(None), col["channel"] == channel,
                   col["purpose"].in_(purposes), col["contact"].is_not(None),
                   *excluded(rs, CONSENT)))
    access = rs.readable(CONSENT)
    if access is not None:
        stmt = stmt.where(access)
    with rs.engine.connect() as conn:
        for r in conn.execution_options(stream_results=True).execute(stmt):
            yield int(r[1]), str(r[2]), Latest(int(r[0]), str(r[3]), _moment(r[4]),
                                               _moment(r[5]), r[6])


def _col(cols: dict[str, Any], name: str) -> Any:
    return cols[name] if name in cols else sa.null()


def _moment(value: Any) -> datetime | None:
    return aware(value) if isinstance(value, datetime) else None


def csv_rows(rs: Records, m: Matrix) -> tuple[list[str], Iterator[list[Any]]]:
    """The header and rows of the matrix as CSV: the contact, then status, date and source
    per purpose (labels in the user's language)."""
    status_labels = dict(options(rs, "status"))
    source_labels = dict(options(rs, "source"))
    header = [_("Contact ID"), _("Contact")]
    for _value, label in m.purposes:
        header += [_("%(purpose)s: status", purpose=label),
                   _("%(purpose)s: date", purpose=label),
                   _("%(purpose)s: source", purpose=label)]

    def rows() -> Iterator[list[Any]]:
        for r in m.rows:
            line: list[Any] = [r.contact_id, r.name]
            for value, _label in m.purposes:
                c = r.cells.get(value)
                if c is None:
                    line += ["", "", ""]
                    continue
                moment = c.moment
                line += [status_labels.get(c.status, c.status),
                         moment.date().isoformat() if moment is not None else "",
                         source_labels.get(c.source or "", c.source or "")]
            yield line

    return header, rows()
