"""Personal data requests on the detail page of a person's record (admins only): download what
the CRM holds about them (JSON, or a ZIP with their attachments), and erase their personal data
after a confirmation page that lists what is erased and what is kept.

Thin: `app.records.privacy` gathers and erases; this module checks the role, renders and sends.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app.i18n import _, get_locale
from app.records import privacy
from app.web.attachments import store
from app.web.detail import check_id, detail_url, record_title
from app.web.seclog import who
from app.web.state import actor, entity_or_404, records

bp = Blueprint("privacy", __name__)


def admin_only() -> None:
    if not getattr(current_user, "is_admin", False):
        abort(403)


def person(entity: str, record_id: int) -> None:
    """403 for non-admins; 404 unless the entity holds personal fields and the id is sane."""
    admin_only()
    entity_or_404(entity)
    check_id(record_id)
    if not privacy.is_person_entity(records(), entity):
        abort(404)


def download_name(entity: str, record_id: int, ext: str) -> str:
    return f"personal-data-{entity}-{record_id}.{ext}"


@bp.get("/<entity>/<int:record_id>/personal-data.json")
@login_required
def export_json(entity: str, record_id: int) -> ResponseReturnValue:
    person(entity, record_id)
    rs = records()
    data = privacy.personal_data(rs, entity, record_id, store=store())
    privacy.record_export(rs, entity, record_id, actor(), who=who())
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{download_name(entity, record_id, "json")}"',
        "Cache-Control": "no-store"})


@bp.get("/<entity>/<int:record_id>/personal-data.zip")
@login_required
def export_zip(entity: str, record_id: int) -> ResponseReturnValue:
    person(entity, record_id)
    rs = records()
    files = store()
    data = privacy.personal_data(rs, entity, record_id, store=files)
    privacy.record_export(rs, entity, record_id, actor(), who=who())
    name = download_name(entity, record_id, "zip")
    return Response(privacy.zip_bytes(data, files), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.route("/<entity>/<int:record_id>/erase", methods=["GET", "POST"])
@login_required
def erase(entity: str, record_id: int) -> ResponseReturnValue:
    """GET: what would be erased and what kept; POST (`confirm=1`, CSRF): erase."""
    person(entity, record_id)
    e = entity_or_404(entity)
    rs = records()
    mode = request.values.get("mode") or "erase"
    if mode not in privacy.MODES:
        abort(400)
    if request.method == "POST" and request.form.get("confirm") == "1":
        done = privacy.erase(rs, entity, record_id, actor(), mode, store=store(), who=who())
        flash(_("The personal data of %(entity)s #%(id)s was erased: %(fields)s field(s), "
                "%(linked)s linked record(s), %(files)s attachment(s).",
                entity=e.label_for(get_locale()), id=record_id, fields=len(done.fields),
                linked=len(done.cascaded), files=done.attachments), "success")
        return redirect(detail_url(entity, record_id), 303)
    plan = privacy.erase_plan(rs, entity, record_id, mode)
    rec = rs.get(entity, record_id)
    return render_template("privacy/confirm_erase.html", e=e, rec=rec, plan=plan, mode=mode,
                           modes=privacy.MODES, title=record_title(e, rec))


@bp.app_template_global()
def personal_data_menu(entity: str) -> bool:
    """Whether the detail page of `entity` shows the "Personal data" menu (admins, person
    entities)."""
    return bool(getattr(current_user, "is_admin", False)) \
        and privacy.is_person_entity(records(), entity)
