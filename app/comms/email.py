"""Outbound email from the CRM: validate, log as an `email` record, queue one mail per recipient.

    from app.comms.email import OutgoingEmail, send_email

    with rs.transaction() as conn:                  # or conn=None: send_email commits itself
        sent = send_email(rs, actor, OutgoingEmail(
            to=("buyer@example.com",), subject="Your quote", body_text="Dear ...",
            attachment_ids=(pdf.id,), entity="quote", record_id=12, kind="quote"), conn=conn)
    enqueue_pending(ctx)                            # after the commit: the queue sends them

`send_email` checks everything first (addresses, subject and body limits, that `actor` may read
the record and the files, that they may log emails) and raises `EmailInvalid` (422, by field)
or `Forbidden` / `NotFound` before anything is written. It then writes, in one transaction:
the `email` record (through the records service, as `actor`: audited, hooks run) linked to the
record and to the contacts found by the recipients' addresses (and their accounts), one
`sys_mail` row per recipient (`pending`, or `skipped` without a mail server), and what the mail
adds to a notification mail (app/model/comms.py: headers, Reply-To, files). The task queue
sends the mails (app/notify/mail.py) and each attempt updates the `email` record's status
(app/comms/delivery.py). A purpose other than "service" (marketing) first asks
`app.consent.refused_recipients` and leaves the refused addresses out (`SentEmail.blocked`).

`send_and_queue(ctx, rs, actor, out)` is the one call for callers that own no transaction.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app import clock
from app.comms.links import related_links
from app.i18n import _
from app.model.comms import email_deliveries, mail_attachments
from app.model.notify import PENDING, SKIPPED, mails
from app.model.system import attachments, users
from app.notify.service import NO_SERVER
from app.records import Actor, Forbidden, NotFound, RecordError, Records, ValidationFailed
from app.records.attachments import MAX_SIZE
from app.textnum import SQL_INT_MAX

if TYPE_CHECKING:
    from app.context import Context
    from app.settings import Settings

#: the entity emails are logged as (schemas/email.yaml)
EMAIL = "email"
MAX_SUBJECT = 255
MAX_BODY = 100_000
MAX_HTML = 500_000
#: recipients of one message (To and Cc together) and files it may carry
MAX_RECIPIENTS = 50
MAX_FILES = 10
MAX_KIND = 60
#: the purpose that needs no consent (a reply, a quote asked for, a survey of a case)
SERVICE = "service"
#: an address: the usual characters of a local part, a domain of labels (no display names,
#: quotes, commas or angle brackets: each recipient is one plain address)
ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
                     r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                     r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL = re.compile(r"https?://[^\s<>\"']+")

#: set while send_email creates its record: `email` records are made by this service only
#: (app/comms/plugin.py refuses the others)
SENDING: ContextVar[bool] = ContextVar("comms_sending", default=False)


@dataclass(frozen=True)
class OutgoingEmail:
    """One message to send (see the module's docstring)."""

    to: tuple[str, ...]
    subject: str
    body_text: str
    body_html: str | None = None
    cc: tuple[str, ...] = ()
    attachment_ids: tuple[int, ...] = ()   # sys_attachment ids (app/records/attachments.py)
    entity: str | None = None              # the record it is logged on
    record_id: int | None = None
    purpose: str = "service"               # "marketing": consent gate
    kind: str = "email"                    # sys_mail.kind: "quote", "survey", "campaign" ...


@dataclass(frozen=True)
class SentEmail:
    """What `send_email` did."""

    email_ids: tuple[int, ...]        # the `email` records logged (one per message)
    blocked: Mapping[str, str]        # address -> reason it was not sent
    #: the sys_mail rows written (one per recipient)
    mail_ids: tuple[int, ...] = ()


class EmailInvalid(ValidationFailed):
    """The message cannot be sent as it is: problems by field (`to`, `cc`, `subject`,
    `body_text`, `body_html`, `attachment_ids`, `kind`, `purpose`), each naming what is wrong
    (the bad address, the missing file). Nothing was written."""


@dataclass
class _Checked:
    to: list[str]
    cc: list[str]
    files: list[dict[str, Any]] = field(default_factory=list)


# --- checks ----------------------------------------------------------------------------------
def clean_address(raw: str) -> str:
    return raw.strip() if isinstance(raw, str) else ""


def is_address(value: str) -> bool:
    return len(value) <= 254 and ADDRESS.match(value) is not None


def split_addresses(text: str) -> tuple[str, ...]:
    """Addresses typed in one box, separated by commas, semicolons, spaces or new lines."""
    return tuple(a for a in re.split(r"[,;\s]+", text or "") if a)


def _addresses(key: str, given: Sequence[str], errors: dict[str, list[str]],
               seen: set[str]) -> list[str]:
    out: list[str] = []
    if isinstance(given, str) or not isinstance(given, Sequence):
        errors.setdefault(key, []).append(_("Give the addresses as a list."))
        return out
    for raw in given:
        address = clean_address(raw)
        if not is_address(address):
            shown = _CONTROL.sub("?", str(raw))[:80]
            errors.setdefault(key, []).append(_(
                "'%(address)s' is not an email address like name@example.com.",
                address=shown))
            continue
        if address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out


def _check_text(out: OutgoingEmail, errors: dict[str, list[str]]) -> None:
    subject = out.subject if isinstance(out.subject, str) else ""
    if not subject.strip():
        errors["subject"] = [_("The subject is required.")]
    elif len(subject) > MAX_SUBJECT:
        errors["subject"] = [_("The subject has %(n)s characters; at most %(max)s are allowed.",
                               n=len(subject), max=MAX_SUBJECT)]
    elif _CONTROL.search(subject):
        errors["subject"] = [_("The subject must be one line without control characters.")]
    if not isinstance(out.body_text, str):
        errors["body_text"] = [_("The text of the email is required.")]
    elif len(out.body_text) > MAX_BODY:
        errors["body_text"] = [_("The text has %(n)s characters; at most %(max)s are allowed.",
                                 n=len(out.body_text), max=MAX_BODY)]
    elif "\x00" in out.body_text:
        errors["body_text"] = [_("The text contains a NUL character.")]
    if out.body_html is not None and (not isinstance(out.body_html, str)
                                      or len(out.body_html) > MAX_HTML
                                      or "\x00" in out.body_html):
        errors["body_html"] = [_("The HTML body must be text of at most %(max)s characters.",
                                 max=MAX_HTML)]
    if not isinstance(out.kind, str) or not out.kind or len(out.kind) > MAX_KIND \
            or _CONTROL.search(out.kind):
        errors["kind"] = [_("The kind needs 1 to %(max)s characters.", max=MAX_KIND)]
    if not isinstance(out.purpose, str) or not out.purpose or len(out.purpose) > MAX_KIND:
        errors["purpose"] = [_("The purpose needs 1 to %(max)s characters.", max=MAX_KIND)]


def _check_record(rs: Records, actor: Actor, out: OutgoingEmail, conn: sa.Connection
                  ) -> dict[str, Any] | None:
    """The record the email is logged on (as stored), after checking `actor` may read it."""
    if out.entity is None and out.record_id is None:
        return None
    if out.entity is None or out.record_id is None:
        raise EmailInvalid({"entity": [_("Give both the entity and the record id, or "
                                         "neither.")]})
    rs.entity(out.entity)  # NotFound: no such entity
    rid = out.record_id
    if isinstance(rid, bool) or not isinstance(rid, int) or not 0 < rid <= SQL_INT_MAX:
        raise EmailInvalid({"record_id": [_("'%(id)s' is not a record id.", id=str(rid)[:40])]})
    acc = rs.access(actor)
    if not acc.allows(out.entity, "read"):
        raise Forbidden(_("You may not see %(entities)s.",
                          entities=rs.entity(out.entity).plural_for(_locale())))
    table = rs.table(out.entity)
    stmt = rs.full_select(out.entity, acc.hidden(out.entity)).where(
        table.c.id == rid, table.c.deleted_at.is_(None))
    where = acc.where(out.entity, "read")
    row = conn.execute(stmt if where is None else stmt.where(where)).first()
    if row is None:
        raise NotFound(_("%(entity)s #%(id)s does not exist or was deleted.",
                         entity=rs.entity(out.entity).label_for(_locale()), id=rid))
    return rs.to_record(row)


def _check_files(rs: Records, actor: Actor, out: OutgoingEmail, conn: sa.Connection,
                 errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The attachments' rows: live, of the record or of a record `actor` may read."""
    ids = out.attachment_ids
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        errors["attachment_ids"] = [_("Give the attachments as a list of ids.")]
        return []
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    bad = [i for i in wanted if isinstance(i, bool) or not isinstance(i, int)
           or not 0 < i <= SQL_INT_MAX]
    if bad:
        errors["attachment_ids"] = [_("'%(id)s' is not an attachment id.", id=str(bad[0])[:40])]
        return []
    if len(wanted) > MAX_FILES:
        errors["attachment_ids"] = [_("An email carries at most %(max)s files.", max=MAX_FILES)]
        return []
    c = attachments.c
    rows = {int(r.id): dict(r._mapping) for r in conn.execute(
        sa.select(attachments).where(c.id.in_(wanted), c.deleted_at.is_(None)))}
    acc = rs.access(actor)
    problems: list[str] = []
    for aid in wanted:
        row = rows.get(aid)
        if row is None or not _file_readable(rs, acc, out, row, conn):
            problems.append(_("Attachment #%(id)s does not exist, was removed, or is on a "
                              "record you may not see.", id=aid))
    total = sum(int(r["size"]) for r in rows.values())
    if not problems and total > MAX_SIZE:
        from app.fields.special import size_text

        problems.append(_("The files come to %(size)s; an email carries at most %(max)s.",
                          size=size_text(total), max=size_text(MAX_SIZE)))
    if problems:
        errors["attachment_ids"] = problems
        return []
    return [rows[i] for i in wanted]


def _file_readable(rs: Records, acc: Any, out: OutgoingEmail, row: Mapping[str, Any],
                   conn: sa.Connection) -> bool:
    if row["entity"] == out.entity and row["record_id"] == out.record_id:
        return True  # the record's own file (its read was checked)
    entity = str(row["entity"])
    if entity not in rs.meta.entities or not acc.allows(entity, "read"):
        return False
    table = rs.table(entity)
    stmt = sa.select(table.c.id).where(table.c.id == row["record_id"],
                                       table.c.deleted_at.is_(None))
    where = acc.where(entity, "read")
    return conn.execute(stmt if where is None else stmt.where(where)).first() is not None


def check(rs: Records, actor: Actor, out: OutgoingEmail, conn: sa.Connection
          ) -> tuple[dict[str, Any] | None, _Checked]:
    """Every check of `send_email`, nothing written: (the record, the clean recipients and
    files). Raises EmailInvalid, Forbidden or NotFound."""
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    to = _addresses("to", out.to, errors, seen)
    cc = _addresses("cc", out.cc, errors, seen)
    if not to and "to" not in errors:
        errors["to"] = [_("Give at least one recipient.")]
    if len(to) + len(cc) > MAX_RECIPIENTS:
        errors.setdefault("to", []).append(_("An email goes to at most %(max)s recipients.",
                                             max=MAX_RECIPIENTS))
    _check_text(out, errors)
    record = _check_record(rs, actor, out, conn)
    if EMAIL in rs.meta.entities and not rs.access(actor).allows(EMAIL, "create"):
        raise Forbidden(_("You may not send emails."))
    files = _check_files(rs, actor, out, conn, errors)
    if errors:
        raise EmailInvalid(errors)
    return record, _Checked(to, cc, files)


# --- writing ---------------------------------------------------------------------------------
def text_to_html(text: str) -> str:
    """The HTML alternative of a plain text body: escaped, paragraphs at blank lines, line
    breaks kept, web addresses as links."""
    def para(block: str) -> str:
        escaped = html.escape(block.strip("\n"))
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        return "<p>" + linked.replace("\n", "<br>\n") + "</p>"

    blocks = [b for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if b.strip()]
    return ('<!doctype html><html><head><meta charset="utf-8"></head><body>'
            + "\n".join(para(b) for b in blocks) + "</body></html>")


@contextmanager
def _transaction(rs: Records, conn: sa.Connection | None) -> Iterator[sa.Connection]:
    if conn is not None:
        yield conn
        return
    with rs.transaction() as own:
        yield own


def _refused(conn: sa.Connection, rs: Records, out: OutgoingEmail, addresses: list[str]
             ) -> dict[str, str]:
    if out.purpose == SERVICE:
        return {}
    try:
        from app.consent import refused_recipients  # the consent gate (app/consent)
    except ImportError:  # fail closed: no consent check, no marketing email
        raise RecordError(_("Consent cannot be checked here, so no %(purpose)s email is "
                            "sent.", purpose=out.purpose)) from None
    found = refused_recipients(conn, rs.meta, addresses, purpose=out.purpose, channel="email")
    wanted = {a.lower(): a for a in addresses}
    return {wanted.get(str(k).lower(), str(k)): str(v) for k, v in dict(found).items()
            if str(k).lower() in wanted}


def _sender(conn: sa.Connection, actor: Actor) -> tuple[str | None, str | None]:
    """(name, address) of the sending user; (None, None) for the system."""
    if actor.id is None:
        return None, None
    row = conn.execute(sa.select(users.c.full_name, users.c.username, users.c.email)
                       .where(users.c.id == actor.id)).first()
    if row is None:
        return actor.username, None
    address = (row.email or "").strip()
    name = " ".join(_CONTROL.sub(" ", row.full_name or row.username or "").split())[:120]
    return name or None, address if is_address(address) else None


def send_email(rs: Records, actor: Actor, out: OutgoingEmail, *,
               conn: sa.Connection | None = None, settings: Settings | None = None
               ) -> SentEmail:
    """Check, log and queue one message (see the module's docstring). In `conn`'s transaction
    when given (the caller commits, then calls `enqueue_pending`), else in its own.
    `settings`: the deployment's, to log the mails `skipped` at once when no mail server is
    configured; without them the mails are written `pending` and their first attempt finds
    out (the email record then becomes `skipped` too)."""
    with _transaction(rs, conn) as tx:
        record, ok = check(rs, actor, out, tx)
        refused = _refused(tx, rs, out, ok.to + ok.cc)
        to = [a for a in ok.to if a not in refused]
        cc = [a for a in ok.cc if a not in refused]
        if not to:  # nobody left to write to (a Cc alone is no message)
            blocked = dict(refused)
            blocked.update({a: _("no recipient in To may receive it") for a in cc})
            return SentEmail((), blocked)
        has_server = settings is None or settings.mail_server is not None
        email_id = _log(rs, actor, out, record, to, cc, ok.files, has_server, tx)
        mail_ids = _queue(tx, actor, out, to, cc, ok.files, email_id, has_server,
                          EMAIL if email_id is not None else None)
    return SentEmail((email_id,) if email_id is not None else (), dict(refused),
                     tuple(mail_ids))


def _log(rs: Records, actor: Actor, out: OutgoingEmail, record: dict[str, Any] | None,
         to: list[str], cc: list[str], files: list[dict[str, Any]], has_server: bool,
         conn: sa.Connection) -> int | None:
    """The `email` record (None when the config has no such entity)."""
    if EMAIL not in rs.meta.entities:
        return None
    spec = rs.spec(EMAIL)
    hidden = rs.access(actor).hidden(EMAIL)
    values: dict[str, Any] = {
        "subject": out.subject.strip(), "to": ", ".join(to), "cc": ", ".join(cc) or None,
        "body": out.body_text, "direction": "outbound",
        "status": "queued" if has_server else "skipped",
        "error": None if has_server else NO_SERVER,
        "from_user": actor.id, "kind": out.kind,
        "attachment_names": "\n".join(str(f["name"]) for f in files) or None}
    values.update(related_links(rs, conn, actor, EMAIL, out.entity, record, to + cc))
    values = {k: v for k, v in values.items()
              if k in spec.columns and k not in hidden and v is not None}
    if actor.id is None and record is not None and record.get("owner_id") is not None:
        values["owner"] = record["owner_id"]  # the system's email belongs to the record's owner
    token = SENDING.set(True)
    try:
        change = rs._create(conn, EMAIL, values, actor)
    finally:
        SENDING.reset(token)
    return change.id


def _queue(conn: sa.Connection, actor: Actor, out: OutgoingEmail, to: list[str],
           cc: list[str], files: list[dict[str, Any]], email_id: int | None,
           has_server: bool, entity: str | None) -> list[int]:
    """One sys_mail row per recipient, with its delivery row and files."""
    now = clock.now()
    body_html = out.body_html if out.body_html is not None else text_to_html(out.body_text)
    name, reply_to = _sender(conn, actor)
    subject = " ".join(out.subject.split())
    ids: list[int] = []
    for role, address in [("to", a) for a in to] + [("cc", a) for a in cc]:
        mail_id = int(conn.execute(mails.insert().values(
            to_address=address, to_user_id=None, subject=subject, body_text=out.body_text,
            body_html=body_html, kind=out.kind, status=PENDING if has_server else SKIPPED,
            attempts=0, last_error=None if has_server else NO_SERVER, created_at=now,
            next_attempt_at=now).returning(mails.c.id)).scalar_one())
        conn.execute(email_deliveries.insert().values(
            mail_id=mail_id, entity=entity, email_record_id=email_id, role=role,
            to_header=", ".join(to), cc_header=", ".join(cc) or None, reply_to=reply_to,
            from_name=name, sender_id=actor.id))
        if files:
            conn.execute(mail_attachments.insert(), [
                {"mail_id": mail_id, "attachment_id": f["id"], "filename": f["name"],
                 "content_type": f["content_type"], "size": f["size"], "key": f["key"]}
                for f in files])
        ids.append(mail_id)
    return ids


def send_and_queue(ctx: Context, rs: Records, actor: Actor, out: OutgoingEmail) -> SentEmail:
    """For callers that own no transaction: `send_email` in its own transaction, then the
    mails handed to the deployment's task queue."""
    from app.notify import enqueue_pending

    sent = send_email(rs, actor, out, settings=ctx.settings)
    if sent.mail_ids:
        enqueue_pending(ctx)
    return sent


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()


__all__ = ["EmailInvalid", "OutgoingEmail", "SentEmail", "send_and_queue",
           "send_email", "split_addresses", "text_to_html"]
