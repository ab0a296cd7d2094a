"""Satisfaction surveys: sent when a case closes, answered on a public page, shown on the case.

    started = start_survey(rs, settings, case_id, expires_in_days=14)   # the send_survey action
    survey = open_survey(rs, token)                 # the public page: 404 / 410 when it cannot
    survey = submit(rs, token, rating="5", resolved="yes", comment="Quick and kind")

`start_survey` makes a `survey_response` (status sent) for the case's contact, sets the case's
`survey_status`, and writes the email (app/comms/email.py `send_email`, kind "survey") in one
transaction, through the records service as the system; the task queue sends the mail after
the commit. The link carries a random token (`secrets.token_urlsafe(32)`); only its SHA-256 is
stored (`token_hash`, a hidden field). `submit` saves the answers once (a second answer, or
one after `expires_at`, is refused with 410) as the system, audited; the plugin in
app/surveys/action.py mirrors the survey's status and rating onto the case in the same save.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from markupsafe import escape

from app import clock
from app.i18n import _, normalize, use_locale
from app.records.change import SYSTEM, Change
from app.records.errors import RecordError, ValidationFailed
from app.records.service import Records

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)

SURVEY = "survey_response"
CASE = "case"
CONTACT = "contact"
SENT, ANSWERED, EXPIRED = "sent", "answered", "expired"
#: key under which a survey's Change carries the case update the plugin made (after-commit)
CHILDREN = "_crm_survey_children"
#: contact fields that may hold a preferred language, in the order they are asked
LANGUAGE_FIELDS = ("preferred_language", "language", "locale")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
MIN_RATING, MAX_RATING = 1, 5
DEFAULT_DAYS = 14
MAX_COMMENT = 2000
YES = frozenset({"yes", "y", "true", "1", "on", "是"})
NO = frozenset({"no", "n", "false", "0", "off", "否"})


class SurveyNotFound(RecordError):
    """No survey has this link (or the link is malformed): 404."""

    status = 404


class SurveyClosed(RecordError):
    """The survey was answered already, or expired: 410. `reason` is "answered" or
    "expired"."""

    status = 410

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Started:
    """What `start_survey` did: the survey made (None when skipped, with the reason)."""

    survey_id: int | None = None
    email: str | None = None
    skipped: str | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def language_of(contact: Mapping[str, Any] | None, settings: Settings) -> str:
    """The contact's preferred language when their entity has such a field and it is set,
    else the deployment's `locale`."""
    for name in LANGUAGE_FIELDS:
        value = (contact or {}).get(name)
        if value:
            return normalize(str(value))
    return normalize(settings.locale)


def _short(locale: str) -> str:
    return "zh" if locale == "zh_CN" else "en"


# --- sending ------------------------------------------------------------------------------------
def _open_survey_of(conn: sa.Connection, rs: Records, case_id: int) -> int | None:
    """A survey of the case that still counts: answered, or sent and not expired."""
    table = rs.table(SURVEY)
    cols = rs.spec(SURVEY).columns
    status, expires = table.c[cols["status"]], table.c[cols["expires_at"]]
    stmt = (sa.select(table.c.id).where(
        table.c[cols["case"]] == case_id, table.c.deleted_at.is_(None),
        sa.or_(status == ANSWERED, sa.and_(status == SENT, sa.or_(
            expires.is_(None), expires > clock.now()))))
        .limit(1))
    found = conn.execute(stmt).scalar()
    return int(found) if found is not None else None


Renderer = Callable[[str], str]


def _texts(case: Mapping[str, Any], contact: Mapping[str, Any], link: str, until: datetime,
           texts: Mapping[str, Mapping[str, str]], locale: str,
           render: Renderer) -> tuple[str, str, str]:
    """(subject, text body, HTML body) in the current locale."""
    from app.i18n import format_date

    lang = _short(locale)
    number = str(case.get("number") or f"#{case['id']}")
    subject = render(texts["subject"][lang]) if lang in texts.get("subject", {}) else _(
        "How did we do? Your case %(number)s", number=number)
    intro = render(texts["message"][lang]) if lang in texts.get("message", {}) else _(
        "Your case %(number)s (%(subject)s) was closed. Please tell us how satisfied you are "
        "with our service: three questions, one minute.", number=number,
        subject=case.get("subject") or "")
    name = str(contact.get("full_name") or contact.get("last_name") or "").strip()
    greeting = _("Dear %(name)s,", name=name) if name else _("Hello,")
    deadline = _("The link works until %(date)s.", date=format_date(until.date()))
    thanks = _("Thank you!")
    button = _("Rate our service")
    text = f"{greeting}\n\n{intro}\n\n{button}: {link}\n\n{deadline}\n\n{thanks}\n"
    html = (f"<p>{escape(greeting)}</p><p>{escape(intro)}</p>"
            f'<p><a href="{escape(link)}" style="display:inline-block;padding:10px 18px;'
            f'background:#0d6efd;color:#ffffff;text-decoration:none;border-radius:6px">'
            f"{escape(button)}</a></p><p>{escape(deadline)}</p><p>{escape(thanks)}</p>")
    return subject, text, html


def start_survey(rs: Records, settings: Settings, case_id: int, *,
                 expires_in_days: int = DEFAULT_DAYS,
                 texts: Mapping[str, Mapping[str, str]] | None = None,
                 render: Renderer | None = None) -> Started:
    """Make and email the survey of a closed case (see the module's docstring). Skipped, with
    the reason, when the case is gone or no longer closed, already has a survey that counts,
    has no contact, or the contact has no email address. `texts` may give `subject` and
    `message` per language (`en`, `zh`), rendered by `render` (the action's templates)."""
    from app.comms.email import OutgoingEmail, send_email
    from app.notify import enqueue_pending

    done: list[Change] = []
    with rs.transaction() as conn:
        table = rs.table(CASE)
        found = conn.execute(rs.full_select(CASE).where(
            table.c.id == case_id, table.c.deleted_at.is_(None))).first()
        if found is None:
            return Started(skipped="the case does not exist")
        case = dict(found._mapping)
        if case.get("status") != "closed":
            return Started(skipped="the case is no longer closed")
        if _open_survey_of(conn, rs, case_id) is not None:
            return Started(skipped="the case has a survey already")
        if not case.get("contact"):
            return Started(skipped="the case has no contact")
        contact = rs._get(CONTACT, int(case["contact"]), conn=conn)
        address = str(contact.get("email") or "").strip()
        if not address:
            return Started(skipped="the contact has no email address")
        locale = language_of(contact, settings)
        token = secrets.token_urlsafe(32)
        now = clock.now()
        until = now + timedelta(days=max(1, int(expires_in_days)))
        number = str(case.get("number") or f"#{case_id}")
        values: dict[str, Any] = {
            "subject": f"{number} {case.get('subject') or ''}".strip()[:255],
            "case": case_id, "contact": contact["id"], "email": address, "status": SENT,
            "channel": "email", "language": locale, "sent_at": now, "expires_at": until,
            "token_hash": hash_token(token)}
        if case.get("owner_id") is not None:
            values["owner"] = case["owner_id"]
        survey = rs._create(conn, SURVEY, values, SYSTEM)
        done.append(survey)
        link = f"{settings.base_url}/survey/{token}"
        with use_locale(locale) as current:
            subject, body, html = _texts(case, contact, link, until, texts or {}, current,
                                         render or (lambda s: s))
        send_email(rs, SYSTEM, OutgoingEmail(
            to=(address,), subject=subject, body_text=body, body_html=html, entity=CASE,
            record_id=case_id, purpose="service", kind="survey"), conn=conn, settings=settings)
    for change in done:
        rs._after_commit(change)
    enqueue_pending(rs.engine)
    return Started(survey_id=survey.id, email=address)


# --- answering ----------------------------------------------------------------------------------

def _by_token(conn: sa.Connection, rs: Records, token: str) -> dict[str, Any]:
    if not TOKEN.match(token or ""):
        raise SurveyNotFound(_("This survey link is not valid."))
    table = rs.table(SURVEY)
    column = table.c[rs.spec(SURVEY).columns["token_hash"]]
    row = conn.execute(rs.full_select(SURVEY).where(
        column == hash_token(token), table.c.deleted_at.is_(None))).first()
    if row is None:
        raise SurveyNotFound(_("This survey link is not valid."))
    return dict(row._mapping)


def _check_open(survey: Mapping[str, Any]) -> None:
    if survey.get("status") == ANSWERED:
        raise SurveyClosed(_("This survey was answered already. Thank you!"), ANSWERED)
    expires = aware(survey.get("expires_at"))
    if survey.get("status") == EXPIRED or (expires is not None and expires <= clock.now()):
        raise SurveyClosed(_("This survey has expired."), EXPIRED)


def open_survey(rs: Records, token: str) -> dict[str, Any]:
    """The survey a link opens, with `case_number` and `case_subject` of its case; raises
    SurveyNotFound (404) or SurveyClosed (410)."""
    with rs.engine.connect() as conn:
        survey = _by_token(conn, rs, token)
        _check_open(survey)
        table = rs.table(CASE)
        cols = rs.spec(CASE).columns
        case = conn.execute(sa.select(table.c[cols["number"]], table.c[cols["subject"]])
                            .where(table.c.id == survey["case"])).first()
    survey["case_number"] = case[0] if case is not None else None
    survey["case_subject"] = case[1] if case is not None else None
    return survey


def parse_rating(raw: Any) -> int:
    """A rating from 1 to 5 (form text or a number); ValidationFailed (422) otherwise."""
    text = str(raw).strip() if raw is not None and not isinstance(raw, bool) else ""
    if text.isdigit() and MIN_RATING <= int(text) <= MAX_RATING:
        return int(text)
    raise ValidationFailed({"rating": [_("Choose a rating from %(low)s to %(high)s.",
                                         low=MIN_RATING, high=MAX_RATING)]})


def parse_resolved(raw: Any) -> bool | None:
    """Yes / no (form text or a boolean); nothing: None; anything else is refused (422)."""
    if raw is None or isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if not text:
        return None
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValidationFailed({"resolved": [_("Answer yes or no.")]})


def submit(rs: Records, token: str, *, rating: Any, resolved: Any = None,
           comment: Any = None) -> dict[str, Any]:
    """Save the customer's answers once, as the system (audited); the survey as saved. Raises
    SurveyNotFound, SurveyClosed, or ValidationFailed naming the field (nothing saved)."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name, parse, raw in (("rating", parse_rating, rating),
                             ("resolved", parse_resolved, resolved)):
        try:
            values[name] = parse(raw)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    text = str(comment or "").replace("\x00", "").strip()
    if len(text) > MAX_COMMENT:
        errors["comment"] = [_("Write at most %(n)s characters.", n=MAX_COMMENT)]
    if errors:
        raise ValidationFailed(errors)
    values.update(comment=text or None, status=ANSWERED, answered_at=clock.now())
    with rs.transaction() as conn:
        survey = _by_token(conn, rs, token)
        _check_open(survey)
        change = rs._update(conn, SURVEY, int(survey["id"]), values, SYSTEM,
                            int(survey["version"]))
    rs._after_commit(change)  # the plugin's case update follows (app/surveys/action.py)
    return dict(change.record)


# --- reading ------------------------------------------------------------------------------------
def latest_of_case(rs: Records, case_id: int) -> dict[str, Any] | None:
    """The newest survey of a case that the records service's actor may read (None: none, or
    they may read no survey)."""
    if SURVEY not in rs.meta.entities or not rs.access().allows(SURVEY, "read"):
        return None
    table = rs.table(SURVEY)
    column = table.c[rs.spec(SURVEY).columns["case"]]
    stmt = (rs.select(SURVEY).where(column == case_id, table.c.deleted_at.is_(None))
            .order_by(table.c.id.desc()).limit(1))
    with rs.engine.connect() as conn:
        row = conn.execute(stmt).first()
    return dict(row._mapping) if row is not None else None
