"""Finding duplicates: rows of a file that are already records (or that an earlier row of the
same file already is), by chosen fields.

Values are compared exactly, or normalised: NFKC (full-width -> half-width), case folded,
spaces collapsed; phone numbers by their digits without China's country code (+86, 0086); a
lookup by the id it names. With `match: any` one chosen field holding the same value makes a
duplicate (email OR phone); with `all` every chosen field must (a composite key). Empty values
never match. The existing records are those the acting user may read, read once when the
import starts (one query, streamed).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from app.fields.text import phone_digits
from app.meta.types import FieldDef

if TYPE_CHECKING:
    from app.records.service import Records

PHONE_TYPES = frozenset({"phone"})


def normalise(f: FieldDef, value: Any, mode: str = "normalised") -> Any:
    """The value as compared (None: empty, never a duplicate)."""
    if value is None or value == "" or value == []:
        return None
    if mode == "exact":
        return _hashable(value)
    if isinstance(value, str):
        if f.type in PHONE_TYPES:
            digits = phone_digits(value)
            return digits or None
        text = " ".join(unicodedata.normalize("NFKC", value).split()).casefold()
        return text or None
    if isinstance(value, Decimal):
        return value.normalize()
    return _hashable(value)


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(sorted(str(v) for v in value))
    if isinstance(value, dict):
        return tuple(sorted((str(k), str(v)) for k, v in value.items()))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Match:
    """A row's duplicate: an existing record (`record_id`) or an earlier row (`row`)."""

    field: str
    value: Any
    record_id: int | None = None
    row: int | None = None
    #: every existing record the row matches (by any of its keys); more than one means the
    #: row cannot say which of them it is (an update must not pick one)
    records: tuple[int, ...] = ()


class DuplicateFinder:
    """Duplicates among existing records and earlier rows, by `fields`."""

    def __init__(self, records: Records, entity: str, fields: Sequence[str], *,
                 mode: str = "normalised", match: str = "any") -> None:
        self.records = records
        self.entity = entity
        self.fields = tuple(fields)
        self.defs = [records.entity(entity).fields[name] for name in self.fields]
        self.mode = mode
        self.all = match == "all"
        #: key -> (field name shown, existing record id); for `all` the key is a tuple
        self.existing: dict[Any, tuple[str, int]] = {}
        #: key -> the ids of every existing record holding it, where more than one does
        self.shared: dict[Any, list[int]] = {}
        #: key -> the first row of the file that had it
        self.rows: dict[Any, tuple[str, int]] = {}
        #: row -> the keys it holds in `rows`
        self.by_row: dict[int, list[Any]] = {}
        #: existing record id -> the row that updates it, and back (`find(claim=True)`)
        self.claimed: dict[int, int] = {}
        self.claims: dict[int, int] = {}
        self.loaded = False

    def keys(self, values: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """(field, key) pairs of a record's or row's values (one tuple key for `all`)."""
        parts = [(f.name, normalise(f, values.get(f.name), self.mode)) for f in self.defs]
        if self.all:
            if any(key is None for _n, key in parts):
                return []
            return [("+".join(self.fields), tuple(key for _n, key in parts))]
        return [(name, (name, key)) for name, key in parts if key is not None]

    def load(self) -> None:
        """Read the keys of the existing records the acting user may read (once)."""
        if self.loaded or not self.fields:
            return
        rs = self.records
        stmt = rs.select(self.entity)
        table = rs.table(self.entity)
        stmt = stmt.where(table.c.deleted_at.is_(None)).order_by(table.c.id)
        with rs.engine.connect() as conn:
            result = conn.execution_options(yield_per=5000).execute(stmt)
            for row in result.mappings():
                record = dict(row)
                record_id = int(record["id"])
                for name, key in self.keys(record):
                    first = self.existing.setdefault(key, (name, record_id))
                    if first[1] != record_id:
                        self.shared.setdefault(key, [first[1]]).append(record_id)
        self.loaded = True

    def find(self, values: Mapping[str, Any], number: int, *, remember: bool = True,
             claim: bool = False) -> Match | None:
        """The duplicate of a row (an existing record first, else an earlier row); the row's
        keys are remembered for later rows when `remember` (a row that is not written because
        it failed should not make later rows duplicates). With `claim` (the row would update
        the record it matches) a record an earlier row of the file updates already is that
        row's: the later row is its duplicate (updating the record twice would leave it with
        whichever row came last, and an undo could not put it back)."""
        self.load()
        keys = self.keys(values)
        hits = [(name, key) for name, key in keys if key in self.existing]
        if hits:
            ids = sorted({i for _n, key in hits
                          for i in self.shared.get(key, [self.existing[key][1]])})
            name, key = hits[0]
            record_id = self.existing[key][1]
            if claim and len(ids) == 1:
                earlier = self.claimed.setdefault(record_id, number)
                if earlier != number:
                    return Match(name, _shown(key), row=earlier)
                self.claims[number] = record_id
            return Match(name, _shown(key), record_id=record_id, records=tuple(ids))
        for name, key in keys:
            if key in self.rows:
                return Match(name, _shown(key), row=self.rows[key][1])
        if remember:
            self.remember(values, number)
        return None

    def remember(self, values: Mapping[str, Any], number: int) -> None:
        for name, key in self.keys(values):
            if key not in self.rows:
                self.rows[key] = (name, number)
                self.by_row.setdefault(number, []).append(key)

    def forget(self, number: int) -> None:
        """Forget the keys of row `number` and the record it claimed (it was not written after
        all)."""
        for key in self.by_row.pop(number, ()):
            if self.rows.get(key, ("", 0))[1] == number:
                del self.rows[key]
        record_id = self.claims.pop(number, None)
        if record_id is not None and self.claimed.get(record_id) == number:
            del self.claimed[record_id]


def _shown(key: Any) -> Any:
    """The value part of a key, for messages."""
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str):
        return key[1]
    return key
