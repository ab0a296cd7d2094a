"""What one role may do on one entity, and what one user may do, with where each grant comes
from (so `crm access explain` can name the file).

A role's grant on an entity starts from nothing, takes the role's `default` from the access
file, then the entity's `permissions:` entry for the role, key by key. A user with several roles
gets the widest scope and any flag one of them grants; a field is hidden from the user only
when every role that may read the entity hides it (read-only likewise, among roles that may
edit). Formula fields built on a hidden field are hidden too. The `admin` role and the system
itself may do everything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.meta.access import ADMIN, FLAG_ACTIONS, SCOPED_ACTIONS, SCOPES
from app.meta.types import EntityDef, Meta, Source


@dataclass(frozen=True)
class Origin:
    """Where a grant value was written: a file position and the YAML path in it."""

    source: Source | None
    path: str

    def __str__(self) -> str:
        return f"{self.path} ({self.source})" if self.source else self.path


NOWHERE = Origin(None, "nothing grants it (deny by default)")


@dataclass(frozen=True)
class RoleGrant:
    """One role's effective grant on one entity."""

    role: str
    entity: str
    #: action -> scope (read/edit/delete) or bool (create/export/import)
    values: Mapping[str, Any]
    origins: Mapping[str, Origin]
    hidden: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()
    hidden_origin: Origin = NOWHERE
    read_only_origin: Origin = NOWHERE

    def scope(self, action: str) -> str:
        return str(self.values.get(action, "none"))

    def allows(self, action: str) -> bool:
        if action in SCOPED_ACTIONS:
            return self.scope(action) != "none"
        return bool(self.values.get(action, False))


def _entity_origin(meta: Meta, entity: EntityDef, role: str) -> Source:
    """Where the role's entry of the entity's `permissions:` is (the last layer that set it)."""
    sources = meta.provenance.get(f"{entity.name}/permissions/{role}") \
        or meta.provenance.get(f"{entity.name}/permissions") or ()
    return sources[-1] if sources else entity.source


def role_grant(meta: Meta, role: str, entity: EntityDef) -> RoleGrant:
    """The grant of `role` on `entity` (admin: everything)."""
    if role == ADMIN:
        admin = Origin(None, "the admin role may do everything")
        return RoleGrant(role, entity.name, {**dict.fromkeys(SCOPED_ACTIONS, "all"),
                                             **dict.fromkeys(FLAG_ACTIONS, True)},
                         {a: admin for a in (*SCOPED_ACTIONS, *FLAG_ACTIONS)})
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    roledef = meta.access.roles.get(role) if meta.access is not None else None
    if roledef is not None:
        for key, value in roledef.default.items():
            values[key] = value
            origins[key] = Origin(roledef.source, f"access.roles.{role}.default.{key}")
    own: Mapping[str, Any] = entity.permissions.get(role) or {}
    where = _entity_origin(meta, entity, role)
    for key, value in own.items():
        if key in (*SCOPED_ACTIONS, *FLAG_ACTIONS):
            values[key] = value
            origins[key] = Origin(where, f"{entity.name} permissions.{role}.{key}")
    return RoleGrant(
        role, entity.name, values, origins,
        hidden=frozenset(own.get("hidden", ())), read_only=frozenset(own.get("read_only", ())),
        hidden_origin=Origin(where, f"{entity.name} permissions.{role}.hidden"),
        read_only_origin=Origin(where, f"{entity.name} permissions.{role}.read_only"))


def widest(scopes: Iterable[str]) -> str:
    return max(scopes, key=SCOPES.index, default="none")


@dataclass
class EntityAccess:
    """What a set of roles may do on one entity (cached per config version and role set)."""

    entity: str
    grants: tuple[RoleGrant, ...]
    unrestricted: bool = False
    hidden: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()
    _scopes: dict[str, str] = field(default_factory=dict)

    def scope(self, action: str) -> str:
        """The widest scope of a scoped action (read, edit, delete)."""
        if action not in SCOPED_ACTIONS:
            raise ValueError(f"'{action}' has no scope: use allows() for create, export, import")
        if self.unrestricted:
            return "all"
        if action not in self._scopes:
            self._scopes[action] = widest(g.scope(action) for g in self.grants)
        return self._scopes[action]

    def allows(self, action: str) -> bool:
        return self.unrestricted or any(g.allows(action) for g in self.grants)

    def granting(self, action: str) -> RoleGrant | None:
        """The role grant that gives the widest scope (or the flag) for `action`."""
        best: RoleGrant | None = None
        for g in self.grants:
            if not g.allows(action):
                continue
            if action in FLAG_ACTIONS:
                return g
            if best is None or SCOPES.index(g.scope(action)) > SCOPES.index(best.scope(action)):
                best = g
        return best


def entity_access(meta: Meta, roles: Iterable[str], entity: EntityDef) -> EntityAccess:
    roles = tuple(sorted(set(roles)))
    if ADMIN in roles:
        return EntityAccess(entity.name, (role_grant(meta, ADMIN, entity),), unrestricted=True)
    grants = tuple(role_grant(meta, r, entity) for r in roles)
    readers = [g for g in grants if g.allows("read")]
    editors = [g for g in grants if g.allows("edit") or g.allows("create")]
    hidden = frozenset.intersection(*(g.hidden for g in readers)) if readers else frozenset()
    hidden = hidden | frozenset(rollups_on_hidden(meta, roles, entity))
    hidden = hidden | _formulas_on(entity, hidden)
    read_only = frozenset.intersection(*(g.read_only | g.hidden for g in editors)) \
        if editors else frozenset()
    return EntityAccess(entity.name, grants, hidden=hidden, read_only=read_only - hidden)


def rollups_on_hidden(meta: Meta, roles: Iterable[str], entity: EntityDef
                      ) -> dict[str, tuple[str, str]]:
    """Roll-ups that sum, compare or filter by a field of their child entity hidden from
    `roles` (their value would show it): name -> (child entity, hidden field read)."""
    from app.expr.parser import ExprError, parse

    out: dict[str, tuple[str, str]] = {}
    for f in entity:
        child = meta.entities.get(str(f.opt("entity"))) if f.type == "rollup" else None
        if child is None:
            continue
        readers = [g for g in (role_grant(meta, r, child) for r in roles) if g.allows("read")]
        hidden = frozenset.intersection(*(g.hidden for g in readers)) if readers else frozenset()
        hidden = hidden | _formulas_on(child, hidden)
        reads = {str(f.opt("field"))} if f.opt("field") else set()
        if isinstance(f.opt("where"), str):
            with contextlib.suppress(ExprError):
                reads |= parse(str(f.opt("where")), list(child.fields)).names
        if reads & hidden:
            out[f.name] = (child.name, sorted(reads & hidden)[0])
    return out


def _formulas_on(entity: EntityDef, hidden: frozenset[str]) -> frozenset[str]:
    """Computed fields whose expression reads a hidden field (directly or through another):
    showing them would show the hidden value."""
    if not hidden:
        return frozenset()
    from app.expr.parser import ExprError, parse

    out = set(hidden)
    changed = True
    while changed:
        changed = False
        for f in entity:
            source = f.opt("expr")
            if f.name in out or not isinstance(source, str):
                continue
            try:
                names = parse(source, list(entity.fields)).names
            except ExprError:
                continue
            if names & out:
                out.add(f.name)
                changed = True
    return frozenset(out - hidden)


def policy_cache(meta: Meta) -> dict[tuple[str, tuple[str, ...]], EntityAccess]:
    """Per config version: (entity, roles) -> EntityAccess, kept on the Meta object."""
    cache: dict[tuple[str, tuple[str, ...]], EntityAccess] | None = \
        getattr(meta, "_access_cache", None)
    if cache is None:
        cache = {}
        object.__setattr__(meta, "_access_cache", cache)
    return cache


def cached_entity_access(meta: Meta, roles: Iterable[str], entity: EntityDef) -> EntityAccess:
    key = (entity.name, tuple(sorted(set(roles))))
    cache = policy_cache(meta)
    found = cache.get(key)
    if found is None:
        found = cache.setdefault(key, entity_access(meta, key[1], entity))
    return found
