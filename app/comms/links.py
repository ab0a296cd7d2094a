"""Which records an email concerns, and whom an email from a record goes to by default.

`related_links` fills the `related_<entity>` lookups of a logged email: the record it is sent
from, the records that record looks up (a deal's account and primary contact, a quote's
opportunity), and the contacts found by the recipients' addresses with their accounts, so the
email shows in all their timelines. Only records the sender may read are linked (the records
service refuses a link to anything else).

`default_recipients` is what the compose page proposes: the record's own email field, else its
contact's address, else its account's (or that account's first contact with an address).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from app.meta.types import EntityDef, FieldDef
from app.records import Actor, Forbidden, NotFound, Records

CONTACT = "contact"
ACCOUNT = "account"
LINKS = ("lookup", "master_detail")
#: contacts matched by address, at most
MAX_MATCHES = 20


def link_fields(rs: Records, child: str) -> dict[str, str]:
    """Target entity -> the first lookup field of `child` pointing at it."""
    out: dict[str, str] = {}
    e = rs.meta.entities.get(child)
    if e is None:
        return out
    columns = rs.spec(child).columns
    for f in e:
        if f.type in LINKS and f.name in columns and str(f.opt("to")) in rs.meta.entities:
            out.setdefault(str(f.opt("to")), f.name)
    return out


def email_fields(e: EntityDef, columns: Sequence[str] | None = None) -> list[FieldDef]:
    """The email fields of an entity that can be searched (stored, not encrypted)."""
    return [f for f in e if f.type == "email" and not f.encrypted
            and (columns is None or f.name in columns)]


def _first_link(e: EntityDef, to: str) -> FieldDef | None:
    return next((f for f in e if f.type in LINKS and f.opt("to") == to), None)


def contacts_by_address(rs: Records, conn: sa.Connection, actor: Actor,
                        addresses: Sequence[str]) -> list[dict[str, Any]]:
    """Live contacts `actor` may read whose address is one of `addresses` (any case): their
    id and account id (`account`), oldest first."""
    e = rs.meta.entities.get(CONTACT)
    acc = rs.access(actor)
    if e is None or not addresses or not acc.allows(CONTACT, "read"):
        return []
    columns = rs.spec(CONTACT).columns
    fields = [f for f in email_fields(e, list(columns)) if f.name not in acc.hidden(CONTACT)]
    if not fields:
        return []
    table = rs.table(CONTACT)
    lowered = sorted({a.lower() for a in addresses})
    account = _first_link(e, ACCOUNT)
    cols: list[sa.ColumnElement[Any]] = [table.c.id]
    if account is not None and account.name in columns:
        cols.append(table.c[columns[account.name]].label("account"))
    stmt = sa.select(*cols).where(
        sa.or_(*(sa.func.lower(table.c[columns[f.name]]).in_(lowered) for f in fields)),
        table.c.deleted_at.is_(None)).order_by(table.c.id).limit(MAX_MATCHES)
    where = acc.where(CONTACT, "read")
    if where is not None:
        stmt = stmt.where(where)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def related_links(rs: Records, conn: sa.Connection, actor: Actor, child: str,
                  entity: str | None, record: dict[str, Any] | None,
                  addresses: Sequence[str]) -> dict[str, int]:
    """Field of `child` (the email entity) -> the record id it links to (see the module)."""
    fields = link_fields(rs, child)
    if not fields:
        return {}
    found: dict[str, int] = {}
    if entity is not None and record is not None:
        if entity in fields:
            found[entity] = int(record["id"])
        for f in rs.entity(entity):
            to = str(f.opt("to"))
            value = record.get(f.name)
            if f.type in LINKS and to in fields and to not in found \
                    and isinstance(value, int) and not isinstance(value, bool):
                found[to] = value
    for match in contacts_by_address(rs, conn, actor, addresses):
        found.setdefault(CONTACT, int(match["id"]))
        if match.get("account") is not None:
            found.setdefault(ACCOUNT, int(match["account"]))
        if CONTACT in found and ACCOUNT in found:
            break
    readable = _readable(rs, conn, actor, found)
    return {fields[to]: rid for to, rid in found.items() if (to, rid) in readable}


def _readable(rs: Records, conn: sa.Connection, actor: Actor, found: dict[str, int]
              ) -> set[tuple[str, int]]:
    acc = rs.access(actor)
    out: set[tuple[str, int]] = set()
    for to, rid in found.items():
        if not acc.allows(to, "read"):
            continue
        table = rs.table(to)
        stmt = sa.select(table.c.id).where(table.c.id == rid, table.c.deleted_at.is_(None))
        where = acc.where(to, "read")
        if conn.execute(stmt if where is None else stmt.where(where)).first() is not None:
            out.add((to, rid))
    return out


# --- whom to write to ------------------------------------------------------------------------
def can_email(rs: Records, entity: str) -> bool:
    """Whether records of `entity` have someone to write to: an email field, a lookup to a
    contact or to an entity with an email field, or contacts pointing at them."""
    e = rs.meta.entities.get(entity)
    if e is None or entity == "email":
        return False
    if email_fields(e):
        return True
    for f in e:
        to = rs.meta.entities.get(str(f.opt("to"))) if f.type in LINKS else None
        if to is not None and (to.name == CONTACT or email_fields(to)):
            return True
    contact = rs.meta.entities.get(CONTACT)
    return contact is not None and _first_link(contact, entity) is not None


def _own_address(rs: Records, entity: str, record: dict[str, Any]) -> str | None:
    for f in email_fields(rs.entity(entity)):
        value = record.get(f.name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _linked(rs: Records, to: str, rid: Any) -> dict[str, Any] | None:
    if not isinstance(rid, int) or isinstance(rid, bool) or to not in rs.meta.entities:
        return None
    try:
        return rs.get(to, rid)
    except (NotFound, Forbidden):  # gone, or they may not see it
        return None


def _first_contact_of(rs: Records, entity: str, record_id: int) -> str | None:
    """The address of the oldest contact pointing at the record that has one."""
    contact = rs.meta.entities.get(CONTACT)
    link = _first_link(contact, entity) if contact is not None else None
    if contact is None or link is None or not rs.access().allows(CONTACT, "read"):
        return None
    columns = rs.spec(CONTACT).columns
    fields = [f for f in email_fields(contact, list(columns))
              if f.name not in rs.hidden(CONTACT)]
    if not fields or link.name not in columns:
        return None
    table = rs.table(CONTACT)
    col = table.c[columns[fields[0].name]]
    stmt = (rs.select(CONTACT).where(table.c[columns[link.name]] == record_id,
                                     table.c.deleted_at.is_(None), col.is_not(None), col != "")
            .order_by(table.c.id).limit(1))
    with rs.engine.connect() as conn:
        row = conn.execute(stmt).first()
    return str(row._mapping[fields[0].name]).strip() if row is not None else None


def default_recipients(rs: Records, entity: str, record: dict[str, Any]) -> list[str]:
    """The address(es) the compose page proposes for an email from `record` (read as the
    records service's actor: only what they may see)."""
    own = _own_address(rs, entity, record)
    if own:
        return [own]
    e = rs.entity(entity)
    for f in e:
        if f.type in LINKS and f.opt("to") == CONTACT:
            linked = _linked(rs, CONTACT, record.get(f.name))
            address = _own_address(rs, CONTACT, linked) if linked else None
            if address:
                return [address]
    if entity == ACCOUNT:
        found = _first_contact_of(rs, ACCOUNT, int(record["id"]))
        return [found] if found else []
    for f in e:
        if f.type in LINKS and f.opt("to") == ACCOUNT:
            linked = _linked(rs, ACCOUNT, record.get(f.name))
            if linked is None:
                continue
            address = _own_address(rs, ACCOUNT, linked) \
                or _first_contact_of(rs, ACCOUNT, int(linked["id"]))
            if address:
                return [address]
    return []
