"""Documents on record pages (app/documents): a "Generate …" button for each document of the
entity whose `when` the record meets (for users who may change it), its POST (CSRF) rendering
the PDF and sending the browser to its download, and the "Documents" card listing the versions
made (download, and "Email to customer" when the email compose page exists).

A page module (its blueprint is listed in app/web/pages.py) and a built-in plugin (its hooks:
app/plugins.py BUILTIN_PLUGINS), which also nests the documents API (app/api/documents.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.documents import Setup, document, document_label, documents_of, generate, holds, versions
from app.fields.special import size_text
from app.i18n import _
from app.plugins import hookimpl
from app.web.detail import check_id
from app.web.recordext import RecordAction, RecordPanel
from app.web.state import actor, entity_or_404, records, state

bp = Blueprint("documents", __name__)
#: the endpoint of the email compose page (app/web/email.py), linked to when it exists
COMPOSE = "email.compose"


def setup() -> Setup:
    """The deployment's part of a document (company, logo, currency, attachments folder), made
    once per app (one app per config version; settings do not change while it runs)."""
    found: Setup | None = current_app.extensions.get("crm_documents_setup")
    if found is None:
        found = current_app.extensions["crm_documents_setup"] = Setup.from_settings(
            state().ctx.settings)
    return found


def download_url(entity: str, record_id: int, attachment_id: int) -> str:
    return f"/{entity}/{record_id}/attachments/{attachment_id}"


@bp.post("/<entity>/<int:record_id>/documents/<name>")
@login_required
def make(entity: str, record_id: int, name: str) -> ResponseReturnValue:
    """Generate the document and download it (the records service's refusals become the
    error page: 404, 403, 423 locked, 422 `when` fails or the template breaks)."""
    check_id(record_id)
    entity_or_404(entity)
    rs = records()
    document(rs, name, entity)
    made = generate(rs, actor(), name, record_id, setup())
    return redirect(download_url(entity, record_id, made.attachment_id), 303)


# --- record page extensions ----------------------------------------------------------------
@hookimpl
def crm_record_actions(entity: str, record: dict[str, Any]) -> list[RecordAction] | None:
    rs = records()
    found = documents_of(rs, entity)
    rid = int(record["id"])
    if not found or not rs.permits(entity, rid, "edit"):
        return None
    return [RecordAction(f"document-{d.name}",
                         _("Generate %(document)s", document=document_label(d)),
                         f"/{entity}/{rid}/documents/{d.name}", method="post",
                         style="outline-primary")
            for d in found if holds(rs, d, rid)]


@hookimpl
def crm_record_panels(entity: str, record: dict[str, Any]) -> list[RecordPanel] | None:
    rs = records()
    if not documents_of(rs, entity):
        return None
    rid = int(record["id"])
    rows = [{"version": v.version, "label": v.label, "when": v.created_at,
             "who": v.created_by or "—", "size": size_text(v.size), "name": v.filename,
             "removed": v.removed, "url": download_url(entity, rid, v.attachment_id),
             "email_url": f"/{entity}/{rid}/email/new?attach={v.attachment_id}"}
            for v in versions(rs, entity, rid)]
    email = COMPOSE in current_app.view_functions
    return [RecordPanel("documents", _("Documents"), "documents/_panel.html",
                        {"versions": rows, "email": email}, order=50)]


@hookimpl
def crm_api_blueprints() -> list[Blueprint]:
    from app.api.documents import bp as api

    return [api]
