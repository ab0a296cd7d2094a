"""Finding duplicates: groups of live records that a duplicate rule (workflows/*.yaml
`duplicates:`, app/meta/duplicates.py) says are the same, among those the acting user may read.

A rule whose normalisers are all `exact` or `email` is grouped by the database (GROUP BY on the
column, or on lower(trim(column)) for emails) and the candidates it returns are checked in
Python. Rules with `text`, `phone` or `company` read the rule's columns of every live record once,
streamed (fine up to about 100,000 records: docs/duplicates.md), and group them in Python.
Pairs a user dismissed ("not duplicates", app/dedupe/dismiss.py) split a group: what is left
are the records still linked by a pair nobody dismissed.

`duplicates_of` is the cheap check of one record's page: per rule one query pre-filtered in SQL
(equal columns, or LIKE on the key's characters in order), the candidates compared by key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.dedupe.dismiss import dismissed_pairs
from app.dedupe.normalize import key as norm_key
from app.dedupe.normalize import like_pattern
from app.i18n import _
from app.meta.duplicates import TEXT_TYPES, DuplicateRule, rules_of
from app.meta.types import EntityDef
from app.records import Actor, Forbidden, NotFound, Records

#: groups `find` returns unless told otherwise, and at most
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: rows read at a time by a streamed scan
SCAN_BATCH = 5000
#: records of one group kept (a value shared by thousands of records is no duplicate)
MAX_GROUP = 100
#: candidates one record's check reads per rule
PER_RECORD = 50


@dataclass(frozen=True)
class Group:
    """Records a rule says are the same: `key` is the rule's normalised values."""

    rule: str
    key: tuple[Any, ...]
    ids: tuple[int, ...]
    #: the records as the acting user may see them, in `ids` order (filled by `find`)
    records: tuple[dict[str, Any], ...] = field(default=(), compare=False)


def reader(rs: Records, actor: Actor) -> Records:
    """A records service reading as `actor` (`rs` itself when it already does)."""
    if rs.actor == actor:
        return rs
    return Records(rs.engine, rs.models, plugins=rs.plugins, registry=rs.registry, actor=actor)


def may_merge(rs: Records, actor: Actor, entity: str) -> None:
    """Raise Forbidden unless `actor` may find and merge duplicates of `entity` (the `merge`
    grant; admins always)."""
    e = rs.entity(entity)
    if not rs.access(actor).allows(entity, "merge"):
        raise Forbidden(_("You may not merge %(entities)s.", entities=e.plural_for(
            actor.locale)))


def mergeable(rs: Records, actor: Actor) -> list[EntityDef]:
    """Entities with duplicate rules whose duplicates `actor` may merge, in menu order."""
    acc = rs.access(actor)
    with_rules = {r.entity for r in rules_of(rs.meta)}
    return [e for e in rs.meta.entities.values()
            if e.name in with_rules and acc.allows(e.name, "merge") and acc.allows(e.name, "read")]


def rules_for(rs: Records, actor: Actor, entity: str, rule: str | None = None
              ) -> list[DuplicateRule]:
    """The entity's rules `actor` may use (not on fields hidden from them); `rule` picks one
    (NotFound when the entity has no such rule)."""
    found = rules_of(rs.meta, entity)
    if rule is not None:
        found = [r for r in found if r.name == rule]
        if not found:
            names = ", ".join(r.name for r in rules_of(rs.meta, entity)) or "-"
            raise NotFound(_("%(entity)s has no duplicate rule '%(rule)s' (its rules: "
                             "%(names)s).", entity=rs.entity(entity).label_for(actor.locale),
                             rule=rule[:60], names=names))
    hidden = rs.access(actor).hidden(entity)
    return [r for r in found if not set(r.fields) & hidden]


def _columns(rs: Records, rule: DuplicateRule) -> list[sa.ColumnElement[Any]]:
    table = rs.table(rule.entity)
    spec = rs.spec(rule.entity)
    return [table.c[spec.columns[m.field]].label(m.field) for m in rule.match]


def _base(rs: Records, actor: Actor, rule: DuplicateRule) -> sa.Select[Any]:
    """id and the rule's columns of the live records `actor` may read."""
    table = rs.table(rule.entity)
    stmt = sa.select(table.c.id, *_columns(rs, rule)).where(table.c.deleted_at.is_(None))
    where = reader(rs, actor).readable(rule.entity)
    return stmt if where is None else stmt.where(where)


def keys_of(rs: Records, rule: DuplicateRule, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The rule's key of a record (None when a match field is empty)."""
    e = rs.entity(rule.entity)
    out = []
    for m in rule.match:
        k = norm_key(m.normalize, e.fields[m.field], values.get(m.field))
        if k is None:
            return None
        out.append(k)
    return tuple(out)


def _in_sql(rule: DuplicateRule) -> bool:
    return all(m.normalize in ("exact", "email") for m in rule.match)


def _candidates(rs: Records, actor: Actor, rule: DuplicateRule) -> sa.Select[Any]:
    """The rows worth keying: every live readable one, or (rules the database can group) those
    sharing their grouped values with another."""
    stmt = _base(rs, actor, rule)
    if not _in_sql(rule):
        return stmt
    table = rs.table(rule.entity)
    spec = rs.spec(rule.entity)
    e = rs.entity(rule.entity)
    exprs: list[sa.ColumnElement[Any]] = []
    for m in rule.match:
        col = table.c[spec.columns[m.field]]
        exprs.append(sa.func.lower(sa.func.trim(col)) if m.normalize == "email" else col)
        stmt = stmt.where(col.is_not(None))
        if e.fields[m.field].type in TEXT_TYPES:
            stmt = stmt.where(col != "")
    names = [f"k{i}" for i in range(len(exprs))]
    shared = (stmt.with_only_columns(*(x.label(n) for x, n in zip(exprs, names, strict=True)))
              .group_by(*exprs).having(sa.func.count() > 1).subquery("shared"))
    return stmt.join(shared, sa.and_(*(x == shared.c[n] for x, n in
                                       zip(exprs, names, strict=True))))


def rule_groups(rs: Records, actor: Actor, rule: DuplicateRule) -> list[Group]:
    """Every group of `rule` among the live records `actor` may read (dismissals ignored)."""
    by_key: dict[tuple[Any, ...], list[int]] = {}
    stmt = _candidates(rs, actor, rule).order_by(rs.table(rule.entity).c.id)
    with rs.engine.connect() as conn:
        result = conn.execution_options(yield_per=SCAN_BATCH).execute(stmt)
        for row in result.mappings():
            k = keys_of(rs, rule, dict(row))
            if k is not None:
                ids = by_key.setdefault(k, [])
                if len(ids) < MAX_GROUP:
                    ids.append(int(row["id"]))
    return [Group(rule.name, k, tuple(ids)) for k, ids in by_key.items() if len(ids) > 1]


def split(groups: Iterable[Group], dismissed: set[tuple[int, int]]) -> list[Group]:
    """Groups without dismissed pairs: each group's records linked by a pair nobody dismissed
    (connected components), those of two or more."""
    out: list[Group] = []
    for g in groups:
        if not dismissed:
            out.append(g)
            continue
        parent = {i: i for i in g.ids}
        for n, a in enumerate(g.ids):
            for b in g.ids[n + 1:]:
                if (min(a, b), max(a, b)) not in dismissed:
                    parent[_root(parent, a)] = _root(parent, b)
        parts: dict[int, list[int]] = {}
        for i in g.ids:
            parts.setdefault(_root(parent, i), []).append(i)
        out += [Group(g.rule, g.key, tuple(ids)) for ids in parts.values() if len(ids) > 1]
    return out


def _root(parent: dict[int, int], i: int) -> int:
    """The representative of `i`'s component (union-find with path halving)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def find(rs: Records, actor: Actor, entity: str, rule: str | None = None,
         limit: int = DEFAULT_LIMIT) -> list[Group]:
    """Groups of duplicates of `entity` (by one rule, or by each of its rules), smallest id
    first, at most `limit`; each with its records as `actor` may see them. The same records
    found by two rules are one group (the first rule's)."""
    may_merge(rs, actor, entity)
    limit = max(1, min(int(limit), MAX_LIMIT))
    found: list[Group] = []
    for r in rules_for(rs, actor, entity, rule):
        found += rule_groups(rs, actor, r)
    with rs.engine.connect() as conn:
        dismissed = dismissed_pairs(conn, entity)
    seen: set[frozenset[int]] = set()
    unique: list[Group] = []
    for g in split(found, dismissed):
        ids = frozenset(g.ids)
        if ids not in seen:
            seen.add(ids)
            unique.append(g)
    unique.sort(key=lambda g: (min(g.ids), g.rule))
    shown = unique[:limit]
    records = load(rs, actor, entity, [i for g in shown for i in g.ids])
    return [Group(g.rule, g.key, g.ids, tuple(records[i] for i in g.ids if i in records))
            for g in shown]


def load(rs: Records, actor: Actor, entity: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """id -> record as `actor` may see it (live ones only)."""
    if not ids:
        return {}
    view = reader(rs, actor)
    table = rs.table(entity)
    out: dict[int, dict[str, Any]] = {}
    wanted = sorted(set(ids))
    with rs.engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            stmt = view.select(entity).where(table.c.id.in_(wanted[start:start + 500]),
                                             table.c.deleted_at.is_(None))
            out.update({int(r["id"]): dict(r) for r in conn.execute(stmt).mappings()})
    return out


def duplicates_of(rs: Records, actor: Actor, entity: str, record: Mapping[str, Any]
                  ) -> list[int]:
    """Ids of the live records (that `actor` may read) some rule says are duplicates of
    `record`, not dismissed with it; [] when `actor` may not merge `entity`. A few queries."""
    if not rs.access(actor).allows(entity, "merge"):
        return []
    rules = rules_for(rs, actor, entity)
    if not rules:
        return []
    record_id = int(record["id"])
    table = rs.table(entity)
    spec = rs.spec(entity)
    found: set[int] = set()
    with rs.engine.connect() as conn:
        for rule in rules:
            mine = keys_of(rs, rule, record)
            if mine is None:
                continue
            stmt = _base(rs, actor, rule).where(table.c.id != record_id)
            for m, k in zip(rule.match, mine, strict=True):
                col = table.c[spec.columns[m.field]]
                pattern = like_pattern(m.normalize, k)
                stmt = stmt.where(col == record.get(m.field) if pattern is None else
                                  sa.func.lower(col).like(pattern, escape="\\"))
            for row in conn.execute(stmt.order_by(table.c.id).limit(PER_RECORD)).mappings():
                if keys_of(rs, rule, dict(row)) == mine:
                    found.add(int(row["id"]))
        if found:
            dismissed = dismissed_pairs(conn, entity, record_id)
            found = {i for i in found if (min(i, record_id), max(i, record_id)) not in dismissed}
    return sorted(found)
