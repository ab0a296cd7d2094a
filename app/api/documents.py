"""`/api/v1/<entity>/<id>/documents`: documents made from templates (app/documents).

- `POST .../documents/<name>`: generate the next version (the caller must be able to change the
  record, and it must meet the document's `when`); 201 with its version, attachment id, file
  name, size and download URL. 404 (no such record or document), 403, 422 (`when` fails, the
  template breaks), 423 (locked by a pending approval).
- `GET .../documents`: the versions made, newest first (`?document=<name>` for one document).
- `GET .../documents/<name>/<version>`: the PDF of one version.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound

from app.api.auth import api_actor
from app.documents import DocumentVersion, document, generate, versions
from app.i18n import _
from app.meta.types import IDENTIFIER
from app.web.attachments import send, store
from app.web.detail import check_id
from app.web.documents import download_url, setup
from app.web.state import entity_or_404, records

bp = Blueprint("api_documents", __name__)
PREFIX = "/api/v1"


def api_download_url(entity: str, record_id: int, name: str, version: int) -> str:
    return f"{PREFIX}/{entity}/{record_id}/documents/{name}/{version}"


def version_json(entity: str, record_id: int, v: DocumentVersion) -> dict[str, Any]:
    return {"document": v.document, "label": v.label, "version": v.version,
            "attachment_id": v.attachment_id, "filename": v.filename, "size": v.size,
            "created_at": v.created_at.isoformat(), "created_by": v.created_by,
            "record_version": v.record_version, "removed": v.removed,
            "download_url": None if v.removed
            else api_download_url(entity, record_id, v.document, v.version),
            "web_url": None if v.removed
            else download_url(entity, record_id, v.attachment_id)}


@bp.post("/<entity>/<int:id>/documents/<name>")
def make(entity: str, id: int, name: str) -> tuple[Response, int]:
    e = entity_or_404(entity)
    check_id(id)
    if request.data and request.get_json(silent=True) not in ({}, None):
        raise BadRequest(_("This request takes no body."))
    rs = records()
    document(rs, name, e.name)
    made = generate(rs, api_actor(), name, id, setup())
    found = next(v for v in versions(rs, e.name, id, document_name=name)
                 if v.version == made.version)
    return jsonify(version_json(e.name, id, found)), 201


@bp.get("/<entity>/<int:id>/documents")
def list_versions(entity: str, id: int) -> Response:
    e = entity_or_404(entity)
    check_id(id)
    name = request.args.get("document")
    if name is not None and not IDENTIFIER.match(name):
        raise BadRequest(_("'document' must be the name of a document."))
    found = versions(records(), e.name, id, document_name=name)
    return jsonify({"data": [version_json(e.name, id, v) for v in found]})


@bp.get("/<entity>/<int:id>/documents/<name>/<int:version>")
def download(entity: str, id: int, name: str, version: int) -> Response:
    e = entity_or_404(entity)
    check_id(id, version)
    found = next((v for v in versions(records(), e.name, id, document_name=name)
                  if v.version == version and not v.removed), None)
    if found is None:
        raise NotFound(_("There is no version %(version)s of this document.", version=version))
    st = store()
    attachment = st.get(e.name, id, found.attachment_id)
    return send(st.open(attachment), attachment.name, attachment.content_type)
