"""Access checks on writes: may this actor change or delete this record, and which of the
fields they send may they see and change. (Reads are limited by `Records.select`.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.i18n import _
from app.records.change import Actor
from app.records.errors import Forbidden, NotFound
from app.records.values import EntitySpec, field_label

if TYPE_CHECKING:
    from app.records.service import Records


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()


def may(records: Records, conn: sa.Connection, entity: str, record_id: int, actor: Actor,
         action: str, *, deleted: bool = False) -> None:
    """Raise unless `actor` may `action` (edit, delete) this record: Forbidden when they
    may see it (or may not do that to any such record), NotFound when they may not see
    it either."""
    acc = records.access(actor)
    if acc.unrestricted:
        return
    label = records.entity(entity).plural_for(_locale())
    if not acc.allows(entity, action):
        raise Forbidden(_("You may not change %(entities)s.", entities=label)
                        if action == "edit" else
                        _("You may not delete %(entities)s.", entities=label))
    table = records.table(entity)
    alive = table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None)

    def reaches(kind: str) -> bool:
        where = acc.where(entity, kind)
        stmt = sa.select(table.c.id).where(table.c.id == record_id, alive)
        if where is not None:
            stmt = stmt.where(where)
        return conn.execute(stmt).first() is not None

    if reaches(action):
        return
    if acc.allows(entity, "read") and reaches("read"):
        raise Forbidden(_("You may see this record but not change it.")
                        if action == "edit" else
                        _("You may see this record but not delete it."))
    raise NotFound(_("%(entity)s #%(id)s does not exist or was deleted.",
                     entity=records.entity(entity).label_for(_locale()), id=record_id))

def may_transfer(records: Records, entity: str, owner_id: int | None, actor: Actor) -> None:
    """Raise Forbidden unless `actor`'s own edit scope reaches records owned by `owner_id`:
    a manual share or a sharing rule lets them change a record, not take it (or give it)
    away, which would give them what the share does not (delete, a share nobody can revoke)."""
    acc = records.access(actor)
    if acc.unrestricted:
        return
    owners = acc.owners(acc.entity(entity).scope("edit"))
    if owners is None or owner_id in owners:
        return
    raise Forbidden(_("You may change this record but not its owner."))


def visible_input(records: Records, entity: str, raw: Mapping[str, Any], actor: Actor
                   ) -> tuple[Mapping[str, Any], dict[str, list[str]]]:
    """`raw` without the fields `actor` may not see, and an error for each (worded like an
    unknown field: the request learns nothing about a field it may not see)."""
    hidden = records.access(actor).hidden(entity)
    if not hidden or not hidden & set(raw):
        return raw, {}
    return ({k: v for k, v in raw.items() if k not in hidden},
            {k: [_("There is no field '%(name)s'.", name=k)] for k in raw if k in hidden})

def read_only(records: Records, spec: EntitySpec, given: dict[str, Any],
                     stored: Mapping[str, Any], actor: Actor,
                     errors: dict[str, list[str]]) -> None:
    """Refuse a new value for a field that is read-only for `actor` (sending back the
    value it has is fine: API clients send whole records)."""
    for name in records.access(actor).read_only(spec.entity.name) & set(given):
        if given[name] == stored.get(name):
            del given[name]
        elif name not in errors:
            f = spec.entity.fields[name]
            errors[name] = [_("%(field)s is read-only for you.", field=field_label(f))]
