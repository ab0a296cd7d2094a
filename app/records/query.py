"""The list query: search, filters by field type, sort and keyset pages over `Records.select`.

    query = ListQuery(search="acme", filters=(Filter("amount", "gte", ("¥1,000",)),),
                      sort="-close_date", page_size=50)
    page = run(records, "opportunity", query)      # page.rows, page.next_cursor, page.count

Pages are keyset pages: a cursor holds the last (or first) row's sort value and id, so page
1000 costs what page 1 costs. Rows are ordered by the sort field, then by id in the same
direction, with empty values last on every database: the rows with a value are read first and
the empty ones after, two index-friendly queries instead of one `NULLS LAST` that PostgreSQL
cannot take from a plain index. The count is capped: `count(*)` over at most 10,001 ids.

Filter values are parsed by each field type (`app.meta.listconf.parse_filter`), so `¥1,000`,
`2026-01-31` and `2026年1月31日` work; a value that does not fit raises `QueryError` (400)
naming the field and the value. Only the records service's `select` and `table` are used.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from app.i18n import _, format_number, get_locale
from app.meta.listconf import (
    JSON_KINDS,
    TEXT_MATCH_OPS,
    FilterValueError,
    fields_of,
    parse_filter,
    sortable,
    value_field,
)
from app.meta.types import EntityDef, FieldDef
from app.model.system import users
from app.records.archived import excluded
from app.records.errors import RecordError
from app.records.ranges import out_of_range
from app.records.service import Records

PAGE_SIZES: tuple[int, ...] = (10, 25, 50, 100, 200)
MAX_PAGE_SIZE = 500
#: the largest batch a program may read at once (exports)
MAX_BATCH = 5000
DEFAULT_PAGE_SIZE = 50
#: counts stop here: "10,000+"
COUNT_CAP = 10_000
#: at most this many columns are searched by the quick search
SEARCH_COLUMNS = 5
SEARCH_TYPES = ("string", "email", "phone", "autonumber", "text")
TEXT_KINDS = frozenset({"string", "text", "rich_text", "email", "phone", "url", "autonumber"})
REFERENCE_TYPES = frozenset({"lookup", "master_detail", "user"})
#: default columns skip long text and structured values
NOT_DEFAULT_COLUMNS = frozenset({"text", "rich_text", "json", "file"})


class QueryError(RecordError):
    """A list query that cannot run (bad filter, sort, page size or cursor): 400."""

    status = 400


@dataclass(frozen=True)
class Filter:
    """One condition: `field` `op` `values` (text as typed, or YAML values)."""

    field: str
    op: str
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ListQuery:
    search: str = ""
    filters: tuple[Filter, ...] = ()
    #: a field name, `-` first for descending; None: the entity's `list.sort`, else newest first
    sort: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    #: where the page starts (after it) or, with `backward`, ends (before it)
    cursor: str | None = None
    backward: bool = False
    include_deleted: bool = False
    #: archived records too (administrators only: app/records/archived.py; `archived=1`)
    include_archived: bool = False
    #: only records this user owns ("owner = me")
    owner_id: int | None = None
    #: the signed-in user, for `me` in user filters
    me: int | None = None
    #: field names of the columns (their lookups' titles are read); () = the defaults
    columns: tuple[str, ...] = ()


@dataclass
class Page:
    rows: list[dict[str, Any]]
    columns: list[FieldDef]
    sort: str
    count: int
    count_capped: bool
    has_more: bool
    has_prev: bool
    next_cursor: str | None = None
    prev_cursor: str | None = None
    #: column field -> {id: title} for lookup and user columns
    titles: dict[str, dict[int, str]] = field(default_factory=dict)

    @property
    def count_text(self) -> str:
        text = format_number(min(self.count, COUNT_CAP))
        return f"{text}+" if self.count_capped else text


# --- columns and sort -------------------------------------------------------------------------
def default_columns(entity: EntityDef, registry: Any) -> tuple[str, ...]:
    """`list.columns`, else the title and the first 5 stored fields that are not long text."""
    if entity.list_view.columns:
        return entity.list_view.columns
    title = [entity.title] if entity.title else []
    rest = [f.name for f in entity
            if f.name != entity.title and registry.get(f.type).has_column and not f.hidden
            and f.type not in NOT_DEFAULT_COLUMNS]
    return tuple(title + rest[:5])


def default_sort(entity: EntityDef) -> str:
    return entity.list_view.sort or "-id"


def resolve_columns(records: Records, entity: EntityDef, names: Sequence[str]
                    ) -> list[FieldDef]:
    known = fields_of(entity)
    wrong = [n for n in names if n not in known]
    if wrong:
        raise QueryError(_("There is no column '%(name)s'.", name=wrong[0]))
    return [known[n] for n in names or default_columns(entity, records.registry)]


def _column(records: Records, entity: EntityDef, f: FieldDef) -> sa.ColumnElement[Any]:
    """The SQL of a field: its column, a formula's expression, or a system column."""
    table = records.table(entity.name)
    formula = records.models.formulas.get(entity.name, {}).get(f.name)
    if formula is not None:
        return formula
    column = records.spec(entity.name).columns.get(f.name)
    if column is None and f.name == "owner":
        column = "owner_id"
    if column is None and f.name in table.c:
        column = f.name
    if column is None or column not in table.c:
        raise QueryError(_("%(field)s cannot be used in a list.", field=_label(f)))
    return table.c[column]


def _label(f: FieldDef) -> str:
    return f.label_for(get_locale())


# --- filters ----------------------------------------------------------------------------------
def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _json_contains(col: sa.ColumnElement[Any], value: Any, dialect: str
                   ) -> sa.ColumnElement[bool]:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return col.op("@>")(sa.cast(sa.literal(json.dumps([value])), JSONB))
    each = sa.func.json_each(col).table_valued("value")
    return sa.exists(sa.select(sa.literal(1)).select_from(each).where(each.c.value == value))


def _is_empty(col: sa.ColumnElement[Any], kind: str) -> sa.ColumnElement[bool]:
    if kind in JSON_KINDS:
        return sa.or_(col.is_(None), sa.cast(col, sa.Text).in_(["null", "[]", "{}", '""']))
    if kind in TEXT_KINDS:
        return sa.or_(col.is_(None), col == "")
    return col.is_(None)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _bounds(value: Any, kind: str) -> tuple[Any, Any, bool]:
    """(low, high, high_exclusive): a date given to a datetime field is that whole day."""
    if kind == "datetime" and isinstance(value, date) and not isinstance(value, datetime):
        return _day_start(value), _day_start(value + timedelta(days=1)), True
    return value, value, False


def condition(col: sa.ColumnElement[Any], kind: str, op: str, values: Sequence[Any],
              dialect: str) -> sa.ColumnElement[bool]:
    """The SQL of one filter on a column whose values are of type `kind`."""
    if op == "empty":
        return _is_empty(col, kind)
    if op == "not_empty":
        return sa.not_(_is_empty(col, kind))
    if op in TEXT_MATCH_OPS and kind in ("multi_picklist", "tags"):
        return sa.or_(*(_json_contains(col, v, dialect) for v in values))
    if op == "contains":
        return sa.or_(*(col.ilike(f"%{_like(str(v))}%", escape="\\") for v in values))
    if op == "starts_with":
        return sa.or_(*(col.ilike(f"{_like(str(v))}%", escape="\\") for v in values))
    if op in ("in", "not_in"):
        if kind == "datetime":
            matched = sa.or_(*(condition(col, kind, "eq", [v], dialect) for v in values))
        else:
            matched = col.in_(list(values))
        return matched if op == "in" else sa.or_(sa.not_(matched), col.is_(None))
    if op == "between":
        low, high = values
        with contextlib.suppress(TypeError):  # a day and a moment: keep the order given
            low, high = sorted(values)
        lo, _hi, _ex = _bounds(low, kind)
        _lo, hi, exclusive = _bounds(high, kind)
        return sa.and_(col >= lo, col < hi if exclusive else col <= hi)
    lo, hi, exclusive = _bounds(values[0], kind)
    if op in ("eq", "ne"):
        same = sa.and_(col >= lo, col < hi) if exclusive else col == lo
        return same if op == "eq" else sa.or_(sa.not_(same), col.is_(None))
    if op == "lt":
        return col < lo
    if op == "lte":
        return col < hi if exclusive else col <= hi
    if op == "gt":
        return col >= hi if exclusive else col > hi
    if op == "gte":
        return col >= lo
    raise QueryError(_("Unknown filter operator '%(op)s'.", op=op))


def live(deleted_at: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[bool]:
    """`deleted_at IS NULL`. On SQLite it is written `(+ deleted_at) IS NULL`, which keeps
    SQLite's planner off the deleted_at index: soft-deleted rows each have their own time, so
    the index statistics promise ~100 rows per value, and SQLite would read every live row
    through it and sort them all (0.7 s a page on 1,000,000 rows) instead of walking the sort
    column's index (1 ms). PostgreSQL's statistics know most rows are NULL."""
    if dialect != "sqlite":
        return deleted_at.is_(None)
    return UnaryExpression(deleted_at, operator=custom_op("+"), type_=deleted_at.type).is_(None)


def conditions(records: Records, entity: EntityDef, query: ListQuery, dialect: str
               ) -> list[sa.ColumnElement[bool]]:
    """Every WHERE condition of a query: deleted or not, owner, filters, search."""
    table = records.table(entity.name)
    out: list[sa.ColumnElement[bool]] = [
        table.c.deleted_at.is_not(None) if query.include_deleted else
        live(table.c.deleted_at, dialect)]
    out += excluded(records, entity.name, query.include_archived)
    if query.owner_id is not None:
        out.append(table.c.owner_id == query.owner_id)
    known = fields_of(entity)
    for flt in query.filters:
        f = known.get(flt.field)
        if f is None:
            raise QueryError(_("Cannot filter on '%(name)s': there is no such field.",
                               name=flt.field))
        if any(isinstance(v, str) and "\x00" in v for v in flt.values):
            raise QueryError(_("Filter on %(field)s: a value cannot contain the NUL "
                               "character.", field=_label(f)))
        try:
            values = parse_filter(f, flt.op, list(flt.values), records.registry, me=query.me)
        except FilterValueError as exc:
            shown = ", ".join(str(v) for v in flt.values)
            raise QueryError(_("Filter on %(field)s (%(value)s): %(problem)s",
                               field=_label(f), value=shown or "-", problem=str(exc))) from None
        kind = value_field(f, records.registry)[1].type
        wrong = [v for v in values if out_of_range(kind, v)]
        if wrong:
            raise QueryError(_("Filter on %(field)s: %(value)s is out of range.",
                               field=_label(f), value=wrong[0]))
        out.append(condition(_column(records, entity, f), kind, flt.op, values, dialect))
    out += _search(records, entity, query.search)
    return out


def search_columns(records: Records, entity: EntityDef) -> list[FieldDef]:
    """The title, then indexed text fields, then other text fields: at most 5."""
    found: list[FieldDef] = []
    title = entity.fields.get(entity.title or "")
    if title is not None:
        found.append(title)
    text = [f for f in entity if f.type in SEARCH_TYPES and f is not title and not f.hidden
            and not f.encrypted]
    text.sort(key=lambda f: (not f.indexed, f.type == "text"))
    return (found + text)[:SEARCH_COLUMNS]


def _search(records: Records, entity: EntityDef, search: str) -> list[sa.ColumnElement[bool]]:
    terms = search.replace("\x00", "").split()[:5]  # stored text never holds NUL
    if not terms:
        return []
    cols = [_column(records, entity, f) for f in search_columns(records, entity)]
    if not cols:
        cols = [records.table(entity.name).c.id]
    cols = [c if isinstance(c.type, sa.String) else sa.cast(c, sa.String) for c in cols]
    return [sa.or_(*(c.ilike(f"%{_like(t)}%", escape="\\") for c in cols)) for t in terms]


# --- keyset pages -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Sort:
    name: str
    desc: bool
    field: FieldDef | None  # None: by id
    col: sa.ColumnElement[Any]
    nullable: bool


def _sort_of(records: Records, entity: EntityDef, sort: str | None) -> _Sort:
    text = sort or default_sort(entity)
    desc = text.startswith("-")
    name = text.removeprefix("-")
    table = records.table(entity.name)
    if name == "id":
        return _Sort(text, desc, None, table.c.id, False)
    f = fields_of(entity).get(name)
    if f is not None and f.encrypted:
        raise QueryError(_("Cannot sort by '%(name)s': it is encrypted.", name=name))
    if f is None or not sortable(f, records.registry):
        raise QueryError(_("Cannot sort by '%(name)s'.", name=name))
    col = _column(records, entity, f)
    nullable = name not in ("created_at", "updated_at")
    return _Sort(text, desc, f, col, nullable)


def _row_key(s: _Sort) -> str:
    if s.field is None:
        return "id"
    return "owner_id" if s.field.name == "owner" else s.field.name


def encode_cursor(s: _Sort, row: Mapping[str, Any], registry: Any) -> str:
    value = row[_row_key(s)]
    if s.field is not None and value is not None:
        vtype, vf = value_field(s.field, registry)
        value = vtype.to_json(vf, value)
    if isinstance(value, datetime | date | time):
        value = value.isoformat()
    data = [s.name, "n" if value is None else "v", value, row["id"]]
    raw = json.dumps(data, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(s: _Sort, cursor: str, registry: Any) -> tuple[str, Any, int]:
    """(segment "v" or "n", sort value, id) of a cursor made for this sort."""
    bad = QueryError(_("This page link is out of date or damaged; start again from the "
                       "first page."))
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        name, seg, value, rid = data
    except (ValueError, TypeError, binascii.Error):
        raise bad from None
    if name != s.name or seg not in ("v", "n") or not isinstance(rid, int) \
            or (seg == "v") != (value is not None):
        raise bad
    if seg == "v" and s.field is not None:
        vtype, vf = value_field(s.field, registry)
        try:
            value = vtype.to_python(vf, value)
        except (ValueError, TypeError):
            raise bad from None
    elif seg == "v" and not isinstance(value, int):
        raise bad
    return seg, value, rid


def _order(s: _Sort, idc: sa.ColumnElement[Any], reverse: bool
           ) -> list[sa.ColumnElement[Any]]:
    desc = s.desc != reverse
    cols = [idc] if s.field is None else [s.col, idc]
    return [c.desc() if desc else c.asc() for c in cols]


def _beyond(s: _Sort, idc: sa.ColumnElement[Any], value: Any, rid: int, forward: bool
            ) -> sa.ColumnElement[bool]:
    """Rows after (forward) or before the cursor row, among rows with a sort value."""
    up = s.desc != forward  # larger values come next
    id_next = idc > rid if up else idc < rid
    if s.field is None:
        return id_next
    col = s.col
    return sa.and_(col >= value if up else col <= value,
                   sa.or_(col > value if up else col < value, id_next))


def _fetch(conn: sa.Connection, base: sa.Select[Any], s: _Sort, idc: sa.ColumnElement[Any],
           cursor: tuple[str, Any, int] | None, size: int, backward: bool
           ) -> tuple[list[sa.Row[Any]], bool]:
    """Rows of one page in display order, and whether there are more beyond it."""
    want = size + 1
    valued = base.where(s.col.is_not(None)) if s.nullable else base
    empty = base.where(s.col.is_(None))
    id_up = not s.desc if not backward else s.desc
    out: list[sa.Row[Any]] = []
    if not backward:
        seg, value, rid = cursor or ("v", None, None)
        if seg == "v":
            q = valued if rid is None else valued.where(_beyond(s, idc, value, rid, True))
            out = list(conn.execute(q.order_by(*_order(s, idc, False)).limit(want)))
        if len(out) < want and s.nullable:
            q = empty if seg == "v" else empty.where(idc > rid if id_up else idc < rid)
            q = q.order_by(idc.asc() if id_up else idc.desc()).limit(want - len(out))
            out += list(conn.execute(q))
        return out[:size], len(out) > size
    assert cursor is not None
    seg, value, rid = cursor
    if seg == "n":
        q = empty.where(idc > rid if id_up else idc < rid)
        out = list(conn.execute(q.order_by(idc.asc() if id_up else idc.desc()).limit(want)))
    if len(out) < want:
        q = valued if seg == "n" else valued.where(_beyond(s, idc, value, rid, False))
        out += list(conn.execute(q.order_by(*_order(s, idc, True)).limit(want - len(out))))
    return list(reversed(out[:size])), len(out) > size


def run(records: Records, entity: str, query: ListQuery, *, with_count: bool = True) -> Page:
    """One page of a list: rows (record dicts), cursors, capped count, lookup titles. Only
    what the records service's actor may see: their records, without their hidden fields
    (which they cannot filter or sort on either)."""
    e = records.visible_entity(entity)
    if not 1 <= query.page_size <= MAX_BATCH:
        raise QueryError(_("The page size must be between 1 and %(max)s.", max=MAX_BATCH))
    columns = resolve_columns(records, e, query.columns)
    table = records.table(entity)
    dialect = records.engine.dialect.name
    where = conditions(records, e, query, dialect)
    access = records.readable(entity)
    if access is not None:
        where.append(access)
    s = _sort_of(records, e, query.sort)
    cursor = decode_cursor(s, query.cursor, records.registry) if query.cursor else None
    if query.backward and cursor is None:
        raise QueryError(_("A previous page needs a page link."))
    base = records.full_select(entity, records.hidden(entity)).where(*where)
    with records.engine.connect() as conn:
        rows, more = _fetch(conn, base, s, table.c.id, cursor, query.page_size, query.backward)
        count = 0
        if with_count and cursor is None and not more:
            count = len(rows)  # the whole list is on this first page
        elif with_count:
            ids = sa.select(table.c.id).where(*where).limit(COUNT_CAP + 1).subquery()
            count = int(conn.execute(sa.select(sa.func.count()).select_from(ids)).scalar_one())
        recs = [_record(records, r) for r in rows]
        titles = reference_titles(records, columns, recs, conn)
    has_more = more if not query.backward else True
    has_prev = more if query.backward else cursor is not None
    return Page(
        rows=recs, columns=columns, sort=s.name, count=min(count, COUNT_CAP),
        count_capped=count > COUNT_CAP, has_more=has_more and bool(rows),
        has_prev=has_prev and bool(rows),
        next_cursor=encode_cursor(s, recs[-1], records.registry) if rows else None,
        prev_cursor=encode_cursor(s, recs[0], records.registry) if rows else None,
        titles=titles)


def check(records: Records, entity: str, query: ListQuery) -> None:
    """Raise QueryError when a query could not run (filters, sort, columns), without running
    it: for saving views."""
    e = records.visible_entity(entity)
    resolve_columns(records, e, query.columns)
    conditions(records, e, query, records.engine.dialect.name)
    _sort_of(records, e, query.sort)


def _record(records: Records, row: sa.Row[Any]) -> dict[str, Any]:
    rec = records.to_record(row)
    rec["owner"] = rec.get("owner_id")
    return rec


def iter_rows(records: Records, entity: str, query: ListQuery, batch: int = 500
              ) -> Iterator[tuple[list[dict[str, Any]], dict[str, dict[int, str]]]]:
    """Every row of a query in batches (keyset pages), each with its lookup titles: for
    exports, which must not load everything at once."""
    q = replace(query, page_size=batch, cursor=None, backward=False)
    while True:
        page = run(records, entity, q, with_count=False)
        if page.rows:
            yield page.rows, page.titles
        if not page.has_more:
            return
        q = replace(q, cursor=page.next_cursor)


def reference_titles(records: Records, columns: Sequence[FieldDef],
                     rows: Sequence[Mapping[str, Any]], conn: sa.Connection
                     ) -> dict[str, dict[int, str]]:
    """Column -> {id: title} for lookup and user columns (one query per column); users are
    shown by full name."""
    out: dict[str, dict[int, str]] = {}
    for f in columns:
        if f.type not in REFERENCE_TYPES:
            continue
        ids = sorted({int(r[f.name]) for r in rows if r.get(f.name) is not None})
        if f.type == "user":
            found = conn.execute(sa.select(users.c.id, users.c.full_name, users.c.username)
                                 .where(users.c.id.in_(ids))).all() if ids else []
            out[f.name] = {r.id: r.full_name or r.username for r in found}
        else:
            out[f.name] = records.titles(str(f.opt("to")), ids, conn)
    return out
