"""Marketing email to the members of a campaign, through the consent gate (no Flask).

    aud = audience(rs, actor, campaign_id)        # who would receive it, who is left out, why
    done = send(rs, actor, campaign_id, "Spring offer", "Dear customer, ...",
                settings=ctx.settings)            # one email per receiving member
    enqueue_pending(ctx)                          # after it: the task queue sends the mails

The members are the campaign's live `campaign_member` records the user may see, each with its
contact's (or lead's) email address. A member is left out, with the reason, when it has no
contact or lead, no address, shares its address with a member already receiving it, or when
the consent gate (`app.consent.refused_recipients`, purpose "marketing", channel "email")
refuses its address: no consent, consent withdrawn, opted out, no contact with that address.

Sending needs the right to edit the campaign. Each receiving member gets its own message
(`app.comms.email.send_email`, purpose "marketing", kind "campaign"), logged as an `email`
record on the contact (or lead), in one transaction with the members' `sent_at`; the gate is
asked again for each message, so a consent withdrawn in the meantime still stops it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app import clock
from app.consent import refused_recipients, unknown_address
from app.i18n import _, get_locale
from app.records import Actor, Forbidden, NotFound, RecordError, Records, ValidationFailed
from app.records.change import SYSTEM

if TYPE_CHECKING:
    from app.settings import Settings

CAMPAIGN = "campaign"
MEMBER = "campaign_member"
#: the purpose and the kind of the messages
PURPOSE = "marketing"
KIND = "campaign"
#: the most members one send writes to (each is a message, an email record and a mail)
MAX_MEMBERS = 2000
MAX_SUBJECT = 255
MAX_BODY = 100_000


@dataclass(frozen=True)
class Recipient:
    """One member: who, the record its address comes from, the address, and why it is left
    out (None: it receives the message)."""

    member_id: int
    name: str
    entity: str | None
    record_id: int | None
    address: str | None
    reason: str | None = None


@dataclass
class Audience:
    campaign_id: int
    title: str
    recipients: list[Recipient]

    @property
    def receiving(self) -> list[Recipient]:
        return [r for r in self.recipients if r.reason is None]

    @property
    def excluded(self) -> list[Recipient]:
        return [r for r in self.recipients if r.reason is not None]


@dataclass
class Outcome:
    """What `send` did (or, with `dry_run`, would do)."""

    audience: Audience
    sent: list[Recipient] = field(default_factory=list)
    blocked: list[Recipient] = field(default_factory=list)
    email_ids: list[int] = field(default_factory=list)
    dry_run: bool = False


def _locale() -> str:
    return get_locale()


def _campaign(rs: Records, actor: Actor, campaign_id: int, conn: sa.Connection
              ) -> dict[str, Any]:
    """The campaign as `actor` may see it; Forbidden unless they may edit it."""
    e = rs.entity(CAMPAIGN)
    acc = rs.access(actor)
    if not acc.allows(CAMPAIGN, "read"):
        raise Forbidden(_("You may not see %(entities)s.", entities=e.plural_for(_locale())))
    table = rs.table(CAMPAIGN)
    stmt = rs.full_select(CAMPAIGN, acc.hidden(CAMPAIGN)).where(
        table.c.id == campaign_id, table.c.deleted_at.is_(None))
    where = acc.where(CAMPAIGN, "read")
    row = conn.execute(stmt if where is None else stmt.where(where)).first()
    if row is None:
        raise NotFound(_("%(entity)s #%(id)s does not exist or was deleted.",
                         entity=e.label_for(_locale()), id=campaign_id))
    edit = acc.where(CAMPAIGN, "edit") if acc.allows(CAMPAIGN, "edit") else sa.false()
    check = sa.select(table.c.id).where(table.c.id == campaign_id)
    if conn.execute(check if edit is None else check.where(edit)).first() is None:
        raise Forbidden(_("You may not email the members of this campaign (it needs the right "
                          "to edit it)."))
    return rs.to_record(row)


def _readable_ids(rs: Records, actor: Actor, entity: str, ids: list[int],
                  conn: sa.Connection) -> set[int]:
    acc = rs.access(actor)
    if not ids or entity not in rs.meta.entities or not acc.allows(entity, "read"):
        return set()
    table = rs.table(entity)
    stmt = sa.select(table.c.id).where(table.c.id.in_(ids), table.c.deleted_at.is_(None))
    where = acc.where(entity, "read")
    return {int(i) for i in conn.execute(stmt if where is None else stmt.where(where)).scalars()}


def _addresses(rs: Records, entity: str, ids: list[int], conn: sa.Connection
               ) -> dict[int, str | None]:
    """id -> email address of live `entity` records (contacts, leads)."""
    e = rs.meta.entities.get(entity)
    if e is None or not ids or "email" not in rs.spec(entity).columns:
        return {}
    table = rs.table(entity)
    col = table.c[rs.spec(entity).columns["email"]]
    rows = conn.execute(sa.select(table.c.id, col).where(table.c.id.in_(ids),
                                                         table.c.deleted_at.is_(None)))
    return {int(r[0]): (str(r[1]).strip() or None) if r[1] else None for r in rows}


def audience(rs: Records, actor: Actor, campaign_id: int) -> Audience:
    """Who a message to the campaign's members would reach, and who is left out and why."""
    with rs.engine.connect() as conn:
        camp = _campaign(rs, actor, campaign_id, conn)
        rows = _members(rs, actor, campaign_id, conn)
        cols = rs.spec(MEMBER).columns
        contact_ids = [int(r["contact"]) for r in rows if r.get("contact")]
        lead_ids = [int(r["lead"]) for r in rows if r.get("lead") and not r.get("contact")]
        contacts = _addresses(rs, "contact", contact_ids, conn)
        leads = _addresses(rs, "lead", lead_ids, conn)
        titles = {"contact": rs.titles("contact", contact_ids, conn) if contact_ids else {},
                  "lead": rs.titles("lead", lead_ids, conn) if lead_ids else {}}
        found: list[Recipient] = []
        for r in rows:
            entity, rid = (("contact", int(r["contact"])) if r.get("contact") else
                           ("lead", int(r["lead"])) if r.get("lead") else (None, None))
            name = str(r.get("member_name") or "") if "member_name" in cols else ""
            if entity is not None and rid is not None:
                name = name or titles[entity].get(rid, "").strip() or f"#{rid}"
                address = (contacts if entity == "contact" else leads).get(rid)
            else:
                address = None
            found.append(Recipient(int(r["id"]), name or f"#{r['id']}", entity, rid, address))
        out = _gate(rs, conn, found)
    title = str(camp.get(rs.entity(CAMPAIGN).title or "") or f"#{campaign_id}")
    return Audience(campaign_id, title, out)


def _members(rs: Records, actor: Actor, campaign_id: int, conn: sa.Connection
             ) -> list[dict[str, Any]]:
    acc = rs.access(actor)
    if MEMBER not in rs.meta.entities or not acc.allows(MEMBER, "read"):
        return []
    spec = rs.spec(MEMBER)
    table = rs.table(MEMBER)
    link = table.c[spec.columns[CAMPAIGN]]
    stmt = (rs.full_select(MEMBER, acc.hidden(MEMBER))
            .where(link == campaign_id, table.c.deleted_at.is_(None))
            .order_by(table.c.id).limit(MAX_MEMBERS + 1))
    where = acc.where(MEMBER, "read")
    rows = [rs.to_record(r) for r in conn.execute(stmt if where is None else stmt.where(where))]
    if len(rows) > MAX_MEMBERS:
        raise RecordError(_("This campaign has more than %(max)s members; one send writes to "
                            "at most %(max)s.", max=MAX_MEMBERS))
    return rows


def _gate(rs: Records, conn: sa.Connection, found: list[Recipient]) -> list[Recipient]:
    """The members with the reason each is left out (None: it receives the message)."""
    seen: set[str] = set()
    out: list[Recipient] = []
    candidates: list[str] = []
    for r in found:
        if r.entity is None:
            out.append(replace(r, reason=_("no contact or lead")))
        elif not r.address:
            out.append(replace(r, reason=_("no email address")))
        elif r.address.lower() in seen:
            out.append(replace(r, reason=_("another member has the same address")))
        else:
            seen.add(r.address.lower())
            candidates.append(r.address)
            out.append(r)
    refused = refused_recipients(conn, rs.meta, candidates, purpose=PURPOSE, channel="email")
    return [replace(r, reason=_lead_reason(r, refused[r.address]))
            if r.reason is None and r.address in refused else r for r in out]


def _lead_reason(r: Recipient, reason: str) -> str:
    """Why a member is left out, said for a lead: consents are recorded on contacts, so a lead
    (whose address no contact has) never has one."""
    if r.entity == "lead" and reason == unknown_address():
        return _("a lead: consent is recorded on contacts (convert the lead first)")
    return reason


def check_message(subject: Any, body: Any) -> tuple[str, str]:
    """The subject and text, or ValidationFailed naming the field."""
    errors: dict[str, list[str]] = {}
    subject = subject.strip() if isinstance(subject, str) else ""
    body = body if isinstance(body, str) else ""
    if not subject:
        errors["subject"] = [_("The subject is required.")]
    elif len(subject) > MAX_SUBJECT or any(ord(c) < 32 for c in subject):
        errors["subject"] = [_("The subject must be one line of at most %(max)s characters.",
                               max=MAX_SUBJECT)]
    if not body.strip():
        errors["body"] = [_("The text of the email is required.")]
    elif len(body) > MAX_BODY or "\x00" in body:
        errors["body"] = [_("The text must be at most %(max)s characters, without NUL.",
                            max=MAX_BODY)]
    if errors:
        raise ValidationFailed(errors)
    return subject, body


def send(rs: Records, actor: Actor, campaign_id: int, subject: Any, body: Any, *,
         settings: Settings | None = None, dry_run: bool = False) -> Outcome:
    """Email every receiving member (see the module's docstring); with `dry_run`, only say
    who would receive it. All in one transaction: a refusal writes nothing."""
    from app.comms.email import OutgoingEmail, send_email

    subject, body = check_message(subject, body)
    aud = audience(rs, actor, campaign_id)
    outcome = Outcome(aud, blocked=aud.excluded, dry_run=dry_run)
    if dry_run:
        outcome.sent = aud.receiving
        return outcome
    now = clock.now()
    changes = []
    with rs.transaction() as conn:
        readable = {e: _readable_ids(rs, actor, e, [r.record_id for r in aud.receiving
                                                    if r.entity == e and r.record_id], conn)
                    for e in ("contact", "lead")}
        for r in aud.receiving:
            assert r.address is not None
            on = r.entity is not None and r.record_id in readable.get(r.entity, set())
            done = send_email(rs, actor, OutgoingEmail(
                to=(r.address,), subject=subject, body_text=body,
                entity=r.entity if on else None, record_id=r.record_id if on else None,
                purpose=PURPOSE, kind=KIND), conn=conn, settings=settings)
            reason = _blocked_reason(done.blocked, r.address)
            if reason is not None:
                outcome.blocked.append(replace(r, reason=reason))
                continue
            outcome.sent.append(r)
            outcome.email_ids += list(done.email_ids)
            if "sent_at" in rs.spec(MEMBER).columns:  # when the CRM sent it, as the system
                changes.append(rs._update(conn, MEMBER, r.member_id, {"sent_at": now},
                                          SYSTEM, None))
    for change in changes:
        rs._after_commit(change)
    return outcome


def _blocked_reason(blocked: Mapping[str, str], address: str) -> str | None:
    for a, reason in blocked.items():
        if a.lower() == address.lower():
            return str(reason)
    return None
