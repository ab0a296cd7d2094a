"""What a merge of duplicates would do, before it is done: which fields the user chooses values
for (and the default choice of each), and which related records move to the survivor.

Related records are found from the config, not listed anywhere: every `lookup` and
`master_detail` field of any entity that points at the merged entity (a contact's account, an
activity's related contact, a consent's contact, a contact's `reports_to` ...), plus the
attachments (`sys_attachment`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.i18n import _
from app.meta.types import EntityDef, FieldDef
from app.model.system import attachments
from app.records import Actor, RecordError, Records
from app.records.values import OWNER, is_empty

#: most records merged into one at a time
MAX_LOSERS = 10
LINK_TYPES = ("lookup", "master_detail")


class MergeRefused(RecordError):
    """A merge that cannot be done as asked (nothing changed): the message says why."""

    status = 422


@dataclass(frozen=True)
class Link:
    """A field of `entity` (lookup or master-detail) pointing at the merged entity."""

    entity: EntityDef
    field: FieldDef


def links_to(rs: Records, entity: str) -> list[Link]:
    """Every lookup and master-detail field (with a column) pointing at `entity`."""
    return [Link(e, f) for e in rs.meta.entities.values() for f in e
            if f.type in LINK_TYPES and f.opt("to") == entity
            and f.name in rs.spec(e.name).columns]


def choosable(rs: Records, actor: Actor, entity: str) -> list[FieldDef]:
    """The fields whose value the user picks from one of the merged records: stored, not
    computed or automatic, neither hidden from nor read-only for `actor`, in field order."""
    spec = rs.spec(entity)
    acc = rs.access(actor)
    hidden, read_only = acc.hidden(entity), acc.read_only(entity)
    return [f for f in spec.writable if f.type != "autonumber" and not f.read_only
            and not f.hidden and f.name not in hidden and f.name not in read_only]


def choice_names(rs: Records, actor: Actor, entity: str) -> list[str]:
    """The names a choice may name: the choosable fields and `owner`."""
    return [f.name for f in choosable(rs, actor, entity)] + [OWNER]


def value_of(record: Mapping[str, Any], name: str) -> Any:
    return record.get("owner_id") if name == OWNER else record.get(name)


def defaults(names: Iterable[str], survivor: Mapping[str, Any],
             losers: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """field -> the id of the record whose value is kept when the user does not choose: the
    survivor's non-empty value, else the first non-empty one among the others."""
    out: dict[str, int] = {}
    for name in names:
        source = survivor
        if is_empty(value_of(survivor, name)):
            source = next((r for r in losers if not is_empty(value_of(r, name))), survivor)
        out[name] = int(source["id"])
    return out


def record_ids(entity: str, survivor: Any, losers: Iterable[Any]) -> tuple[int, list[int]]:
    """The survivor's and the losers' ids from what the caller gave: ids, or (entity, id)
    pairs (refused when one names another entity). Refuses a survivor among the losers, an id
    given twice, no loser or too many."""
    def one(ref: Any) -> int:
        if isinstance(ref, tuple | list) and len(ref) == 2:
            if str(ref[0]) != entity:
                raise MergeRefused(_(
                    "Only records of one entity can be merged: %(ref)s is not a %(entity)s.",
                    ref=f"{str(ref[0])[:63]} #{ref[1]}", entity=entity))
            ref = ref[1]
        if isinstance(ref, bool) or not isinstance(ref, int | str):
            raise MergeRefused(_("%(value)s is not a record id.", value=repr(ref)[:40]))
        try:
            number = int(ref)
        except ValueError:
            raise MergeRefused(_("%(value)s is not a record id.", value=repr(ref)[:40])) from None
        if not 0 < number < 2**31:
            raise MergeRefused(_("%(value)s is not a record id.", value=repr(ref)[:40]))
        return number

    first = one(survivor)
    rest = [one(r) for r in losers]
    if not rest:
        raise MergeRefused(_("Choose at least one record to merge into the surviving one."))
    if len(rest) > MAX_LOSERS:
        raise MergeRefused(_("At most %(n)s records can be merged into one at a time.",
                             n=MAX_LOSERS))
    if first in rest:
        raise MergeRefused(_("The surviving record #%(id)s cannot also be merged into "
                             "itself.", id=first))
    if len(set(rest)) != len(rest):
        raise MergeRefused(_("A record to merge is named twice."))
    return first, rest


@dataclass
class Plan:
    """The compare page's content: the records side by side, the fields to choose, the
    defaults, and the related records that will move (counts per entity)."""

    entity: EntityDef
    survivor: dict[str, Any]
    losers: list[dict[str, Any]]
    fields: list[FieldDef]
    defaults: dict[str, int]
    moves: list[tuple[Link, int]] = field(default_factory=list)
    attachments: int = 0

    @property
    def records(self) -> list[dict[str, Any]]:
        return [self.survivor, *self.losers]

    def differs(self, name: str) -> bool:
        """Whether the records hold different values for the field."""
        values = [value_of(r, name) for r in self.records]
        return any(v != values[0] for v in values[1:])


def plan(rs: Records, actor: Actor, entity: str, survivor: Any, losers: Iterable[Any]) -> Plan:
    """What merging `losers` into `survivor` would do, as `actor` may see it (NotFound for a
    record they may not read; Forbidden without the `merge` grant)."""
    from app.dedupe.find import load, may_merge

    may_merge(rs, actor, entity)
    survivor_id, loser_ids = record_ids(entity, survivor, losers)
    found = load(rs, actor, entity, [survivor_id, *loser_ids])
    for i in (survivor_id, *loser_ids):
        if i not in found:
            from app.records import NotFound

            raise NotFound(_("%(entity)s #%(id)s does not exist or was deleted.",
                             entity=rs.entity(entity).label_for(actor.locale), id=i))
    fields = choosable(rs, actor, entity)
    kept, rest = found[survivor_id], [found[i] for i in loser_ids]
    with rs.engine.connect() as conn:
        moves = related_counts(rs, conn, entity, loser_ids)
        files = attachment_count(conn, entity, loser_ids)
    return Plan(rs.entity(entity), kept, rest, fields,
                defaults([*(f.name for f in fields), OWNER], kept, rest), moves, files)


def related_counts(rs: Records, conn: sa.Connection, entity: str, ids: Sequence[int]
                   ) -> list[tuple[Link, int]]:
    """(link, number of live records pointing at `ids` through it), those with any."""
    out: list[tuple[Link, int]] = []
    for link in links_to(rs, entity):
        table = rs.table(link.entity.name)
        col = table.c[rs.spec(link.entity.name).columns[link.field.name]]
        stmt = sa.select(sa.func.count()).select_from(table).where(
            col.in_(list(ids)), table.c.deleted_at.is_(None))
        if link.entity.name == entity:
            stmt = stmt.where(table.c.id.not_in(list(ids)))
        n = int(conn.execute(stmt).scalar_one())
        if n:
            out.append((link, n))
    return out


def attachment_count(conn: sa.Connection, entity: str, ids: Sequence[int]) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(attachments).where(
        attachments.c.entity == entity, attachments.c.record_id.in_(list(ids)),
        attachments.c.deleted_at.is_(None))).scalar_one())
