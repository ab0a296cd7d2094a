"""Checks of the records service that read other rows: links point at live records the user
may see, unique values, `on_delete: restrict`, and the conflict a stale write gets (what the
others changed since)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.i18n import _
from app.model.system import audit, users
from app.records.change import Change
from app.records.errors import Conflict, ConflictInfo, RecordError, TheirChange
from app.records.values import EntitySpec, field_label

if TYPE_CHECKING:
    from app.records.service import Records


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()


def check_links(records: Records, conn: sa.Connection, spec: EntitySpec, change: Change,
                errors: dict[str, list[str]]) -> None:
    """Lookups name live records the acting user may read; users exist."""
    for f in spec.writable:
        value = change.values.get(f.name)
        if value is None or f.name in errors or change.old.get(f.name) == value:
            continue
        if f.type in ("lookup", "master_detail"):
            target = records.models.tables.get(str(f.opt("to")))
            if target is None:
                continue
            stmt = sa.select(target.c.id).where(target.c.id == value,
                                                target.c.deleted_at.is_(None))
            acc = records.access(change.actor)
            to = str(f.opt("to"))
            if not acc.unrestricted:  # a link only to a record the user may see
                where = acc.where(to, "read") if acc.allows(to, "read") else sa.false()
                stmt = stmt if where is None else stmt.where(where)
            found = conn.execute(stmt).first()
            if found is None:
                errors[f.name] = [_("%(field)s: there is no %(entity)s #%(id)s.",
                                    field=field_label(f), id=value,
                                    entity=records.entity(str(f.opt("to"))).label_for(_locale()))]
        elif f.type == "user" and not conn.execute(
                sa.select(users.c.id).where(users.c.id == value)).first():
            errors[f.name] = [_("There is no user with id %(id)s.", id=value)]


def check_unique(records: Records, conn: sa.Connection, spec: EntitySpec, change: Change,
                 errors: dict[str, list[str]]) -> None:
    """`unique: true` fields hold a value no other record has."""
    table = records.table(spec.entity.name)
    for f in spec.writable:
        value = change.values.get(f.name)
        if not f.unique or value is None or f.name in errors:
            continue
        col = table.c[spec.columns[f.name]]
        stmt = sa.select(table.c.id).where(col == value)
        if change.id is not None:
            stmt = stmt.where(table.c.id != change.id)
        if conn.execute(stmt.limit(1)).first():
            errors[f.name] = [_("%(field)s must be unique: another record already has "
                                "%(value)s.", field=field_label(f), value=repr(value))]


def check_restrict(records: Records, conn: sa.Connection, entity: str, record_id: int) -> None:
    """Lookups with `on_delete: restrict` keep their target: a record that live records
    still point to through such a lookup cannot be deleted. (Other lookups keep their link
    while the target is in the recycle bin, so a restore finds everything as it was.)"""
    for e in records.meta:
        for f in e:
            restricts = f.type == "lookup" and f.opt("to") == entity \
                and f.opt("on_delete") == "restrict"
            if not restricts or f.name not in records.spec(e.name).columns:
                continue
            table = records.table(e.name)
            col = table.c[records.spec(e.name).columns[f.name]]
            count = conn.execute(sa.select(sa.func.count()).select_from(table).where(
                col == record_id, table.c.deleted_at.is_(None))).scalar_one()
            if count:
                raise RecordError(_(
                    "This record cannot be deleted: %(count)s %(entities)s still refer to it "
                    "through %(field)s. Change or delete those first.", count=count,
                    entities=e.plural_for(_locale()), field=field_label(f)))


def conflict(records: Records, conn: sa.Connection, entity: str, current: dict[str, Any],
             since: int, hidden: frozenset[str] = frozenset()) -> Conflict:
    """The refusal of a write that started from version `since`: what the others changed
    since (fields in `hidden` left out), and who."""
    rows = conn.execute(
        sa.select(audit.c.changes, audit.c.at, audit.c.action, users.c.username)
        .select_from(audit.outerjoin(users, users.c.id == audit.c.user_id))
        .where(audit.c.entity == entity, audit.c.record_id == current["id"],
               audit.c.version > since).order_by(audit.c.id)).all()
    theirs: dict[str, TheirChange] = {}
    for r in rows:
        for name, pair in (r.changes or {}).items():
            if name in hidden:
                continue
            first = theirs.get(name)
            theirs[name] = TheirChange(name, first.old if first else pair[0], pair[1],
                                       r.username, r.at)
    who = ", ".join(sorted({r.username or _("the system") for r in rows})) \
        or _("Someone else")
    message = _("%(who)s changed this record after you opened it; nothing was saved. "
                "Review their changes and apply yours again.", who=who)
    return Conflict(message, ConflictInfo(current, list(theirs.values())))
