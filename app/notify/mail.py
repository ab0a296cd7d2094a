"""Sending the mails of `sys_mail` over SMTP (stdlib smtplib), with retries.

A worker claims a pending, due mail (`claim`: a token and `claimed_until`, so two workers never
send one mail), sends it to the server of `mail_url` and records the outcome with that token:
`sent`; a retry at `next_attempt_at` (1 minute, then 2, 4 ... capped at 6 hours); `failed`
after `mail_max_attempts` tries or at once when the server refuses for good (a 5xx answer);
`skipped` when no `mail_url` is set. `last_error` says what went wrong in words.

`enqueue_pending` hands due mails to the task queue after the caller's commit; the sweep
(`notify.sweep`, every minute) does the same for anything left behind.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app import clock
from app.model.notify import FAILED, PENDING, SENT, SKIPPED, mails
from app.notify.service import NO_SERVER

if TYPE_CHECKING:
    from app.context import Context
    from app.settings import MailServer, Settings

log = logging.getLogger(__name__)

SEND_TASK = "notify.send_mail"
#: seconds before the first retry; each next one waits twice as long (capped at MAX_DELAY)
RETRY_BASE = 60.0
MAX_DELAY = 6 * 3600.0
#: seconds a claim lasts beyond twice the SMTP timeout
CLAIM_MARGIN = 60.0


class MailError(Exception):
    """A mail could not be sent; the message says why. `permanent`: trying again will not
    help (the server refused the recipient or the message for good)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Outcome:
    """What became of one mail: its status and, unless sent, why."""

    mail_id: int
    status: str
    error: str | None = None
    #: seconds until the retry (pending again), else None
    retry_in: float | None = None


# --- the message and the SMTP conversation ---------------------------------------------------
@dataclass(frozen=True)
class Extras:
    """What an email written by a person (app/comms: Send email on a record) adds to its mail:
    the To and Cc headers of the whole message (each recipient has a mail of their own), the
    sender's name and Reply-To address, and the files it carries (name, content type, bytes)."""

    to_header: str
    cc_header: str | None = None
    reply_to: str | None = None
    from_name: str | None = None
    files: tuple[tuple[str, str, bytes], ...] = ()
    #: sent by a user (no `Auto-Submitted: auto-generated`)
    personal: bool = True


def build_message(settings: Settings, row: Mapping[str, Any],
                  extras: Extras | None = None) -> EmailMessage:
    """The mail of a `sys_mail` row: UTF-8 text, with the HTML as an alternative (and, with
    `extras`, the message's To/Cc headers, the sender's name, Reply-To and the files)."""
    msg = EmailMessage()
    sender = settings.mail_from
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    if extras is not None and extras.from_name:
        msg["From"] = formataddr((extras.from_name, parseaddr(sender)[1] or sender))
    else:
        msg["From"] = sender
    msg["To"] = extras.to_header if extras is not None else row["to_address"]
    if extras is not None and extras.cc_header:
        msg["Cc"] = extras.cc_header
    if extras is not None and extras.reply_to:
        msg["Reply-To"] = extras.reply_to
    msg["Subject"] = row["subject"]
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = make_msgid(domain=domain)
    if extras is None or not extras.personal:
        msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row["body_text"])
    if row.get("body_html"):
        msg.add_alternative(row["body_html"], subtype="html")
    for filename, content_type, data in extras.files if extras is not None else ():
        maintype, _sep, subtype = content_type.partition("/")
        if not maintype or not subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
        else str(exc.smtp_error)
    return f"{exc.smtp_code} {' '.join(text.split())}"


def deliver(server: MailServer, password: str | None, msg: EmailMessage, *,
            timeout: float, to_addrs: Sequence[str] | None = None) -> None:
    """Send `msg` through `server` now (to `to_addrs`, else to the addresses of its headers);
    MailError says what went wrong."""
    where = server.label
    if server.username and not password:
        raise MailError(f"mail_url names the user {server.username!r} but CRM_MAIL_PASSWORD "
                        "is not set")
    try:
        smtp: smtplib.SMTP
        if server.security == "tls":
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if server.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise MailError(f"the mail server {where} does not offer STARTTLS "
                                    "(smtp+starttls:// needs it)")
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if server.username and password:
                smtp.login(server.username, password)
            smtp.send_message(msg, to_addrs=list(to_addrs) if to_addrs else None)
    except MailError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        answers = "; ".join(f"{addr}: {code} {text.decode('utf-8', 'replace')}"
                            for addr, (code, text) in exc.recipients.items())
        permanent = all(code >= 500 for code, _text in exc.recipients.values())
        raise MailError(f"the mail server {where} refused the recipient ({answers})",
                        permanent=permanent) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"the mail server {where} refused the user name or password "
                        f"({_reply(exc)})") from None
    except smtplib.SMTPSenderRefused as exc:
        raise MailError(f"the mail server {where} refused the sender {exc.sender} "
                        f"({_reply(exc)})", permanent=exc.smtp_code >= 500) from None
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"the mail server {where} answered {_reply(exc)}",
                        permanent=exc.smtp_code >= 500) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(f"the mail server {where} does not support this: {exc}") from None
    except smtplib.SMTPException as exc:
        raise MailError(f"the mail server {where} failed: {exc or type(exc).__name__}") \
            from None
    except ssl.SSLError as exc:
        raise MailError(f"TLS with the mail server {where} failed: {exc.reason or exc}") \
            from None
    except TimeoutError:
        raise MailError(f"the mail server {where} did not answer within {timeout:g} s") \
            from None
    except OSError as exc:
        raise MailError(f"cannot reach the mail server {where}: {exc.strerror or exc}") \
            from None


# --- claiming and recording ------------------------------------------------------------------
def claim(engine: sa.Engine, mail_id: int, *, seconds: float, force: bool = False
          ) -> dict[str, Any] | None:
    """Take a pending mail for this worker (None: not due, not pending, or another worker
    holds it). `force`: even before its `next_attempt_at`. The outbox's claim, on sys_mail."""
    from app.events.outbox import claim as claim_row

    return claim_row(engine, mails, mail_id, seconds=seconds, force=force)


def backoff(attempts: int) -> float:
    """Seconds before try `attempts + 1`: RETRY_BASE, twice that, four times ..."""
    return float(min(RETRY_BASE * (2 ** max(attempts - 1, 0)), MAX_DELAY))


def finish(engine: sa.Engine, row: Mapping[str, Any], *, status: str, error: str | None,
           max_attempts: int) -> Outcome:
    """Record one attempt of a claimed mail: `status` SENT, SKIPPED, or FAILED (a failed try:
    pending again with a backoff unless the tries are used up)."""
    now = clock.now()
    attempts = int(row["attempts"]) + (0 if status == SKIPPED else 1)
    values: dict[str, Any] = {"attempts": attempts, "claimed_until": None, "claim": None,
                              "last_error": error}
    retry: float | None = None
    if status == SENT:
        values.update(status=SENT, sent_at=now)
    elif status == FAILED and attempts < max_attempts:
        retry = backoff(attempts)
        values.update(status=PENDING, next_attempt_at=now + timedelta(seconds=retry))
    else:
        values.update(status=status)
    with engine.begin() as conn:
        done = conn.execute(mails.update().where(
            mails.c.id == row["id"], mails.c.claim == row["claim"]).values(**values))
    if done.rowcount != 1:
        log.warning("mail #%s: the claim ran out and another worker took it over; this "
                    "attempt (%s) is not recorded", row["id"], error or status)
        return Outcome(int(row["id"]), "taken over", error)
    return Outcome(int(row["id"]), str(values["status"]), error, retry)


def send_one(engine: sa.Engine, settings: Settings, mail_id: int, *, force: bool = False,
             max_attempts: int | None = None) -> Outcome | None:
    """Try to send one mail now (None: it is not due, not pending, or being sent).
    `max_attempts`: instead of `mail_max_attempts` (1: no retry, for a test mail)."""
    row = claim(engine, mail_id, seconds=CLAIM_MARGIN + 2 * settings.mail_timeout,
                force=force)
    if row is None:
        return None
    max_attempts = max_attempts or settings.mail_max_attempts
    server = settings.mail_server
    if server is None:
        return finish(engine, row, status=SKIPPED, error=NO_SERVER, max_attempts=max_attempts)
    try:
        from app.comms.delivery import extras_of  # an email's headers and files, if it is one

        deliver(server, settings.mail_password,
                build_message(settings, row, extras_of(engine, settings, int(row["id"]))),
                timeout=settings.mail_timeout, to_addrs=[row["to_address"]])
    except MailError as exc:
        log.info("mail #%s to %s: %s", mail_id, row["to_address"], exc)  # in the row too
        return finish(engine, row, status=FAILED, error=str(exc),
                      max_attempts=1 if exc.permanent else max_attempts)
    except Exception as exc:  # a bug must not leave the mail claimed: record it and retry
        log.exception("mail #%s failed", mail_id)
        return finish(engine, row, status=FAILED, error=f"{type(exc).__name__}: {exc}",
                      max_attempts=max_attempts)
    return finish(engine, row, status=SENT, error=None, max_attempts=max_attempts)


def new_mail(engine: sa.Engine, settings: Settings, to_address: str, subject: str,
             body_text: str, *, kind: str = "mail.test", body_html: str | None = None) -> int:
    """A pending mail to any address (not a notification): `crm mail test`."""
    now = clock.now()
    with engine.begin() as conn:
        return int(conn.execute(mails.insert().values(
            to_address=to_address, subject=subject, body_text=body_text, body_html=body_html,
            kind=kind, status=PENDING if settings.mail_server else SKIPPED, attempts=0,
            last_error=None if settings.mail_server else NO_SERVER, created_at=now,
            next_attempt_at=now).returning(mails.c.id)).scalar_one())


def retry(engine: sa.Engine, mail_id: int) -> bool:
    """Make a failed or skipped mail pending again, due now (one more try; the log and the
    back office's "send again"). A mail being sent right now is left to its worker. False: no
    such mail, or it was already sent."""
    now = clock.now()
    c = mails.c
    with engine.begin() as conn:
        done = conn.execute(mails.update().where(
            c.id == mail_id, c.status != SENT,
            sa.or_(c.claimed_until.is_(None), c.claimed_until < now))
            .values(status=PENDING, next_attempt_at=now, claimed_until=None, claim=None))
    return done.rowcount == 1


# --- the queue -------------------------------------------------------------------------------
def due(engine: sa.Engine, limit: int = 500) -> list[int]:
    """Pending mails whose time has come and that no worker holds, oldest first."""
    now = clock.now()
    c = mails.c
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(mails.name):
            return []
        return [int(i) for i in conn.execute(sa.select(c.id).where(
            c.status == PENDING, c.next_attempt_at <= now,
            sa.or_(c.claimed_until.is_(None), c.claimed_until < now))
            .order_by(c.id).limit(limit)).scalars()]


def enqueue_pending(target: Context | sa.Engine) -> int:
    """After the commit of a transaction that called `notify`: hand every due mail to the task
    queue (a Context's queue, made if needed; for an Engine, the queue made for it in this
    process, else nothing: the worker's sweep sends them within a minute). Returns how many
    were queued. Queuing a mail twice is harmless (only one worker can claim it)."""
    from app.tasks.queue import queue_for, queue_of

    if isinstance(target, sa.Engine):
        engine, queue = target, queue_of(target)
    else:
        engine, queue = target.engine, queue_for(target)
    if queue is None:
        return 0
    ids = due(engine)
    for mail_id in ids:
        queue.enqueue_task(SEND_TASK, mail_id)
    return len(ids)
