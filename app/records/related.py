"""What a detail page shows around a record: related lists and the activity timeline.

Related lists are the records of other entities that point at this one through a lookup or a
master-detail field (contacts of an account, lines of a quote). The timeline merges, newest first,
the activities and notes linked to the record, its audit trail (created, fields changed, deleted,
restored) and its attachments. Plain queries through the records service's tables (no ORM
session, no Flask); the web layer formats the values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.fields.base import FieldValueError
from app.meta.types import EntityDef, FieldDef
from app.model.system import users
from app.records.archived import excluded
from app.records.attachments import Attachment, aware
from app.records.service import SYSTEM_KEYS, Records
from app.records.values import OWNER

LINK_TYPES = ("lookup", "master_detail")
#: entities whose records appear in the timeline of the records they are linked to
TIMELINE_ENTITIES = ("activity", "note", "email")
#: the customer's timeline: on the page of a record of these entities, the timeline also shows
#: what is linked to the records of FOLDED entities that point at it (an account's contacts,
#: deals, cases and quotes; a contact's deals, cases and quotes)
CUSTOMERS = ("account", "contact")
FOLDED = ("contact", "opportunity", "case", "quote")
#: field types that make poor summary columns in a related list
LONG_TYPES = frozenset({"text", "rich_text", "json", "file", "tags", "multi_picklist"})
#: summary column preference by type (lower first): coloured picklists (stages) come first,
#: then money and numbers, dates, contact details, links; other picklists and text last
TYPE_RANK = {"autonumber": 1, "currency": 1, "date": 2, "datetime": 2, "email": 3, "phone": 3,
             "lookup": 4, "master_detail": 4, "user": 4, "formula": 5, "rollup": 5,
             "picklist": 6, "string": 7}
#: at most this many picklists among the summary columns
MAX_PICKLISTS = 2

@dataclass(frozen=True)
class Link:
    """A lookup or master-detail field of `child` that points at another entity."""

    child: EntityDef
    field: FieldDef

    @property
    def master_detail(self) -> bool:
        return self.field.type == "master_detail"


@dataclass
class RelatedList:
    link: Link
    rows: list[dict[str, Any]]
    total: int
    columns: tuple[FieldDef, ...]

    @property
    def more(self) -> int:
        return max(self.total - len(self.rows), 0)


#: the owner of a record, as the timeline shows a change of it
OWNER_FIELD = FieldDef(name=OWNER, type="user")


@dataclass(frozen=True)
class FieldChange:
    """One field of an update (`field` is None for a field since removed)."""

    name: str
    field: FieldDef | None
    old: Any
    new: Any


@dataclass
class Event:
    """One line of the timeline. `kind`: create, update, delete, restore (the record's audit
    trail), activity or note (a linked record, in `record`), attachment."""

    at: datetime
    kind: str
    user_id: int | None
    changes: list[FieldChange] = field(default_factory=list)
    entity: str | None = None
    record: dict[str, Any] | None = None
    attachment: Attachment | None = None
    #: a linked record shown on a customer's page through another record: (entity, id)
    via: tuple[str, int] | None = None


def links_to(records: Records, entity: str) -> list[Link]:
    """Every link field pointing at `entity`: master-detail children first, the timeline's
    activities and notes last."""
    found = [Link(e, f) for e in records.meta for f in e
             if f.type in LINK_TYPES and f.opt("to") == entity and not f.hidden
             and f.name in records.spec(e.name).columns]
    return sorted(found, key=lambda k: (not k.master_detail, k.child.name in TIMELINE_ENTITIES))


def summary_columns(child: EntityDef, skip: Iterable[str], n: int = 3) -> tuple[FieldDef, ...]:
    """Up to `n` useful columns of a related list, in the entity's field order."""
    skipped = set(skip) | {child.title or ""}
    order = {f.name: i for i, f in enumerate(child)}

    def rank(f: FieldDef) -> tuple[int, int]:
        stage = f.type == "picklist" and any(c.color for c in f.choices)
        return (0 if stage else TYPE_RANK.get(f.type, 8), order[f.name])

    candidates = sorted((f for f in child if f.name not in skipped and not f.hidden
                         and f.type not in LONG_TYPES and not f.visible_when), key=rank)
    best: list[FieldDef] = []
    for f in candidates:
        if len(best) == n:
            break
        if f.type == "picklist" and sum(b.type == "picklist" for b in best) >= MAX_PICKLISTS:
            continue
        best.append(f)
    return tuple(sorted(best, key=lambda f: order[f.name]))


def columns_of(records: Records, entity: str, names: Iterable[str]
               ) -> list[sa.ColumnElement[Any]]:
    """id, the system columns and the title plus `names` (stored or formula fields), labelled
    by field name: a narrow SELECT for lists of a few columns."""
    table = records.table(entity)
    spec = records.spec(entity)
    formulas = records.models.formulas.get(entity, {})
    cols: list[sa.ColumnElement[Any]] = [table.c[k] for k in SYSTEM_KEYS]
    title = records.entity(entity).title
    hidden = records.hidden(entity)
    wanted = [n for n in dict.fromkeys([title or "", *names]) if n and n not in hidden]
    for name in wanted:
        if name in formulas:
            cols.append(formulas[name].label(name))
        elif name in spec.columns and spec.columns[name] in table.c:
            cols.append(table.c[spec.columns[name]].label(name))
    return cols


def related_list(records: Records, link: Link, parent_id: int, limit: int = 10,
                 conn: sa.Connection | None = None) -> RelatedList:
    """The first `limit` live records of `link.child` pointing at `parent_id`, newest first,
    and how many there are (counted only when there are more than `limit`)."""
    if conn is None:
        with records.engine.connect() as own:
            return related_list(records, link, parent_id, limit, own)
    name = link.child.name
    table = records.table(name)
    col = table.c[records.spec(name).columns[link.field.name]]
    access = records.readable(name)
    where = sa.and_(col == parent_id, table.c.deleted_at.is_(None),
                    *([] if access is None else [access]), *excluded(records, name))
    columns = summary_columns(records.visible_entity(name), [link.field.name])
    stmt = (sa.select(*columns_of(records, name, [f.name for f in columns])).where(where)
            .order_by(table.c.id.desc()).limit(limit + 1))
    rows = [records.to_record(r) for r in conn.execute(stmt)]
    total = len(rows)
    if total > limit:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(table)
                                 .where(where)).scalar_one())
    return RelatedList(link, rows[:limit], total, columns)


def related_lists(records: Records, entity: str, parent_id: int, limit: int = 10,
                  conn: sa.Connection | None = None) -> list[RelatedList]:
    """Every related list of the record (one connection for all)."""
    if conn is None:
        with records.engine.connect() as own:
            return related_lists(records, entity, parent_id, limit, own)
    return [related_list(records, link, parent_id, limit, conn)
            for link in links_to(records, entity)
            if records.access().allows(link.child.name, "read")]


def detail_children(records: Records, entity: str, parent_id: int) -> list[tuple[Link, int]]:
    """Master-detail children that go to the recycle bin with the record: (link, live count)."""
    out = []
    for link in links_to(records, entity):
        if not link.master_detail:
            continue
        table = records.table(link.child.name)
        col = table.c[records.spec(link.child.name).columns[link.field.name]]
        with records.engine.connect() as conn:
            n = int(conn.execute(sa.select(sa.func.count()).select_from(table).where(
                col == parent_id, table.c.deleted_at.is_(None))).scalar_one())
        if n:
            out.append((link, n))
    return out


def user_names(engine: sa.Engine, ids: Iterable[int | None],
               conn: sa.Connection | None = None) -> dict[int, str]:
    """user id -> full name (else username)."""
    wanted = sorted({int(i) for i in ids if i is not None})
    if not wanted:
        return {}
    stmt = sa.select(users.c.id, users.c.full_name, users.c.username).where(
        users.c.id.in_(wanted))
    if conn is None:
        with engine.connect() as own:
            return {r.id: r.full_name or r.username for r in own.execute(stmt)}
    return {r.id: r.full_name or r.username for r in conn.execute(stmt)}


def from_json(records: Records, f: FieldDef, value: Any) -> Any:
    """An audit value (as `to_json` wrote it) back as the field's Python value; the value as
    it is when the field's type no longer reads it."""
    if value is None:
        return None
    try:
        return records.registry.get(f.type).to_python(f, value)
    except (FieldValueError, TypeError, ValueError, KeyError):
        return value


def history_events(records: Records, entity: str, record_id: int,
                   conn: sa.Connection | None = None) -> list[Event]:
    e = records.entity(entity)
    hidden = records.hidden(entity)
    order = {name: i for i, name in enumerate(e.fields)}
    events = []
    for row in records.history(entity, record_id, conn):
        changes = []
        for name, pair in (row.get("changes") or {}).items():
            old, new = (pair[0], pair[-1]) if isinstance(pair, list) and pair else (None, pair)
            if name in hidden:
                continue
            f = e.fields.get(name) or (OWNER_FIELD if name == OWNER else None)
            if f is not None:
                if f.hidden:
                    continue
                old, new = from_json(records, f, old), from_json(records, f, new)
            changes.append(FieldChange(name, f, old, new))
        changes.sort(key=lambda c: order.get(c.name, len(order)))
        events.append(Event(aware(row["at"]), str(row["action"]), row.get("user_id"), changes))
    return events


def linked_events(records: Records, entity: str, record_id: int, limit: int = 50,
                  conn: sa.Connection | None = None) -> list[Event]:
    """Activities, notes and emails whose lookups point at the record (on an account's or a
    contact's page also those of its contacts, deals, cases and quotes), newest first."""
    if conn is None:
        with records.engine.connect() as own:
            return linked_events(records, entity, record_id, limit, own)
    events: list[Event] = []
    for name in TIMELINE_ENTITIES:
        events += _linked(records, conn, name, entity, record_id, limit)
    return events


def _linked(records: Records, conn: sa.Connection, name: str, entity: str, record_id: int,
            limit: int) -> list[Event]:
    child = records.meta.entities.get(name)
    if child is None or not records.access().allows(name, "read"):
        return []
    spec = records.spec(name)
    table = records.table(name)
    cols = [table.c[spec.columns[f.name]] for f in child
            if f.type in LINK_TYPES and f.opt("to") == entity and f.name in spec.columns]
    folds = _folds(records, child, entity, record_id)
    if not cols and not folds:
        return []
    stmt = (records.select(name)
            .where(sa.or_(*(c == record_id for c in cols), *(f[2] for f in folds)),
                   table.c.deleted_at.is_(None))
            .order_by(table.c.id.desc()).limit(limit))
    direct = [f.name for f in child if f.type in LINK_TYPES and f.opt("to") == entity]
    out = []
    for rec in (records.to_record(row) for row in conn.execute(stmt)):
        via = None
        if not any(rec.get(n) == record_id for n in direct):
            via = next(((to, int(rec[n])) for n, to, _cond in folds
                        if isinstance(rec.get(n), int)), None)
        out.append(Event(aware(rec["created_at"]), name, rec["created_by_id"], entity=name,
                         record=rec, via=via))
    return out


def _folds(records: Records, child: EntityDef, entity: str, record_id: int
           ) -> list[tuple[str, str, sa.ColumnElement[bool]]]:
    """On a customer's page (CUSTOMERS): (field of `child`, FOLDED entity it points at, the
    condition "it points at a live record of that entity that points at this one")."""
    if entity not in CUSTOMERS:
        return []
    spec = records.spec(child.name)
    table = records.table(child.name)
    out: list[tuple[str, str, sa.ColumnElement[bool]]] = []
    for f in child:
        to = str(f.opt("to"))
        if f.type not in LINK_TYPES or to == entity or to not in FOLDED \
                or to not in records.meta.entities or f.name not in spec.columns:
            continue
        fspec, ftable = records.spec(to), records.table(to)
        links = [ftable.c[fspec.columns[g.name]] for g in records.entity(to)
                 if g.type in LINK_TYPES and g.opt("to") == entity and g.name in fspec.columns]
        if links:
            ids = sa.select(ftable.c.id).where(sa.or_(*(c == record_id for c in links)),
                                               ftable.c.deleted_at.is_(None))
            out.append((f.name, to, table.c[spec.columns[f.name]].in_(ids)))
    return out


def timeline(records: Records, entity: str, record_id: int, *,
             attachments: Sequence[Attachment] = (), limit: int = 50,
             conn: sa.Connection | None = None) -> list[Event]:
    """The record's history, linked activities and notes, and attachments, newest first."""
    events = history_events(records, entity, record_id, conn)
    events += linked_events(records, entity, record_id, limit, conn)
    events += [Event(a.uploaded_at, "attachment", a.uploaded_by_id, attachment=a)
               for a in attachments]
    events.sort(key=lambda ev: ev.at, reverse=True)
    return events[:limit]


def lookup_ids(events: Iterable[Event]) -> dict[str, set[int]]:
    """Target entity -> record ids named by the field changes (to fetch their titles)."""
    out: dict[str, set[int]] = {}
    for ev in events:
        for ch in ev.changes:
            if ch.field is None or ch.field.type not in LINK_TYPES:
                continue
            for v in (ch.old, ch.new):
                if isinstance(v, int) and not isinstance(v, bool):
                    out.setdefault(str(ch.field.opt("to")), set()).add(v)
    return out


def user_ids(events: Iterable[Event]) -> set[int]:
    """Every user the events name: who acted, owners and user fields changed."""
    out: set[int] = set()
    for ev in events:
        if ev.user_id is not None:
            out.add(int(ev.user_id))
        for ch in ev.changes:
            if ch.field is not None and ch.field.type == "user":
                out.update(int(v) for v in (ch.old, ch.new)
                           if isinstance(v, int) and not isinstance(v, bool))
    return out
