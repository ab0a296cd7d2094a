"""What a document template is given: the record, its lines and the records they link to, as
the acting user may see them, with every value formatted for the user's language.

    record.number          the value as shown (money in the document's currency, dates and
    record["number"]       numbers in the user's locale, picklists by label, lookups by title)
    record.raw.total       the stored value (Decimal, date ...), for arithmetic
    record.ref.account     the linked record (a Row too), None when the user may not see it
    lines                  the child rows (`lines:` of the document), each a Row
    labels.discount        a field's label in the user's language (line_labels for the lines)

Fields hidden from the user are absent (`record.secret` is empty), like everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.fields import registry
from app.i18n import format_date, format_datetime, format_money, format_number
from app.meta.documents import DocumentDef
from app.meta.types import EntityDef, FieldDef, Meta
from app.model.system import users
from app.records import Forbidden, Records

LINKS = ("lookup", "master_detail")
#: system columns shown by name (user ids are shown as the user's name)
USER_KEYS = {"owner_id": "owner", "created_by_id": "created_by", "updated_by_id": "updated_by"}
#: the most child rows a document lists
MAX_LINES = 2000


class Row:
    """A record for a template: attributes and items are the values as shown; `raw` holds the
    stored values and `ref` the linked records."""

    def __init__(self, shown: dict[str, str], raw: dict[str, Any],
                 ref: dict[str, Row | None] | None = None) -> None:
        self._shown = shown
        self.raw = raw
        self.ref = ref or {}

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._shown[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> str:
        return self._shown[name]

    def __contains__(self, name: object) -> bool:
        return name in self._shown

    def __iter__(self) -> Iterator[str]:
        return iter(self._shown)

    def __len__(self) -> int:
        return len(self._shown)

    def __repr__(self) -> str:
        return f"Row({self.raw.get('id')})"


def value_kind(f: FieldDef, meta: Meta) -> str:
    """The type a value is shown as: a formula's result type, a roll-up's summed field's type
    (as app/web/format.py shows it)."""
    if f.type == "formula":
        return str(f.opt("result"))
    if f.type == "rollup":
        if f.opt("op") == "count":
            return "integer"
        child = meta.entities.get(str(f.opt("entity")))
        inner = child.fields.get(str(f.opt("field"))) if child is not None else None
        return value_kind(inner, meta) if inner is not None else "decimal"
    return f.type


class Formatter:
    """Values as shown, in one locale and currency; titles of linked records and users."""

    def __init__(self, meta: Meta, locale: str, currency: str) -> None:
        self.meta = meta
        self.locale = locale
        self.currency = currency
        #: entity -> id -> title; "" -> user id -> name
        self.titles: dict[str, dict[int, str]] = {}

    def money(self, value: Any, currency: str | None = None) -> str:
        if value is None or value == "":
            return ""
        return format_money(_number(value), currency or self.currency, self.locale)

    def number(self, value: Any) -> str:
        if value is None or value == "":
            return ""
        return format_number(_number(value), self.locale)

    def when(self, value: Any) -> str:
        if isinstance(value, datetime):
            return format_datetime(value, self.locale)
        if isinstance(value, date):
            return format_date(value, self.locale)
        return "" if value is None else str(value)

    def value(self, f: FieldDef, value: Any) -> str:
        if value is None or value == "" or value == []:
            return ""
        kind = value_kind(f, self.meta)
        if kind == "currency" and isinstance(value, int | float | Decimal):
            return self.money(value)
        if kind in ("decimal", "integer", "percent") and isinstance(value, int | float | Decimal) \
                and not isinstance(value, bool):
            text = self.number(value)
            return f"{text}%" if kind == "percent" else text
        if kind in ("date", "datetime") and isinstance(value, date):
            return self.when(value)
        if f.type in LINKS:
            return self.titles.get(str(f.opt("to")), {}).get(int(value), f"#{value}")
        if f.type == "user":
            return self.titles.get("", {}).get(int(value), f"#{value}")
        if f.type not in registry:
            return str(value)
        return registry.get(f.type).display(f, value, self.locale)

    def shown(self, e: EntityDef, raw: Mapping[str, Any]) -> dict[str, str]:
        out = {f.name: self.value(f, raw[f.name]) for f in e if f.name in raw}
        out["id"] = str(raw.get("id") or "")
        for key, name in USER_KEYS.items():
            if name not in out:
                uid = raw.get(key)
                out[name] = self.titles.get("", {}).get(int(uid), "") if uid else ""
        for key in ("created_at", "updated_at"):
            out.setdefault(key, self.when(raw.get(key)))
        return out


def _number(value: Any) -> Decimal | int | float:
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        return value
    return Decimal(str(value))


#: kinds of values a template may compute with: given as Decimal (SQLite gives formulas as
#: float, and Decimal and float do not mix)
NUMBERS = ("currency", "decimal", "percent")


def _decimals(e: EntityDef, raw: Mapping[str, Any], meta: Meta) -> dict[str, Any]:
    out = dict(raw)
    for f in e:
        value = out.get(f.name)
        if isinstance(value, float) and value_kind(f, meta) in NUMBERS:
            out[f.name] = Decimal(str(value))
    return out


def _links(e: EntityDef) -> list[FieldDef]:
    return [f for f in e if f.type in LINKS]


def _user_fields(e: EntityDef) -> list[str]:
    return [*(f.name for f in e if f.type == "user"), *USER_KEYS]


class Loader:
    """Reads what one document shows as the user may see it: the record, its lines, the
    records they link to, and the titles and user names to show."""

    def __init__(self, rs: Records, fmt: Formatter) -> None:
        self.rs = rs
        self.fmt = fmt

    def lines(self, d: DocumentDef, record_id: int) -> list[dict[str, Any]]:
        if d.lines is None:
            return []
        rs, spec = self.rs, d.lines
        table = rs.table(spec.entity)
        column = rs.spec(spec.entity).columns[spec.via]
        stmt = rs.select(spec.entity).where(table.c[column] == record_id,
                                            table.c.deleted_at.is_(None))
        if spec.order:
            order_col = rs.spec(spec.entity).columns.get(spec.order)
            order = (table.c[order_col] if order_col is not None
                     else rs.models.formulas.get(spec.entity, {}).get(spec.order))
            if order is not None:
                stmt = stmt.order_by(order)
        stmt = stmt.order_by(table.c.id).limit(MAX_LINES)
        with rs.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def refs(self, rows: Iterable[tuple[EntityDef, Mapping[str, Any]]]
             ) -> dict[str, dict[int, dict[str, Any]]]:
        """entity -> id -> the linked record (those the user may read), one query per
        entity."""
        wanted: dict[str, set[int]] = {}
        for e, raw in rows:
            for f in _links(e):
                if raw.get(f.name) is not None:
                    wanted.setdefault(str(f.opt("to")), set()).add(int(raw[f.name]))
        out: dict[str, dict[int, dict[str, Any]]] = {}
        for entity, ids in wanted.items():
            try:
                stmt = self.rs.select(entity)
            except Forbidden:
                continue
            table = self.rs.table(entity)
            stmt = stmt.where(table.c.id.in_(sorted(ids)), table.c.deleted_at.is_(None))
            with self.rs.engine.connect() as conn:
                out[entity] = {int(r.id): dict(r._mapping) for r in conn.execute(stmt)}
        return out

    def titles(self, rows: Sequence[tuple[EntityDef, Mapping[str, Any]]]) -> None:
        """Fill the formatter's titles of every record and user the rows name."""
        ids: dict[str, set[int]] = {}
        for e, raw in rows:
            for f in _links(e):
                if raw.get(f.name) is not None:
                    ids.setdefault(str(f.opt("to")), set()).add(int(raw[f.name]))
            for key in _user_fields(e):
                if raw.get(key) is not None:
                    ids.setdefault("", set()).add(int(raw[key]))
        for entity, found in ids.items():
            if entity == "":
                self.fmt.titles[""] = self.user_names(found)
            elif entity in self.rs.meta.entities:
                self.fmt.titles[entity] = self.rs.titles(entity, sorted(found))

    def user_names(self, ids: Iterable[int]) -> dict[int, str]:
        stmt = sa.select(users.c.id, users.c.full_name, users.c.username).where(
            users.c.id.in_(sorted(set(ids))))
        with self.rs.engine.connect() as conn:
            return {int(r.id): str(r.full_name or r.username) for r in conn.execute(stmt)}


def rows_for(rs: Records, d: DocumentDef, record: dict[str, Any], fmt: Formatter
             ) -> tuple[Row, list[Row]]:
    """The record and its lines as Rows, with the records they link to."""
    meta = rs.meta
    e = meta.entities[d.entity]
    loader = Loader(rs, fmt)
    line_entity = meta.entities[d.lines.entity] if d.lines is not None else None
    lines = loader.lines(d, int(record["id"]))
    own = [(e, record), *((line_entity, ln) for ln in lines if line_entity is not None)]
    refs = loader.refs(own)
    linked = [(meta.entities[name], raw) for name, found in refs.items()
              for raw in found.values()]
    loader.titles([*own, *linked])

    def row(ent: EntityDef, raw: dict[str, Any], depth: int) -> Row:
        ref: dict[str, Row | None] = {}
        if depth == 0:
            for f in _links(ent):
                target = refs.get(str(f.opt("to")), {}).get(int(raw[f.name])) \
                    if raw.get(f.name) is not None else None
                ref[f.name] = row(meta.entities[str(f.opt("to"))], target, 1) \
                    if target is not None else None
        return Row(fmt.shown(ent, raw), _decimals(ent, raw, meta), ref)

    main = row(e, record, 0)
    return main, [row(line_entity, ln, 0) for ln in lines] if line_entity is not None else []


def labels_of(e: EntityDef | None, locale: str) -> dict[str, str]:
    return {f.name: f.label_for(locale) for f in e} if e is not None else {}
