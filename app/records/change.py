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
    return {name: pair for name, pair in change.changed().items()
            if name in change.entity.fields and change.entity.fields[name].type in STAGE_TYPES}
