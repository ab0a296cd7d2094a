"""The objects a records operation passes around: who acts, and what changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.meta.types import EntityDef, Meta


@dataclass(frozen=True)
class Actor:
    """Who performs an operation. `id` is a sys_user id (None for the system itself)."""

    id: int | None
    username: str
    roles: tuple[str, ...] = ()
    locale: str = "en"

    @property
    def is_system(self) -> bool:
        return self.id is None


SYSTEM = Actor(None, "system", ("admin",))
#: nobody signed in: no role, so no grant (id 0 is never a user's)
ANONYMOUS = Actor(0, "anonymous", ())


@dataclass
class Change:
    """One create / update / delete / restore, as the hooks see it."""

    entity: EntityDef
    action: str  # create, update, delete, restore
    actor: Actor
    conn: sa.Connection
    #: the full record as it will be saved (field name -> Python value)
    values: dict[str, Any]
    #: the record before the change (empty for create)
    old: dict[str, Any] = field(default_factory=dict)
    #: the id (None before a create is written)
    id: int | None = None
    #: the saved record (after the write)
    record: dict[str, Any] = field(default_factory=dict)
    #: the config version the records service runs on (its models' Meta: webhooks,
    #: automations ...); None when a Change is made outside the service
    meta: Meta | None = None
    #: the records service doing a create or update (app.records.Records), for hooks that write
    #: linked records in the same transaction (a stage machine's `create_activity`); else None
    service: Any = None

    def changed(self) -> dict[str, tuple[Any, Any]]:
        """Field -> (old, new) for the fields this change sets to a different value."""
        return {k: (self.old.get(k), v) for k, v in self.values.items()
                if self.old.get(k) != v}


#: field types whose change of value is a transition (a stage machine's move)
STAGE_TYPES = frozenset({"picklist"})


def transitions(change: Change) -> dict[str, tuple[Any, Any]]:
    """Picklist fields that move in a create or update: field -> (old, new). On create the old
    value is None (entering the first stage)."""
    if change.action not in ("create", "update"):
        return {}
    stages = stage_fields(change.entity)
    old = change.old
    return {name: (old.get(name), value) for name, value in change.values.items()
            if name in stages and old.get(name) != value}


#: id(entity) -> (entity, its stage fields); asked twice per record written (imports: 100,000)
_STAGES: dict[int, tuple[EntityDef, frozenset[str]]] = {}


def stage_fields(entity: EntityDef) -> frozenset[str]:
    found = _STAGES.get(id(entity))
    if found is not None and found[0] is entity:
        return found[1]
    names = frozenset(f.name for f in entity if f.type in STAGE_TYPES)
    if len(_STAGES) > 10_000:
        _STAGES.clear()
    _STAGES[id(entity)] = (entity, names)
    return names
