"""Generate a document (a quote's PDF) for a record, and list the versions made.

`generate` renders the document's template (as the live config version holds it) for a record
the acting user may read and change, stores the PDF as an attachment of the record and records
it in `sys_document` as the next version; older versions stay. `versions` lists them.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app import clock
from app.documents import context as dctx
from app.documents import render
from app.i18n import _, get_locale, use_locale
from app.meta.documents import FIELD_REF, SHIPPED, DocumentDef
from app.meta.types import label_text
from app.model.documents import documents as table
from app.model.system import attachments, users
from app.records import SYSTEM, Actor, Forbidden, NotFound, RecordError, Records
from app.records.attachments import AttachmentStore, aware, guess_type, safe_name
from app.records.values import evaluate, with_formulas

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)

#: feature section of the documents
SECTION = "documents"
#: the largest company logo read from a documents folder
MAX_LOGO = 1024 * 1024
#: tries when another user takes the same version number at the same moment
ATTEMPTS = 3


class ConditionFails(RecordError):
    """The record does not meet the document's `when`."""

    status = 422


@dataclass(frozen=True)
class Setup:
    """What a deployment adds to a document: where attachments go, the company shown on it
    (config.yaml `company:`; its logo as a data: URI) and the default currency."""

    attachments_dir: Path
    company: Mapping[str, str] = field(default_factory=dict)
    currency: str = "CNY"

    @classmethod
    def from_settings(cls, settings: Settings) -> Setup:
        company = {"name": settings.name, **settings.company}
        logo = company.get("logo", "")
        if logo and not logo.startswith("data:"):
            company["logo"] = _logo(logo, settings.document_dirs)
        return cls(settings.attachments_dir, company, settings.currency)


def _logo(name: str, dirs: list[Path]) -> str:
    """The logo file `name` of the documents folders as a data: URI ("" when not found)."""
    for folder in [*reversed(dirs), SHIPPED]:
        path = folder / name
        if path.is_file() and "/" not in name and "\\" not in name and ".." not in name:
            if path.stat().st_size > MAX_LOGO:
                log.warning("company logo %s is larger than 1 MB: left out", path)
                return ""
            kind = mimetypes.guess_type(path.name)[0] or "image/png"
            return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    log.warning("company logo %s is in no documents folder: left out", name)
    return ""


@dataclass(frozen=True)
class GeneratedDocument:
    attachment_id: int
    version: int
    filename: str
    size: int


@dataclass(frozen=True)
class DocumentVersion:
    """One generated version of a document of a record."""

    id: int
    document: str
    label: str
    version: int
    attachment_id: int
    filename: str
    size: int
    created_at: datetime
    created_by: str | None
    record_version: int | None
    #: the attachment was removed (its bytes cannot be downloaded any more)
    removed: bool


# --- the config --------------------------------------------------------------------------
def documents_of(rs: Records, entity: str) -> list[DocumentDef]:
    """The documents of `entity` in the live config version, by name."""
    found = rs.meta.feature(SECTION)
    return [d for _n, d in sorted(found.items()) if d.entity == entity]


def document(rs: Records, name: str, entity: str | None = None) -> DocumentDef:
    """The document `name` (of `entity` when given); NotFound otherwise."""
    found: DocumentDef | None = rs.meta.feature(SECTION).get(name)
    if found is None or (entity is not None and found.entity != entity):
        raise NotFound(_("There is no document '%(name)s'.", name=name))
    return found


def document_label(d: DocumentDef, locale: str | None = None) -> str:
    return label_text(d.label, locale or get_locale(), d.name)


def as_actor(rs: Records, actor: Actor) -> Records:
    """The records service reading as `actor`."""
    if rs.actor == actor:
        return rs
    return Records(rs.engine, rs.models, plugins=rs.plugins, registry=rs.registry, actor=actor)


def holds(rs: Records, d: DocumentDef, record_id: int) -> bool:
    """Whether the record meets the document's `when` (read whole: fields hidden from the user
    still count)."""
    if not d.when:
        return True
    whole = as_actor(rs, SYSTEM).get(d.entity, record_id)
    spec = rs.spec(d.entity)
    return evaluate(spec.expr(d.when), with_formulas(spec, whole)) is True


def refusal(rs: Records, d: DocumentDef, record_id: int) -> RecordError | None:
    """Why the user of `rs` may not generate `d` for the record now, or None."""
    try:
        rs.get(d.entity, record_id)
    except (NotFound, Forbidden) as exc:
        return exc
    if not rs.permits(d.entity, record_id, "edit"):
        return Forbidden(_("You may see this record but not change it, so you cannot attach "
                           "documents to it."))
    if not holds(rs, d, record_id):
        return ConditionFails(_("%(document)s cannot be made for this record: it must meet "
                                "%(when)s.", document=document_label(d), when=d.when))
    return None


# --- generating ---------------------------------------------------------------------------
def _filename(d: DocumentDef, record: dctx.Row) -> str:
    """The file name of the PDF: `filename` with the record's values, else the document's
    name and the record id; always .pdf."""
    pattern = d.filename or f"{d.name}-{{id}}.pdf"
    def value(m: re.Match[str]) -> str:
        try:
            return record[m.group(1).strip()]
        except KeyError:
            return ""

    text = FIELD_REF.sub(value, pattern)
    name = safe_name(text)
    stem = name[:-4] if name.lower().endswith(".pdf") else name
    return (stem.strip(" .-_") or d.name)[:180]


def _next_version(conn: sa.Connection, d: DocumentDef, record_id: int) -> int:
    current = conn.execute(sa.select(sa.func.max(table.c.version)).where(
        table.c.entity == d.entity, table.c.record_id == record_id,
        table.c.document == d.name)).scalar()
    return int(current or 0) + 1


def _render(rs: Records, actor: Actor, d: DocumentDef, record: dict[str, Any], setup: Setup,
            version: int) -> tuple[bytes, str]:
    """The PDF and its file name (without the version)."""
    meta = rs.meta
    e = meta.entities[d.entity]
    currency = str(record.get(d.currency) or "") if d.currency else ""
    fmt = dctx.Formatter(meta, actor.locale or get_locale(), currency or setup.currency)
    main, lines = dctx.rows_for(rs, d, record, fmt)
    stem = _filename(d, main)
    now = clock.now()
    line_entity = meta.entities.get(d.lines.entity) if d.lines is not None else None
    names = dctx.Loader(rs, fmt).user_names([actor.id]) if actor.id else {}
    context = {
        "record": main, "raw": main.raw, "lines": lines, "company": dict(setup.company),
        "now": now, "today": now.date(), "locale": fmt.locale, "currency": fmt.currency,
        "labels": dctx.labels_of(e, fmt.locale),
        "line_labels": dctx.labels_of(line_entity, fmt.locale),
        "document": {"name": d.name, "label": document_label(d, fmt.locale),
                     "version": version, "filename": f"{stem}.pdf"},
        "user": {"username": actor.username,
                 "name": names.get(actor.id or 0, actor.username)},
    }
    tools = render.filters(fmt.money, fmt.number, fmt.when)
    with use_locale(fmt.locale):
        text = render.html(d, context, tools)
    return render.pdf(d, text), stem


def generate(rs: Records, actor: Actor, document_name: str, record_id: int,
             setup: Setup) -> GeneratedDocument:
    """Render `document_name` for the record as `actor` and store it as its next version.
    NotFound (no such document or record, or the actor may not read it), Forbidden (may not
    change it), Locked (pending approval), ConditionFails (`when`), RenderFailed (the
    template)."""
    from app.workflow.approvals.lock import refuse_if_locked

    rs = as_actor(rs, actor)
    d = document(rs, document_name)
    problem = refusal(rs, d, record_id)
    if problem is not None:
        raise problem
    refuse_if_locked(rs, d.entity, record_id, actor)
    record = rs.get(d.entity, record_id)
    store = AttachmentStore(rs.engine, setup.attachments_dir)
    for attempt in range(ATTEMPTS):
        with rs.engine.connect() as conn:
            version = _next_version(conn, d, record_id)
        data, stem = _render(rs, actor, d, record, setup, version)
        key, size = store.put(data)
        name = f"{stem}-v{version}.pdf"
        try:
            with rs.transaction() as conn:
                attachment_id = _save(conn, d, record, actor, version, name, key, size)
        except sa.exc.IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
            continue  # someone else took this version number: render it as the next one
        return GeneratedDocument(attachment_id, version, name, size)
    raise AssertionError("unreachable")


def _save(conn: sa.Connection, d: DocumentDef, record: Mapping[str, Any], actor: Actor,
          version: int, name: str, key: str, size: int) -> int:
    now = clock.now()
    attachment_id = int(conn.execute(attachments.insert().values(
        entity=d.entity, record_id=int(record["id"]), name=name, content_type=guess_type(name),
        size=size, key=key, uploaded_by_id=actor.id, uploaded_at=now,
    ).returning(attachments.c.id)).scalar_one())
    conn.execute(table.insert().values(
        entity=d.entity, record_id=int(record["id"]), document=d.name, version=version,
        attachment_id=attachment_id, record_version=record.get("version"),
        created_by=actor.id, created_at=now))
    return attachment_id


# --- versions -----------------------------------------------------------------------------
def versions(rs: Records, entity: str, record_id: int, *, document_name: str | None = None
             ) -> list[DocumentVersion]:
    """The generated versions of a record's documents, newest first (NotFound when the user
    of `rs` may not read the record)."""
    rs.get(entity, record_id)
    stmt = (sa.select(table, attachments.c.name, attachments.c.size,
                      attachments.c.deleted_at, users.c.full_name, users.c.username)
            .select_from(table.join(attachments, attachments.c.id == table.c.attachment_id)
                         .outerjoin(users, users.c.id == table.c.created_by))
            .where(table.c.entity == entity, table.c.record_id == record_id)
            .order_by(table.c.created_at.desc(), table.c.id.desc()))
    if document_name is not None:
        stmt = stmt.where(table.c.document == document_name)
    defs = rs.meta.feature(SECTION)
    out: list[DocumentVersion] = []
    with rs.engine.connect() as conn:
        for r in conn.execute(stmt):
            d = defs.get(r.document)
            out.append(DocumentVersion(
                id=int(r.id), document=r.document,
                label=document_label(d) if d is not None else r.document,
                version=int(r.version), attachment_id=int(r.attachment_id), filename=r.name,
                size=int(r.size), created_at=aware(r.created_at),
                created_by=(r.full_name or r.username) if r.username else None,
                record_version=r.record_version, removed=r.deleted_at is not None))
    return out
