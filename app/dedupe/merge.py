"""Merging duplicates: one surviving record takes the chosen values, everything related to the
others moves to it, and the others go to the recycle bin, all in one transaction through the
records service (its validation, permissions, audit, roll-ups and hooks).

    merge(rs, actor, "contact", survivor=5, losers=[7], choices={"email": 7},
          versions={5: 3, 7: 1})

Who may: `actor` needs the `merge` grant on the entity, may edit the survivor and delete each
loser. Related records move whoever owns them (as master-detail children go to the bin with
their parent, whoever owns them): the merge is what the grant allows. Each move is an audited
update of the related record by `actor` (links the config marks read-only, such as a lead's
converted contact, are written as the system and their audit entry names `actor`).

In order, inside the transaction: lock the records (smallest id first), check permissions and
`versions` (a stale one is a `Conflict`, 409), take the unique values the survivor gets from a
loser off that loser, move related records (every lookup and master-detail pointing at a
loser; a record pointing at the survivor through a link that must be unique is refused with
both names), move attachments, run `crm_records_merge` (plugins' own rows), update the
survivor, move the losers to the recycle bin. The survivor's audit entry becomes a `merge`
entry listing the merged records and where each value came from; each loser gets a `merged`
entry naming the survivor (its own trail stays). Any refusal rolls everything back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.dedupe.plan import (
    Link,
    MergeRefused,
    choice_names,
    defaults,
    links_to,
    record_ids,
    value_of,
)
from app.i18n import _
from app.meta.access import ADMIN
from app.model.system import attachments, audit
from app.records import Actor, Change, RecordError, Records, ValidationFailed, checks, guard
from app.records.side import write_audit
from app.records.values import OWNER

#: audit actions: on the survivor, and on each record merged into it
MERGE, MERGED = "merge", "merged"
#: keys of those audit entries' `changes` (not field names: fields cannot start with "_")
MERGED_KEY, MERGED_INTO_KEY = "__merged__", "__merged_into__"


@dataclass(frozen=True)
class Merged:
    """What a merge did."""

    entity: str
    survivor: dict[str, Any]
    merged: tuple[int, ...]
    #: field -> the id of the record its value came from (only values that changed)
    taken: Mapping[str, int] = field(default_factory=dict)
    #: related entity -> how many of its records moved to the survivor
    moved: Mapping[str, int] = field(default_factory=dict)
    attachments: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "survivor": int(self.survivor["id"]),
                "merged": list(self.merged), "taken": dict(self.taken),
                "moved": dict(self.moved), "attachments": self.attachments}


def merge(rs: Records, actor: Actor, entity: str, survivor: Any, losers: Iterable[Any],
          choices: Mapping[str, Any] | None = None,
          versions: Mapping[Any, Any] | None = None) -> Merged:
    """Merge `losers` into `survivor` (ids, or (entity, id) pairs). `choices`: field (or
    `owner`) -> the id of the record whose value the survivor keeps; fields not named keep
    the survivor's value, or take the first loser's when the survivor's is empty. `versions`:
    record id -> the version the caller saw (optimistic locking)."""
    from app.dedupe.find import may_merge

    may_merge(rs, actor, entity)
    survivor_id, loser_ids = record_ids(entity, survivor, losers)
    ids = [survivor_id, *loser_ids]
    expected = _versions(versions, ids)
    changes: list[Change] = []
    with rs.transaction() as conn:
        current = {i: rs._locked(conn, entity, i) for i in sorted(ids)}
        guard.may(rs, conn, entity, survivor_id, actor, "edit")
        for i in loser_ids:
            guard.may(rs, conn, entity, i, actor, "delete")
        hidden = rs.access(actor).hidden(entity)
        for i, version in expected.items():
            if version != current[i]["version"]:
                raise checks.conflict(rs, conn, entity, current[i], version, hidden)
        taken = _choices(rs, actor, entity, choices or {}, current, survivor_id, loser_ids)
        values = {name: _fixed(rs, entity, name, value_of(current[src], name), ids)
                  for name, src in taken.items()}
        _free_unique(rs, conn, entity, taken, values, actor, changes)
        moved = _move_related(rs, conn, entity, survivor_id, loser_ids, actor, changes)
        files = _move_attachments(conn, entity, survivor_id, loser_ids)
        if rs.plugins is not None:
            rs.plugins.hook.crm_records_merge(conn=conn, entity=entity, survivor_id=survivor_id,
                                              loser_ids=list(loser_ids), actor=actor)
        titles = rs.titles(entity, ids, conn)
        before = _version(rs, conn, entity, survivor_id)
        change = rs._update(conn, entity, survivor_id, values, actor, None)
        changes.append(change)
        _mark_survivor(rs, conn, entity, survivor_id, before, actor, {
            "records": [{"id": i, "title": titles.get(i, f"#{i}")} for i in loser_ids],
            "taken": dict(taken)})
        titles.update(rs.titles(entity, [survivor_id], conn))  # its title may have changed
        when = datetime.now(UTC)
        for i in loser_ids:
            changes += rs._delete(conn, entity, i, actor, None, when)
            write_audit(conn, entity=entity, record_id=i, action=MERGED, user_id=actor.id,
                        version=_version(rs, conn, entity, i), changes={MERGED_INTO_KEY: [
                            None, {"id": survivor_id, "title": titles.get(survivor_id)}]})
        record = rs._get(entity, survivor_id, conn=conn)
    for done in changes:
        rs._after_commit(done)
    return Merged(entity, record, tuple(loser_ids), taken, moved, files)


def _versions(versions: Mapping[Any, Any] | None, ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for key, value in (versions or {}).items():
        try:
            record_id, version = int(key), int(value)
        except (TypeError, ValueError):
            raise MergeRefused(_("Versions must be whole numbers by record id.")) from None
        if record_id not in ids:
            raise MergeRefused(_("A version is given for #%(id)s, which is not being merged.",
                                 id=record_id))
        out[record_id] = version
    return out


def _choices(rs: Records, actor: Actor, entity: str, given: Mapping[str, Any],
             current: Mapping[int, dict[str, Any]], survivor_id: int, loser_ids: list[int]
             ) -> dict[str, int]:
    """field -> the record whose value the survivor gets, for the values that change (the
    defaults completed by `given`); ValidationFailed names each bad choice."""
    names = choice_names(rs, actor, entity)
    e = rs.entity(entity)
    chosen = defaults(names, current[survivor_id], [current[i] for i in loser_ids])
    errors: dict[str, list[str]] = {}
    ids = {survivor_id, *loser_ids}
    for name, ref in given.items():
        if name not in names:
            f = e.fields.get(name)
            known = f is not None and name not in rs.access(actor).hidden(entity)
            errors[str(name)[:63]] = [
                _("%(field)s cannot be chosen: it is calculated, automatic or read-only.",
                  field=f.label_for(actor.locale)) if known and f is not None
                else _("There is no field '%(name)s'.", name=str(name)[:63])]
            continue
        try:
            source = int(ref)
        except (TypeError, ValueError):
            source = 0
        if source not in ids:
            errors[name] = [_("The value of %(field)s must come from one of the records being "
                              "merged, not %(ref)s.", field=_label(e, name, actor.locale),
                              ref=repr(ref)[:40])]
            continue
        chosen[name] = source
    if errors:
        raise ValidationFailed(errors)
    kept = current[survivor_id]
    return {name: src for name, src in chosen.items()
            if src != survivor_id and value_of(current[src], name) != value_of(kept, name)}


def _label(e: Any, name: str, locale: str) -> str:
    if name == OWNER:
        return _("Owner")
    return str(e.fields[name].label_for(locale))


def _fixed(rs: Records, entity: str, name: str, value: Any, ids: list[int]) -> Any:
    """A value taken for the survivor; a link to the entity itself naming one of the merged
    records would point at the survivor (or a record gone to the bin): it is emptied."""
    f = rs.entity(entity).fields.get(name)
    if f is not None and f.type in ("lookup", "master_detail") and f.opt("to") == entity \
            and value in ids:
        return None
    return value


def _writer(actor: Actor, system: bool) -> Actor:
    """Who writes a related record's move: `actor` with an administrator's reach (the merge
    grant is what allows it), or the system for links the config marks read-only."""
    return Actor(None if system else actor.id, actor.username, (ADMIN,), actor.locale)


def _write(rs: Records, conn: sa.Connection, entity: str, record_id: int,
           values: Mapping[str, Any], actor: Actor) -> Change:
    """Update one record on the merge's behalf (the audit entry names `actor`)."""
    e = rs.entity(entity)
    system = any(e.fields[n].read_only for n in values if n in e.fields)
    change = rs._update(conn, entity, record_id, values, _writer(actor, system), None)
    if system and actor.id is not None:
        conn.execute(audit.update().where(
            audit.c.entity == entity, audit.c.record_id == record_id,
            audit.c.version == change.record["version"], audit.c.user_id.is_(None),
        ).values(user_id=actor.id))
    return change


def _free_unique(rs: Records, conn: sa.Connection, entity: str, taken: Mapping[str, int],
                 values: Mapping[str, Any], actor: Actor, changes: list[Change]) -> None:
    """A unique value the survivor takes from a loser is taken off that loser first (it goes
    to the bin; the value must not be held twice)."""
    e = rs.entity(entity)
    by_loser: dict[int, dict[str, Any]] = {}
    for name, src in taken.items():
        f = e.fields.get(name)
        if f is not None and f.unique and values.get(name) is not None:
            by_loser.setdefault(src, {})[name] = None
    for loser, cleared in sorted(by_loser.items()):
        changes.append(_write(rs, conn, entity, loser, cleared, actor))


def _move_related(rs: Records, conn: sa.Connection, entity: str, survivor_id: int,
                  loser_ids: list[int], actor: Actor, changes: list[Change]) -> dict[str, int]:
    """Point every live related record of the losers at the survivor: entity -> how many."""
    moves: dict[tuple[str, int], dict[str, int | None]] = {}
    links = links_to(rs, entity)
    for link in links:
        child = link.entity.name
        table = rs.table(child)
        col = table.c[rs.spec(child).columns[link.field.name]]
        found = conn.execute(sa.select(table.c.id).where(
            col.in_(loser_ids), table.c.deleted_at.is_(None))).scalars()
        for cid in found:
            if child == entity and cid in loser_ids:
                continue  # a loser pointing at another: it goes to the bin
            target = None if child == entity and cid == survivor_id else survivor_id
            moves.setdefault((child, int(cid)), {})[link.field.name] = target
    for link in links:
        if link.field.unique:
            _unique_link(rs, conn, link, survivor_id, loser_ids)
    moved: dict[str, int] = {}
    for (child, cid), values in sorted(moves.items()):
        try:
            changes.append(_write(rs, conn, child, cid, values, actor))
        except ValidationFailed as exc:
            raise _refused(rs, conn, child, cid, "; ".join(
                m for msgs in exc.errors.values() for m in msgs)) from None
        except RecordError as exc:
            raise _refused(rs, conn, child, cid, exc.message) from None
        if not (child == entity and cid == survivor_id):
            moved[child] = moved.get(child, 0) + 1
    return moved


def _unique_link(rs: Records, conn: sa.Connection, link: Link, survivor_id: int,
                 loser_ids: list[int]) -> None:
    """A link that must be unique (one child per record) may point at only one of the merged
    records: else the survivor would get two children through it."""
    child = link.entity.name
    table = rs.table(child)
    col = table.c[rs.spec(child).columns[link.field.name]]
    rows = conn.execute(sa.select(table.c.id).where(
        col.in_([survivor_id, *loser_ids])).order_by(table.c.id).limit(2)).scalars().all()
    if len(rows) < 2:
        return
    titles = rs.titles(child, rows, conn)
    label = link.entity.label_for(_locale())
    raise MergeRefused(_(
        "These records cannot be merged: %(first)s and %(second)s (%(entity)s) would both "
        "belong to the surviving record through %(field)s, which must be unique. Change or "
        "delete one of them first.", first=f"{titles.get(rows[0])} (#{rows[0]})",
        second=f"{titles.get(rows[1])} (#{rows[1]})", entity=label,
        field=link.field.label_for(_locale())))


def _refused(rs: Records, conn: sa.Connection, child: str, cid: int, why: str) -> MergeRefused:
    title = rs.titles(child, [cid], conn).get(cid, f"#{cid}")
    return MergeRefused(_(
        "%(entity)s %(title)s (#%(id)s) cannot move to the surviving record: %(why)s "
        "Nothing was merged.", entity=rs.entity(child).label_for(_locale()), title=title,
        id=cid, why=why))


def _move_attachments(conn: sa.Connection, entity: str, survivor_id: int,
                      loser_ids: list[int]) -> int:
    """The losers' attachments (removed ones too) now belong to the survivor: how many live."""
    live = int(conn.execute(sa.select(sa.func.count()).select_from(attachments).where(
        attachments.c.entity == entity, attachments.c.record_id.in_(loser_ids),
        attachments.c.deleted_at.is_(None))).scalar_one())
    conn.execute(attachments.update().where(
        attachments.c.entity == entity, attachments.c.record_id.in_(loser_ids)
    ).values(record_id=survivor_id))
    return live


def _version(rs: Records, conn: sa.Connection, entity: str, record_id: int) -> int:
    table = rs.table(entity)
    return int(conn.execute(sa.select(table.c.version).where(table.c.id == record_id))
               .scalar_one())


def _mark_survivor(rs: Records, conn: sa.Connection, entity: str, survivor_id: int,
                   before: int, actor: Actor, info: dict[str, Any]) -> None:
    """Turn the survivor's update into a `merge` entry (or add one when no value changed)."""
    now = _version(rs, conn, entity, survivor_id)
    row = conn.execute(sa.select(audit.c.id, audit.c.changes).where(
        audit.c.entity == entity, audit.c.record_id == survivor_id, audit.c.version == now,
        audit.c.action == "update").order_by(audit.c.id.desc())).first() \
        if now != before else None
    if row is None:
        write_audit(conn, entity=entity, record_id=survivor_id, action=MERGE,
                    user_id=actor.id, version=now, changes={MERGED_KEY: [None, info]})
        return
    conn.execute(audit.update().where(audit.c.id == row.id).values(
        action=MERGE, changes={**(row.changes or {}), MERGED_KEY: [None, info]}))


def merged_into(conn: sa.Connection, entity: str, records: Iterable[Mapping[str, Any]]
                ) -> dict[int, dict[str, Any]]:
    """id -> {"id", "title"} of the record each of these deleted `records` was merged into
    (when their last deletion was that merge)."""
    wanted = {int(r["id"]): int(r["version"]) for r in records}
    if not wanted:
        return {}
    rows = conn.execute(sa.select(audit.c.record_id, audit.c.version, audit.c.changes).where(
        audit.c.entity == entity, audit.c.action == MERGED,
        audit.c.record_id.in_(sorted(wanted)))).all()
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        pair = (r.changes or {}).get(MERGED_INTO_KEY)
        if wanted.get(int(r.record_id)) == r.version and isinstance(pair, list) and pair \
                and isinstance(pair[-1], dict):
            out[int(r.record_id)] = dict(pair[-1])
    return out


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()
