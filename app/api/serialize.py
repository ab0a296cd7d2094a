"""Records as API JSON: every field by name (values as their type's `to_json`), the system
keys, a chosen subset of fields, and expanded lookups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.i18n import _
from app.meta.types import EntityDef, FieldDef
from app.model.system import users
from app.records import Records
from app.records.query import REFERENCE_TYPES, QueryError

#: keys every API record has, besides its fields: key -> the record service's key
SYSTEM_KEYS: Mapping[str, str] = {
    "id": "id", "version": "version", "created_at": "created_at", "updated_at": "updated_at",
    "owner": "owner_id", "created_by": "created_by_id", "updated_by": "updated_by_id",
}
#: the keys a `fields=` selection always keeps
ALWAYS = ("id", "version")
#: reference-like keys that `expand=` accepts besides lookup fields
USER_KEYS = ("owner", "created_by", "updated_by")


def api_fields(records: Records, entity: EntityDef) -> list[FieldDef]:
    """The fields the API shows: those with a value in the record (columns and formulas),
    but those hidden from the caller."""
    columns = records.spec(entity.name).columns
    hidden = records.hidden(entity.name)
    return [f for f in entity if f.name not in hidden
            and (f.name in columns or records.registry.get(f.type).computed)]


def parse_names(raw: str | None, allowed: Iterable[str], what: str) -> list[str]:
    """`a,b,c` -> names, each checked against `allowed` (400 naming the unknown one)."""
    if not raw:
        return []
    known = set(allowed)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        if name not in known:
            raise QueryError(_("'%(name)s' cannot be used in %(param)s: use one of %(known)s.",
                               name=name[:60], param=what, known=", ".join(sorted(known))))
    return list(dict.fromkeys(names))


def to_json(records: Records, entity: EntityDef, record: Mapping[str, Any],
            only: Sequence[str] = (), fields: Sequence[FieldDef] | None = None
            ) -> dict[str, Any]:
    """The API form of a record: system keys, every field (`fields`, when the caller computed
    `api_fields` once for many rows), and the `x_` keys plugins add on read."""
    out: dict[str, Any] = {}
    for key, source in SYSTEM_KEYS.items():
        value = record.get(source)
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    for f in api_fields(records, entity) if fields is None else fields:
        value = record.get(f.name)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # stored in UTC; SQLite forgets the zone
        out[f.name] = records.registry.get(f.type).to_json(f, value)
    for key in ("created_at", "updated_at"):
        value = record.get(key)
        if isinstance(value, datetime):
            out[key] = (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    for key, value in record.items():
        if key.startswith("x_"):
            out[key] = value
    if only:
        keep = set(only) | set(ALWAYS)
        out = {k: v for k, v in out.items() if k in keep}
    return out


def expandable(records: Records, entity: EntityDef) -> list[str]:
    return [f.name for f in api_fields(records, entity) if f.type in REFERENCE_TYPES] + list(
        USER_KEYS)


def expand(records: Records, entity: EntityDef, rows: list[dict[str, Any]],
           names: Sequence[str]) -> None:
    """Add `expanded: {field: record}` to each JSON row for the lookup fields in `names`
    (one query per field); users are expanded to id, username and full name."""
    if not names or not rows:
        return
    found: dict[str, dict[int, dict[str, Any]]] = {}
    with records.engine.connect() as conn:
        for name in names:
            ids = sorted({int(r[name]) for r in rows if r.get(name) is not None})
            f = entity.fields.get(name)
            if f is None or f.type == "user":
                found[name] = _users(conn, ids)
            else:
                target = records.visible_entity(str(f.opt("to")))
                if not records.access().allows(target.name, "read"):
                    found[name] = {}  # a lookup's target the caller may not read
                    continue
                table = records.table(target.name)
                stmt = records.select(target.name).where(table.c.id.in_(ids),
                                                         table.c.deleted_at.is_(None))
                found[name] = {int(r.id): to_json(records, target, records.to_record(r))
                               for r in conn.execute(stmt)} if ids else {}
    for row in rows:
        row["expanded"] = {name: found[name].get(row[name]) if row.get(name) is not None
                           else None for name in names}


def _users(conn: sa.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    stmt = sa.select(users.c.id, users.c.username, users.c.full_name).where(users.c.id.in_(ids))
    return {int(r.id): {"id": r.id, "username": r.username, "full_name": r.full_name}
            for r in conn.execute(stmt)}
