"""Cells -> field values, a batch of rows at a time.

Each cell goes through its field type's `parse_cell` (app/fields: dates in Chinese and English
formats and Excel serials, numbers with thousands separators and currency signs, yes/no/是/否,
picklists by value or label in any language, phones with a country code ...), with the
import's date order. Lookup cells name records by a key field of the target (an account by its
name), user cells and the owner name users by username, full name or email: those are
resolved for the whole batch at once (one query per lookup field and batch, with what was
found kept for the next batches), among the records the acting user may read.

A problem names the row, the column and the raw value; a row with one is not written.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.fields.base import FieldValueError
from app.fields.relations import record_id
from app.i18n import _
from app.imports.mapping import Column, Target
from app.imports.options import ID_KEY, ImportOptions, SetupProblem
from app.imports.reader import RaggedRow
from app.model.system import users
from app.records.change import Actor

if TYPE_CHECKING:
    from app.records.service import Records

#: how much of a raw value an error keeps
RAW_LIMIT = 200


@dataclass
class Problem:
    row: int
    column: str | None
    message: str
    raw: str | None = None


@dataclass
class ParsedRow:
    number: int
    #: field -> value (blank cells left out, so defaults apply)
    values: dict[str, Any] = field(default_factory=dict)
    #: field -> the raw cell (for error messages)
    raw: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def cell_text(cell: Any) -> str:
    """A cell as text: numbers without a trailing .0, dates as YYYY-MM-DD."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime) and cell.time() == time():
        return cell.date().isoformat()
    if isinstance(cell, date | time):
        return cell.isoformat()
    return str(cell)


def raw_text(cell: Any) -> str | None:
    if cell is None:
        return None
    text = cell_text(cell)
    return text if len(text) <= RAW_LIMIT else text[: RAW_LIMIT - 1] + "…"


def key_text(text: str) -> str:
    """A name as compared with record keys: NFKC, trimmed, spaces collapsed, case folded."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def is_blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


class RowParser:
    """Parses batches of rows for the mapped `columns`."""

    def __init__(self, records: Records, entity: str, columns: Sequence[Column],
                 options: ImportOptions, actor: Actor) -> None:
        self.records = records
        self.spec = records.spec(entity)
        self.columns = list(columns)
        self.options = options
        self.resolvers: dict[str, Resolver] = {}
        for col in self.columns:
            t = col.target
            if t.is_reference:
                key = options.lookup_keys.get(t.name) or t.default_key or ID_KEY
                self.resolvers[t.name] = (UserResolver(records, key) if t.to == "user"
                                          else LookupResolver(records, t, key, actor))

    def parse(self, batch: Sequence[tuple[int, list[Any]]]) -> list[ParsedRow]:
        rows: list[ParsedRow] = []
        references: dict[str, list[tuple[ParsedRow, Column, str]]] = {}
        order = self.options.date_order
        for number, cells in batch:
            row = ParsedRow(number)
            rows.append(row)
            if isinstance(cells, RaggedRow):
                row.problems.append(ragged(number, cells))
                continue
            for col in self.columns:
                cell = cells[col.index]
                if is_blank(cell):
                    continue
                t = col.target
                row.raw[t.name] = cell
                if t.is_reference:
                    references.setdefault(t.name, []).append((row, col, cell_text(cell).strip()))
                    continue
                try:
                    value = self.spec.ftype(t.field).parse_cell(t.field, cell, date_order=order)
                except FieldValueError as exc:
                    row.problems.append(Problem(number, col.name, str(exc), raw_text(cell)))
                    continue
                if value is not None:
                    row.values[t.name] = value
        for name, wanted in references.items():
            found = self.resolvers[name].resolve({text for _r, _c, text in wanted})
            for row, col, text in wanted:
                value, problem = found[text]
                if problem is not None:
                    row.problems.append(Problem(row.number, col.name, problem, raw_text(text)))
                else:
                    row.values[name] = value
        return rows


def ragged(number: int, cells: RaggedRow) -> Problem:
    """The problem of a CSV row with more values than its header has columns: its values may
    have moved (`Acme, Inc` without quotes is two values), so none of them is used."""
    extra = [cell_text(c).strip() for c in cells[cells.header:] if not is_blank(c)]
    return Problem(number, None, _(
        "This row has %(count)s values but the header has %(columns)s columns: a value holding "
        "the delimiter without quotes moves the values after it. Put such values in quotes.",
        count=len(cells), columns=cells.header), raw_text(" | ".join(extra)))


class Resolver:
    """Names in cells -> ids (or a problem), kept across batches."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[int | None, str | None]] = {}

    def resolve(self, texts: Iterable[str]) -> dict[str, tuple[int | None, str | None]]:
        wanted = [t for t in texts if t not in self.known]
        if wanted:
            self.known.update(self.lookup(wanted))
        return self.known

    def lookup(self, texts: list[str]) -> dict[str, tuple[int | None, str | None]]:
        raise NotImplementedError


class LookupResolver(Resolver):
    """A lookup's cells: records of the target entity by one of its fields (or by id)."""

    def __init__(self, records: Records, target: Target, key: str, actor: Actor) -> None:
        super().__init__()
        self.records = records
        self.target = target
        self.key = key
        self.to = str(target.to)
        acc = records.access(actor)
        if not acc.allows(self.to, "read"):
            raise SetupProblem(_("%(field)s links to %(entities)s, which you may not see.",
                                 field=target.label,
                                 entities=records.entity(self.to).plural_for(actor.locale)))
        self.where = acc.where(self.to, "read")
        table = records.table(self.to)
        self.table = table
        if key == ID_KEY:
            self.column: sa.ColumnElement[Any] = table.c.id
            self.key_label = "id"
        else:
            e = records.entity(self.to)
            f = e.fields[key]
            self.key_label = f.label_for(actor.locale)
            columns = records.spec(self.to).columns
            self.column = table.c[columns[key]] if key in columns \
                else records.models.formulas[self.to][key]
            self.numeric = f.type == "integer"

    def lookup(self, texts: list[str]) -> dict[str, tuple[int | None, str | None]]:
        if self.key == ID_KEY:
            out: dict[str, tuple[int | None, str | None]] = {}
            for text in texts:
                try:
                    out[text] = (record_id(text), None)  # the writer checks it exists
                except FieldValueError as exc:
                    out[text] = (None, str(exc))
            return out
        matches: dict[str, set[int]] = {}
        for start in range(0, len(texts), 500):
            chunk = texts[start:start + 500]
            for found_id, value in self._query(chunk):
                matches.setdefault(key_text(str(value)), set()).add(int(found_id))
        entity = self.records.entity(self.to)
        out = {}
        for text in texts:
            ids = matches.get(key_text(text), set())
            if len(ids) == 1:
                out[text] = (next(iter(ids)), None)
            elif ids:
                out[text] = (None, _("%(count)s %(entities)s have %(key)s %(value)s: use a "
                                     "column that tells them apart.", count=len(ids),
                                     entities=entity.plural_for(_locale()),
                                     key=self.key_label, value=repr(text)))
            else:
                out[text] = (None, _("There is no %(entity)s with %(key)s %(value)s.",
                                     entity=entity.label_for(_locale()), key=self.key_label,
                                     value=repr(text)))
        return out

    def _query(self, chunk: list[str]) -> list[Any]:
        col = self.column
        condition: sa.ColumnElement[bool]
        if self.numeric:
            numbers = [int(t) for t in chunk if t.strip().lstrip("-").isdigit()]
            if not numbers:
                return []
            condition = col.in_(numbers)
        else:
            # exact, or the same without case and spaces (checked again in Python by key_text)
            condition = sa.or_(col.in_(chunk), sa.func.replace(sa.func.lower(col), " ", "").in_(
                sorted({key_text(t).replace(" ", "") for t in chunk})))
        stmt = sa.select(self.table.c.id, col).where(condition,
                                                     self.table.c.deleted_at.is_(None))
        if self.where is not None:
            stmt = stmt.where(self.where)
        with self.records.engine.connect() as conn:
            return list(conn.execute(stmt))

    numeric = False


class UserResolver(Resolver):
    """User cells and the owner: by username, full name or email (all users, read once), or
    by id with `id`."""

    def __init__(self, records: Records, key: str) -> None:
        super().__init__()
        self.records = records
        self.key = key
        self._by: dict[str, dict[str, set[int]]] | None = None

    def directory(self) -> dict[str, dict[str, set[int]]]:
        if self._by is None:
            by: dict[str, dict[str, set[int]]] = {"username": {}, "full_name": {}, "email": {},
                                                   ID_KEY: {}}
            with self.records.engine.connect() as conn:
                for r in conn.execute(sa.select(users.c.id, users.c.username,
                                                users.c.full_name, users.c.email)):
                    by[ID_KEY].setdefault(str(r.id), set()).add(int(r.id))
                    for name in ("username", "full_name", "email"):
                        value = getattr(r, name)
                        if value:
                            by[name].setdefault(key_text(str(value)), set()).add(int(r.id))
            self._by = by
        return self._by

    def lookup(self, texts: list[str]) -> dict[str, tuple[int | None, str | None]]:
        by = self.directory()
        order = [self.key] if self.key == ID_KEY else \
            [self.key, *(k for k in ("username", "full_name", "email") if k != self.key)]
        out: dict[str, tuple[int | None, str | None]] = {}
        for text in texts:
            probe = text.strip() if self.key == ID_KEY else key_text(text)
            out[text] = (None, _("There is no user %(value)s.", value=repr(text)))
            for key in order:
                ids = by[key].get(probe, set())
                if len(ids) == 1:
                    out[text] = (next(iter(ids)), None)
                    break
                if ids:
                    out[text] = (None, _("%(count)s users are called %(value)s: use their "
                                         "usernames.", count=len(ids), value=repr(text)))
                    break
        return out


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()
