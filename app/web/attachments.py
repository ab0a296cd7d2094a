"""Attachments of a record: upload (multipart, CSRF), download (always as a file to save, never
shown inline), remove. Files of `file` fields are downloaded here too.

The record must exist and not be in the recycle bin (404 otherwise). The bytes and rows are kept
by `app.records.attachments.AttachmentStore`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO

from flask import Blueprint, Response, abort, flash, redirect, request, send_file
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app.i18n import _
from app.records.attachments import AttachmentStore, TooLarge, safe_name
from app.records.errors import Forbidden
from app.web.detail import check_id, detail_url
from app.web.errors import wants_json
from app.web.state import actor, entity_or_404, records, state

bp = Blueprint("attachments", __name__)

#: content types a browser could run or render as a page: always sent as plain bytes
ACTIVE_TYPES = ("html", "xml", "javascript", "ecmascript", "svg")


def store() -> AttachmentStore:
    st = state()
    return AttachmentStore(st.ctx.engine, st.ctx.settings.attachments_dir)


def live_record(entity: str, record_id: int) -> None:
    """404 unless the entity exists and the record is live."""
    entity_or_404(entity)
    check_id(record_id)
    records().get(entity, record_id)


def editable_record(entity: str, record_id: int) -> None:
    """Like `live_record`, and 403 unless the user may change the record (attaching and
    removing files changes it)."""
    live_record(entity, record_id)
    if not records().permits(entity, record_id, "edit"):
        raise Forbidden(_("You may see this record but not change it."))
    from app.workflow.approvals.lock import refuse_if_locked

    refuse_if_locked(records(), entity, record_id, actor())


def back(entity: str, record_id: int) -> ResponseReturnValue:
    return redirect(detail_url(entity, record_id) + "#attachments", 303)


@bp.post("/<entity>/<int:record_id>/attachments")
@login_required
def upload(entity: str, record_id: int) -> ResponseReturnValue:
    editable_record(entity, record_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        message = _("Choose a file to attach.")
        if wants_json():
            return {"error": {"status": 400, "message": message}}, 400
        flash(message, "danger")
        return back(entity, record_id)
    try:
        saved = store().save(entity, record_id, upload.filename, upload.stream,
                             user_id=int(current_user.id))
    except TooLarge as exc:
        if wants_json():
            return {"error": {"status": exc.status, "message": exc.message}}, exc.status
        flash(exc.message, "danger")
        return back(entity, record_id)
    if wants_json():
        return {"id": saved.id, "name": saved.name, "size": saved.size,
                "content_type": saved.content_type}, 201
    flash(_("%(name)s was attached.", name=saved.name), "success")
    return back(entity, record_id)


@bp.get("/<entity>/<int:record_id>/attachments/<int:attachment_id>")
@login_required
def download(entity: str, record_id: int, attachment_id: int) -> ResponseReturnValue:
    live_record(entity, record_id)
    check_id(attachment_id)
    st = store()
    found = st.get(entity, record_id, attachment_id)
    return send(st.open(found), found.name, found.content_type)


@bp.post("/<entity>/<int:record_id>/attachments/<int:attachment_id>/delete")
@login_required
def remove(entity: str, record_id: int, attachment_id: int) -> ResponseReturnValue:
    editable_record(entity, record_id)
    check_id(attachment_id)
    gone = store().delete(entity, record_id, attachment_id)
    flash(_("%(name)s was removed.", name=gone.name), "success")
    return back(entity, record_id)


@bp.get("/<entity>/<int:record_id>/file/<field>")
@login_required
def field_file(entity: str, record_id: int, field: str) -> ResponseReturnValue:
    """The file kept in a `file` field of the record."""
    e = entity_or_404(entity)
    check_id(record_id)
    f = e.fields.get(field)
    if f is None or f.type != "file" or f.hidden:
        abort(404)
    value = records().get(entity, record_id).get(field)
    if not isinstance(value, Mapping) or not isinstance(value.get("key"), str):
        abort(404)
    name = str(value.get("name") or "file")
    return send(store().open_key(value["key"]), name,
                str(value.get("content_type") or "application/octet-stream"))


def send(stream: IO[bytes], name: str, content_type: str) -> Response:
    """The bytes as a download named `name` (RFC 5987 for non-ASCII names); types a browser
    would render or run are sent as plain bytes."""
    if any(word in content_type.lower() for word in ACTIVE_TYPES):
        content_type = "application/octet-stream"
    resp = send_file(stream, mimetype=content_type, as_attachment=True,
                     download_name=safe_name(name),
                     conditional=False, etag=False, max_age=0)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
