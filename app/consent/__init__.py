"""Consent: what each contact agreed to be contacted for, and the gate marketing passes.

    from app.consent import refused_recipients
    refused = refused_recipients(conn, meta, ["a@example.com", "B@Example.com"],
                                 purpose="marketing", channel="email")
    # {"B@Example.com": "consent withdrawn on 2026-03-01"}: the others may receive it

Consents are records of the default pack's `consent` entity (schemas/consent.yaml): a contact,
a purpose (marketing, newsletter, events, product updates; a client may add more), a channel
(email, SMS, phone, WeChat, post), granted or withdrawn, when, where (source) and the evidence.
A contact is consented to a purpose by a channel when its LATEST consent record for that pair
(by when it was last granted or withdrawn) is granted. The contact's own flags win over any
consent: "Email opt-out" refuses email, "Do not call" refuses phone and SMS.

`refused_recipients` answers for many addresses in one query (per 1,000 addresses) and refuses
by default: an address no contact has, a contact without consent, a config without the
`consent` entity. Addresses are compared case-insensitively. No Flask here: the comms service
(app/comms/email.py) calls it for every message whose purpose is not "service", and the
campaign mail (app/consent/campaign.py) for its preview.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.fields import registry
from app.i18n import _, get_locale
from app.meta.types import EntityDef, Meta, label_text

CONSENT = "consent"
CONTACT = "contact"
GRANTED, WITHDRAWN = "granted", "withdrawn"
#: channel -> (the contact's fields holding its addresses, its opt-out flag for the channel)
CHANNELS: Mapping[str, tuple[tuple[str, ...], str | None]] = {
    "email": (("email",), "email_opt_out"),
    "sms": (("mobile",), "do_not_call"),
    "phone": (("phone", "mobile"), "do_not_call"),
    "wechat": (("wechat",), None),
    "mail": ((), None),
}
#: addresses asked about in one query
CHUNK = 1000
EPOCH = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Latest:
    """The consent that counts for one contact, purpose and channel."""

    consent_id: int
    status: str
    granted_at: datetime | None
    withdrawn_at: datetime | None
    source: str | None = None

    @property
    def moment(self) -> datetime | None:
        """When it was last granted or withdrawn."""
        return self.withdrawn_at if self.status == WITHDRAWN and self.withdrawn_at \
            else self.granted_at


def _aware(value: Any) -> Any:
    from app.records.attachments import aware

    return aware(value) if isinstance(value, datetime) else value


def _key(x: Latest) -> tuple[datetime, int]:
    return _aware(x.moment) or EPOCH, x.consent_id


def later(a: Latest | None, b: Latest) -> Latest:
    """The later of two consents (by their moment, then by id)."""
    return b if a is None or _key(b) > _key(a) else a


# --- tables of one config ---------------------------------------------------------------------
def _table(meta: Meta, e: EntityDef, names: Sequence[str]) -> sa.TableClause:
    """A lightweight table of `e` with the system columns and the columns of `names` (the
    field names become the column keys)."""
    cols: list[sa.ColumnClause[Any]] = [sa.column("id", sa.Integer),
                                        sa.column("deleted_at", sa.DateTime(timezone=True))]
    for name in names:
        f = e.fields.get(name)
        if f is None or f.type not in registry:
            continue
        ftype = registry.get(f.type)
        if not ftype.has_column or f.encrypted:
            continue
        col = ftype.column(f, e, meta)
        cols.append(sa.column(ftype.column_name(f), col.type if col is not None else None))
    return sa.table(e.table, *cols)


def column(table: sa.TableClause, e: EntityDef, name: str) -> sa.ColumnElement[Any] | None:
    f = e.fields.get(name)
    if f is None or f.type not in registry:
        return None
    key = registry.get(f.type).column_name(f)
    found: sa.ColumnElement[Any] | None = table.c.get(key)
    return found


def _or_null(col: sa.ColumnElement[Any] | None) -> sa.ColumnElement[Any]:
    return col if col is not None else sa.null()


def consent_table(meta: Meta) -> tuple[EntityDef, sa.TableClause] | None:
    e = meta.entities.get(CONSENT)
    if e is None or CONTACT not in meta.entities:
        return None
    return e, _table(meta, e, ("contact", "purpose", "channel", "status", "granted_at",
                         "withdrawn_at", "source"))


# --- reasons ----------------------------------------------------------------------------------
def choice_label(meta: Meta, field: str, value: str) -> str:
    """A purpose's or channel's label in the current language (in English starting lower case,
    as it sits in a sentence, unless it is an acronym or a brand)."""
    e = meta.entities.get(CONSENT)
    f = e.fields.get(field) if e is not None else None
    locale = get_locale()
    for c in (f.choices if f is not None else ()):
        if c.value == value:
            text = label_text(c.label, locale, value)
            if locale == "en" and text[1:] == text[1:].lower():  # "Email", not "SMS", "WeChat"
                return text[:1].lower() + text[1:]
            return text
    return value


def no_consent(meta: Meta, purpose: str, channel: str) -> str:
    return _("no consent for %(purpose)s by %(channel)s",
             purpose=choice_label(meta, "purpose", purpose),
             channel=choice_label(meta, "channel", channel))


def withdrawn_on(when: datetime | None) -> str:
    day = _aware(when).date().isoformat() if when is not None else "?"
    return _("consent withdrawn on %(date)s", date=day)


def opted_out(meta: Meta, channel: str) -> str:
    return _("opted out of %(channel)s", channel=choice_label(meta, "channel", channel))


def unknown_address() -> str:
    return _("no contact has this address")


# --- the gate ---------------------------------------------------------------------------------
def refused_recipients(conn: sa.Connection, meta: Meta, addresses: Sequence[str], *,
                       purpose: str, channel: str = "email") -> dict[str, str]:
    """address (as given) -> why it may not receive a message of `purpose` by `channel`;
    the addresses not in the answer may. See the module's docstring."""
    wanted: dict[str, list[str]] = {}
    for a in addresses:
        key = str(a).strip().lower()
        if key:
            wanted.setdefault(key, []).append(a)
    found = _contacts(conn, meta, list(wanted), purpose, channel)
    out: dict[str, str] = {}
    for key, given in wanted.items():
        reason = _reason(meta, found.get(key), purpose, channel)
        if reason is not None:
            out.update(dict.fromkeys(given, reason))
    for a in addresses:  # blank addresses: nobody has them
        if not str(a).strip():
            out[a] = unknown_address()
    return out


@dataclass
class _Contact:
    opted_out: bool = False
    latest: Latest | None = None


def _contacts(conn: sa.Connection, meta: Meta, keys: list[str], purpose: str, channel: str
              ) -> dict[str, dict[int, _Contact]]:
    """lower-case address -> contact id -> its opt-out flag and latest consent."""
    contact = meta.entities.get(CONTACT)
    fields, flag = CHANNELS.get(channel, ((), None))
    if contact is None or not keys:
        return {}
    ctable = _table(meta, contact, (*fields, *((flag,) if flag else ())))
    addr_cols = [c for c in (column(ctable, contact, n) for n in fields) if c is not None]
    if not addr_cols:
        return {}
    flag_col = column(ctable, contact, flag) if flag else None
    found = consent_table(meta)
    out: dict[str, dict[int, _Contact]] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        lowered = [sa.func.lower(c) for c in addr_cols]
        cols: list[Any] = [ctable.c.id.label("cid"),
                           *(low.label(f"a{i}") for i, low in enumerate(lowered)),
                           (flag_col if flag_col is not None else sa.literal(False)).label("opt")]
        src: Any = ctable
        if found is not None:
            e, k = found
            link, p, ch = (column(k, e, n) for n in ("contact", "purpose", "channel"))
            if link is not None and p is not None and ch is not None:
                src = ctable.outerjoin(k, sa.and_(link == ctable.c.id, k.c.deleted_at.is_(None),
                                                  p == purpose, ch == channel))
                cols += [k.c.id.label("kid"), *(_or_null(column(k, e, n)).label(n)
                                                for n in ("status", "granted_at",
                                                          "withdrawn_at", "source"))]
        stmt = sa.select(*cols).select_from(src).where(
            ctable.c.deleted_at.is_(None), sa.or_(*(low.in_(chunk) for low in lowered)))
        asked = set(chunk)
        for row in conn.execute(stmt):
            m = row._mapping
            for i in range(len(lowered)):
                key = m[f"a{i}"]
                if key not in asked:
                    continue
                c = out.setdefault(key, {}).setdefault(int(m["cid"]), _Contact())
                c.opted_out = c.opted_out or bool(m["opt"])
                if m.get("kid") is not None:
                    c.latest = later(c.latest, Latest(
                        int(m["kid"]), str(m["status"]), _aware(m["granted_at"]),
                        _aware(m["withdrawn_at"]), m["source"]))
    return out


def _reason(meta: Meta, contacts: Mapping[int, _Contact] | None, purpose: str,
            channel: str) -> str | None:
    """Why an address may not be written to (None: it may). Several contacts sharing it: an
    opt-out of any of them refuses; else one consented contact is enough."""
    if not contacts:
        return unknown_address()
    if any(c.opted_out for c in contacts.values()):
        return opted_out(meta, channel)
    latest = [c.latest for c in contacts.values() if c.latest is not None]
    if any(x.status == GRANTED for x in latest):
        return None
    withdrawn = [x for x in latest if x.status == WITHDRAWN]
    if withdrawn:
        last = max(withdrawn, key=lambda x: (_aware(x.withdrawn_at) or EPOCH, x.consent_id))
        return withdrawn_on(last.withdrawn_at)
    return no_consent(meta, purpose, channel)
