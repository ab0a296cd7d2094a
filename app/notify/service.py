"""Notify users: one in-app notification per recipient and, when they have an address, one mail.

    from app.notify import Notice, notify

    ids = notify(conn, settings, [manager_id], Notice(
        kind="approval.pending",
        compose=lambda: (_("Quote %(n)s waits for your approval", n=number), _("...")),
        link=f"/quote/{quote_id}", entity="quote", record_id=quote_id))

Everything is written in the caller's transaction (a rollback leaves nothing). `compose` is
called once per recipient inside `use_locale(their locale)`, so its `_()` speaks their language.
The mails are rows of `sys_mail`, status `pending`: after the caller commits, hand them to the
task queue with `app.notify.enqueue_pending(ctx_or_engine)`; the `notify.sweep` task sends
whatever is still due every minute in any case.

The reading side (`notifications_of`, `unread_count`, `mark_read`, `mark_all_read`) is what the
web pages and the API call: each works on one user's own notifications only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app import clock
from app.i18n import _, use_locale
from app.model.notify import PENDING, SKIPPED, mails, notifications
from app.model.system import users
from app.textnum import SQL_INT_MAX

if TYPE_CHECKING:
    from app.settings import Settings

#: the longest `kind`, subject and link the tables hold
MAX_KIND, MAX_SUBJECT, MAX_LINK = 60, 255, 500
NO_SERVER = "no mail server configured (mail_url)"
#: control characters: none in a subject (a mail header) or a link
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Notice:
    """What to tell the recipients (see the module's docstring)."""

    kind: str
    #: -> (subject, body text); called once per recipient in their locale
    compose: Callable[[], tuple[str, str]]
    #: a path on this site ("/quote/12", "/approvals/"); mails make it absolute with base_url
    link: str | None = None
    entity: str | None = None
    record_id: int | None = None


@dataclass(frozen=True)
class Notification:
    """One notification as its user sees it."""

    id: int
    kind: str
    subject: str
    body: str
    link: str | None
    entity: str | None
    record_id: int | None
    created_at: datetime
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        return self.read_at is None


def check_link(link: str | None) -> str | None:
    """`link` when it is a path on this site, else ValueError (a notification never sends its
    reader to another site)."""
    if link is None:
        return None
    if (not link.startswith("/") or link.startswith(("//", "/\\")) or _CONTROL.search(link)
            or len(link) > MAX_LINK):
        raise ValueError(f"a notification's link must be a path on this site like "
                         f"'/quote/12', not {link[:80]!r}")
    return link


def _check(notice: Notice) -> None:
    if not notice.kind or len(notice.kind) > MAX_KIND:
        raise ValueError(f"a notification's kind needs 1 to {MAX_KIND} characters: "
                         f"{notice.kind[:80]!r}")
    check_link(notice.link)
    if notice.record_id is not None and not 0 < notice.record_id <= SQL_INT_MAX:
        raise ValueError(f"record_id {notice.record_id} is not a record's id")


def _recipients(user_ids: Iterable[int]) -> list[int]:
    """Distinct ids in their first order (ids no user can have are left out)."""
    seen: dict[int, None] = {}
    for uid in user_ids:
        if isinstance(uid, int) and not isinstance(uid, bool) and 0 < uid <= SQL_INT_MAX:
            seen.setdefault(uid, None)
    return list(seen)


def _composed(notice: Notice) -> tuple[str, str]:
    made = notice.compose()
    if (not isinstance(made, tuple) or len(made) != 2
            or not all(isinstance(part, str) for part in made)):
        raise TypeError(f"Notice({notice.kind!r}).compose must return (subject, body) as text")
    subject, body = made
    subject = " ".join(_CONTROL.sub(" ", subject).split())  # one header line
    if len(subject) > MAX_SUBJECT:
        subject = subject[:MAX_SUBJECT - 1] + "…"
    return subject, body


def absolute(settings: Settings, link: str) -> str:
    """A path on this site as the address users open (`base_url` + path)."""
    return settings.base_url + link


def mail_bodies(settings: Settings, subject: str, body: str, link: str | None
                ) -> tuple[str, str]:
    """The text and HTML of a mail, in the current locale: the body, then the link (a button
    in HTML), then where all notifications are. Everything in the HTML is escaped."""
    inbox = absolute(settings, "/notifications/")
    text = [body.rstrip()] if body.strip() else []
    parts = [f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>"
             for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
    if link is not None:
        url = absolute(settings, link)
        text.append(_("Open it: %(url)s", url=url))
        button = html.escape(_("Open in the CRM"))
        parts.append(
            f'<p><a href="{html.escape(url)}" style="display:inline-block;padding:10px 18px;'
            'background:#0d6efd;color:#ffffff;text-decoration:none;border-radius:4px">'
            f'{button}</a></p>')
    footer = _("All your notifications: %(url)s", url=inbox)
    text.append(footer)
    everything = html.escape(_("All your notifications"))
    parts.append('<p style="color:#6c757d;font-size:12px">'
                 f'{everything}: '
                 f'<a href="{html.escape(inbox)}">{html.escape(inbox)}</a></p>')
    page = ('<!doctype html><html><head><meta charset="utf-8">'
            f"<title>{html.escape(subject)}</title></head>"
            '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#212529">'
            + "".join(parts) + "</body></html>")
    return "\n\n".join(text) + "\n", page


def notify(conn: sa.Connection, settings: Settings, user_ids: Iterable[int], notice: Notice,
           *, email: bool = True) -> list[int]:
    """In the caller's transaction: one sys_notification row per distinct active recipient
    (inactive or unknown users skipped), and, when `email` and the user has an email address,
    one sys_mail row per recipient (`pending`; `skipped` at once when no `mail_url` is set).
    Returns the notification ids, in the order of `user_ids`. After the caller commits,
    `enqueue_pending` hands the mails to the task queue (else the sweep sends them within a
    minute). ValueError: a bad kind, link or record id."""
    _check(notice)
    wanted = _recipients(user_ids)
    if not wanted:
        return []
    found = {row.id: row for row in conn.execute(
        sa.select(users.c.id, users.c.email, users.c.locale)
        .where(users.c.id.in_(wanted), users.c.active.is_(True)))}
    now = clock.now()
    has_server = settings.mail_server is not None
    out: list[int] = []
    for uid in wanted:
        row = found.get(uid)
        if row is None:
            continue
        address = (row.email or "").strip()
        with use_locale(row.locale or settings.locale):
            subject, body = _composed(notice)
            bodies = mail_bodies(settings, subject, body, notice.link) \
                if email and address else None
        nid = int(conn.execute(notifications.insert().values(
            user_id=uid, kind=notice.kind, subject=subject, body=body, link=notice.link,
            entity=notice.entity, record_id=notice.record_id, created_at=now)
            .returning(notifications.c.id)).scalar_one())
        out.append(nid)
        if bodies is not None:
            conn.execute(mails.insert().values(
                to_address=address[:254], to_user_id=uid, subject=subject,
                body_text=bodies[0], body_html=bodies[1], kind=notice.kind,
                notification_id=nid, status=PENDING if has_server else SKIPPED, attempts=0,
                last_error=None if has_server else NO_SERVER, created_at=now,
                next_attempt_at=now))
    return out


# --- the reader's side -----------------------------------------------------------------------
def aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes for timezone-aware columns: they are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _notification(row: Any) -> Notification:
    return Notification(int(row.id), row.kind, row.subject, row.body or "", row.link,
                        row.entity, row.record_id, aware(row.created_at),
                        aware(row.read_at) if row.read_at is not None else None)


def notifications_of(conn: sa.Connection, user_id: int, *, unread_only: bool = False,
                     limit: int = 50, before_id: int | None = None) -> list[Notification]:
    """The user's notifications, newest first (`before_id`: those older than that one)."""
    c = notifications.c
    stmt = sa.select(notifications).where(c.user_id == user_id)
    if unread_only:
        stmt = stmt.where(c.read_at.is_(None))
    if before_id is not None:
        stmt = stmt.where(c.id < before_id)
    rows = conn.execute(stmt.order_by(c.id.desc()).limit(limit))
    return [_notification(r) for r in rows]


def count_of(conn: sa.Connection, user_id: int, *, unread_only: bool = False) -> int:
    c = notifications.c
    stmt = sa.select(sa.func.count()).select_from(notifications).where(c.user_id == user_id)
    if unread_only:
        stmt = stmt.where(c.read_at.is_(None))
    return int(conn.execute(stmt).scalar_one())


def unread_count(conn: sa.Connection, user_id: int) -> int:
    """How many of the user's notifications are unread (the bell's number)."""
    return count_of(conn, user_id, unread_only=True)


def get_notification(conn: sa.Connection, user_id: int, notification_id: int
                     ) -> Notification | None:
    """The user's own notification, or None (another user's is as good as missing)."""
    c = notifications.c
    row = conn.execute(sa.select(notifications).where(
        c.id == notification_id, c.user_id == user_id)).first()
    return _notification(row) if row is not None else None


def mark_read(conn: sa.Connection, user_id: int, notification_id: int) -> Notification | None:
    """Mark the user's notification read (reading it again keeps the first time); None when
    it is not theirs or does not exist."""
    if not 0 < notification_id <= SQL_INT_MAX:
        return None
    c = notifications.c
    conn.execute(notifications.update().where(
        c.id == notification_id, c.user_id == user_id, c.read_at.is_(None))
        .values(read_at=clock.now()))
    return get_notification(conn, user_id, notification_id)


def mark_all_read(conn: sa.Connection, user_id: int) -> int:
    """Mark every unread notification of the user read; how many were."""
    c = notifications.c
    done = conn.execute(notifications.update().where(
        c.user_id == user_id, c.read_at.is_(None)).values(read_at=clock.now()))
    return int(done.rowcount or 0)
