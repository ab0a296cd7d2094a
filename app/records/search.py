"""Global search: one query text against every entity's title and short text fields.

Bounded by design, so it stays cheap on large tables: at most `MAX_COLUMNS` columns per entity
(the title first, then string, email, phone and autonumber fields in YAML order), at most
`per_entity` hits per entity (newest first), and a total that stops counting at `count_cap`.
Entities without a text field are skipped. Deleted records are never found; archived ones
only when an administrator asks (`include_archived`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.meta.types import EntityDef, FieldDef
from app.records.archived import excluded
from app.records.service import Records

#: field types a search matches (besides the entity's title)
TEXT_TYPES = ("string", "email", "phone", "autonumber")
#: the order of field types when more than MAX_COLUMNS could be searched
RANK = {"email": 0, "phone": 1, "autonumber": 2, "string": 3}
#: the most columns searched in one entity
MAX_COLUMNS = 5
#: the shortest query that is searched (shorter ones would match almost everything)
MIN_LENGTH = 2


@dataclass(frozen=True)
class Hit:
    """One record found: its id, title, and the field (other than the title) that matched."""

    id: int
    title: str
    field: FieldDef | None = None
    value: str | None = None


@dataclass(frozen=True)
class EntityHits:
    """The records of one entity that match, the first few of them and how many in all."""

    entity: EntityDef
    hits: list[Hit] = field(default_factory=list)
    #: how many records match, counted up to the cap
    total: int = 0
    #: True when there are more than `total` (the count stopped at the cap)
    capped: bool = False


Searched = list[tuple[FieldDef | None, sa.ColumnElement[Any]]]


def searchable(records: Records, entity: str) -> Searched:
    """The columns searched in `entity`: (field, SQL column); the title first (field None
    when the title is not a stored text field). Empty when the entity has no text field.
    Fields hidden from the records service's actor are not searched."""
    e = records.visible_entity(entity)
    table = records.table(entity)
    columns = records.spec(entity).columns
    out: Searched = []
    title_field = e.fields.get(e.title or "")
    covered: set[str | None] = {e.title}
    if title_field is not None and title_field.type in TEXT_TYPES:
        out.append((None, records.title_column(entity)))
    elif title_field is not None and title_field.type == "formula":
        out.append((None, records.title_column(entity)))
        covered |= records.spec(entity).expr(str(title_field.opt("expr"))).names
    fields = [f for f in e if f.type in TEXT_TYPES and not f.hidden and f.name not in covered
              and not f.encrypted and columns.get(f.name, "") in table.c]
    fields.sort(key=_priority)
    for f in fields[:MAX_COLUMNS - len(out)]:
        out.append((f, table.c[columns[f.name]]))
    return out


def _priority(f: FieldDef) -> tuple[int, int]:
    """Indexed and unique fields first (people search by them), then emails, phones,
    numbers, other strings; YAML order within each (the sort is stable)."""
    keyed = 0 if f.indexed or f.unique or f.type == "autonumber" else 1
    return keyed, RANK.get(f.type, len(RANK))


def contains(column: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    """Case-insensitive "contains", with `%` and `_` in the text taken literally."""
    return sa.func.lower(sa.cast(column, sa.String)).contains(text.lower(), autoescape=True)


def search_entity(records: Records, entity: str, text: str, *, per_entity: int = 10,
                  count_cap: int = 1000, conn: sa.Connection | None = None,
                  include_archived: bool = False) -> EntityHits:
    """The records of `entity` whose searched columns contain `text` (not deleted, not
    archived unless an administrator asks), among those the records service's actor may see
    (Forbidden when they may see none)."""
    access = records.readable(entity)
    e = records.entity(entity)
    cols = searchable(records, entity)
    if not cols or len(text.strip()) < MIN_LENGTH:
        return EntityHits(e)
    text = text.strip()
    table = records.table(entity)
    where = sa.and_(table.c.deleted_at.is_(None), sa.or_(*(contains(c, text) for _, c in cols)),
                    *([] if access is None else [access]),
                    *excluded(records, entity, include_archived))
    title = records.title_column(entity)
    stmt = (sa.select(table.c.id, title.label("title"),
                      *(c.label(f"c{i}") for i, (_, c) in enumerate(cols)))
            .where(where).order_by(table.c.id.desc()).limit(per_entity))
    limited = sa.select(table.c.id).where(where).limit(count_cap + 1).subquery()
    count = sa.select(sa.func.count()).select_from(limited)
    if conn is None:
        with records.engine.connect() as c:
            rows, total = c.execute(stmt).all(), int(c.execute(count).scalar_one())
    else:
        rows, total = conn.execute(stmt).all(), int(conn.execute(count).scalar_one())
    label = e.label_for(_locale())
    hits = []
    for row in rows:
        name = str(row.title) if row.title not in (None, "") else f"{label} #{row.id}"
        hits.append(_hit(row, cols, text, name))
    return EntityHits(e, hits, min(total, count_cap), total > count_cap)


def _hit(row: sa.Row[Any], cols: Searched, text: str, title: str) -> Hit:
    """The hit, naming the first non-title field that matched when the title did not."""
    needle = text.lower()
    if needle in title.lower():
        return Hit(int(row.id), title)
    for i, (f, _) in enumerate(cols):
        value = row._mapping[f"c{i}"]
        if f is not None and value is not None and needle in str(value).lower():
            return Hit(int(row.id), title, f, str(value))
    return Hit(int(row.id), title)


def search(records: Records, text: str, *, entities: Iterable[str] | None = None,
           per_entity: int = 10, count_cap: int = 1000, include_archived: bool = False
           ) -> list[EntityHits]:
    """Every entity with at least one match, in `entities` order (default: the config's)."""
    if len(text.strip()) < MIN_LENGTH:
        return []
    names = list(entities) if entities is not None else [e.name for e in records.meta]
    out = []
    with records.engine.connect() as conn:
        for name in names:
            if name not in records.meta.entities or not records.access().allows(name, "read"):
                continue
            found = search_entity(records, name, text, per_entity=per_entity,
                                  count_cap=count_cap, conn=conn,
                                  include_archived=include_archived)
            if found.total:
                out.append(found)
    return out


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()
