"""The detail page of a record (fields by layout, related lists, timeline, attachments), its
delete with confirmation, and the recycle bin with restore.

Views are thin: reads and writes go through the records service (`records()`), related lists and
the timeline through `app.records.related`, files through `app.records.attachments`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required
from markupsafe import Markup, escape

from app.fields.special import size_text
from app.fields.text import sanitize_html
from app.i18n import _, format_datetime, get_locale
from app.meta.types import EntityDef, FieldDef
from app.records import Conflict, NotFound
from app.records import related as rel
from app.records.attachments import aware
from app.records.errors import Forbidden
from app.records.values import is_empty, visibility
from app.textnum import small_int
from app.web import formbuild
from app.web.state import actor, entity_or_404, records
from app.web.templating import show

bp = Blueprint("detail", __name__)

#: the largest id a record can have (PostgreSQL INTEGER); larger ones are simply not found
MAX_ID = 2**31 - 1
#: picklist fields shown as the stage badge in the header, in order of preference
STAGE_FIELDS = ("stage", "status")
EMPTY = Markup('<span class="text-muted">—</span>')


def check_id(*ids: int) -> None:
    if any(not 0 < i <= MAX_ID for i in ids):
        abort(404)


def detail_url(entity: str, record_id: int) -> str:
    return f"/{entity}/{record_id}"


# --- titles and names of what a page shows ---------------------------------------------------
class Refs:
    """Collects the records and users a page names, then fetches their titles in one query per
    entity (and one for users)."""

    def __init__(self) -> None:
        self.ids: dict[str, set[int]] = {}
        self.user_ids: set[int] = set()
        self.titles: dict[str, dict[int, str]] = {}
        self.names: dict[int, str] = {}

    def add(self, f: FieldDef | None, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or f is None:
            return
        if f.type in rel.LINK_TYPES:
            self.ids.setdefault(str(f.opt("to")), set()).add(value)
        elif f.type == "user":
            self.user_ids.add(value)

    def add_record(self, entity: EntityDef, rec: Mapping[str, Any],
                   fields: Iterable[FieldDef] | None = None) -> None:
        for f in fields if fields is not None else entity:
            self.add(f, rec.get(f.name))
        self.user_ids.update(int(rec[k]) for k in ("owner_id", "created_by_id", "updated_by_id")
                             if rec.get(k) is not None)

    def resolve(self, conn: sa.Connection | None = None) -> Refs:
        rs = records()
        for entity, ids in self.ids.items():
            if entity in rs.meta.entities:
                self.titles[entity] = rs.titles(entity, sorted(ids), conn)
        self.names = rel.user_names(rs.engine, self.user_ids, conn)
        return self

    def name(self, user_id: int | None) -> str:
        if user_id is None:
            return _("System")
        return self.names.get(int(user_id), f"#{user_id}")


def record_title(e: EntityDef, rec: Mapping[str, Any]) -> str:
    value = rec.get(e.title) if e.title else None
    if value in (None, ""):
        return f"{e.label_for(get_locale())} #{rec['id']}"
    return str(value)


def value_html(f: FieldDef | None, value: Any, refs: Refs, *, link: bool = True,
               file_url: str | None = None) -> Markup:
    """A value for a page: lookups as links with the target's title, users by full name, files
    as download links, rich text as sanitised HTML, empty values as a muted dash."""
    if is_empty(value):
        return EMPTY
    if f is None:  # a field removed since
        return escape(str(value))
    if f.type in rel.LINK_TYPES and isinstance(value, int):
        to = str(f.opt("to"))
        title = refs.titles.get(to, {}).get(value, f"#{value}")
        if not link:
            return escape(title)
        return Markup('<a href="{}">{}</a>').format(detail_url(to, value), title)
    if f.type == "user" and isinstance(value, int):
        return escape(refs.name(value))
    if f.type == "rich_text":
        return Markup(sanitize_html(str(value)))
    if f.type == "file" and isinstance(value, Mapping):
        name, size = str(value.get("name", "")), value.get("size")
        text = Markup("{} <small class=\"text-muted\">({})</small>").format(
            name, size_text(size) if isinstance(size, int) else "")
        return Markup('<a href="{}">{}</a>').format(file_url, text) if file_url else text
    if f.type == "url" and link and str(value).lower().startswith(("http://", "https://")):
        return Markup('<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>').format(
            value, value)
    if f.type == "email" and link:
        return Markup('<a href="mailto:{}">{}</a>').format(value, value)
    if f.type == "phone" and link:
        return Markup('<a href="tel:{}">{}</a>').format(str(value).replace(" ", ""), value)
    try:
        shown = show(f, value)
    except (TypeError, ValueError, ArithmeticError):
        shown = str(value)
    if shown == "":
        return EMPTY
    if f.type == "text":
        return Markup('<span style="white-space: pre-line">{}</span>').format(shown)
    return escape(shown)


# --- layout ----------------------------------------------------------------------------------
def sections(e: EntityDef, fields: Iterable[FieldDef]) -> list[formbuild.Section]:
    """The entity's `layout:` sections with the fields shown, as the forms lay them out."""
    shown = {f.name for f in fields}
    return formbuild.sections(e, get_locale(), lambda f: f.name in shown)


def stage_field(e: EntityDef) -> FieldDef | None:
    for name in STAGE_FIELDS:
        f = e.fields.get(name)
        if f is not None and f.type == "picklist" and not f.hidden:
            return f
    return None


# --- pages -----------------------------------------------------------------------------------
@bp.get("/<entity>/<int:record_id>")
@login_required
def detail(entity: str, record_id: int) -> ResponseReturnValue:
    e = entity_or_404(entity)
    check_id(record_id)
    rs = records()
    from app.web.attachments import store

    with rs.engine.connect() as conn:  # one connection for the page's reads
        try:
            rec = rs.get(entity, record_id, conn=conn)
        except NotFound:
            return gone(e, record_id)
        shown = visibility(rs.spec(entity), rec)
        fields = [f for f in e if not f.hidden and shown.get(f.name, True)]
        refs = Refs()
        refs.add_record(e, rec, fields)
        lists = rel.related_lists(rs, entity, record_id, conn=conn)
        for rl in lists:
            for row in rl.rows:
                refs.add_record(rl.link.child, row, rl.columns)
        attachments = store().list(entity, record_id)
        events = rel.timeline(rs, entity, record_id, attachments=attachments, conn=conn)
        for target, ids in rel.lookup_ids(events).items():
            refs.ids.setdefault(target, set()).update(ids)
        refs.user_ids |= rel.user_ids(events)
        for ev in events:
            if ev.record is not None and ev.entity:
                refs.add_record(rs.entity(ev.entity), ev.record)
        refs.resolve(conn)

    def val(f: FieldDef | None, value: Any, link: bool = True) -> Markup:
        url = f"{detail_url(entity, record_id)}/file/{f.name}" if f is not None else None
        return value_html(f, value, refs, link=link, file_url=url if link else None)

    return render_template(
        "detail/show.html", e=e, rec=rec, title=record_title(e, rec), refs=refs, val=val,
        sections=sections(e, fields), stage=stage_field(e), lists=lists, events=events,
        attachments=attachments, record_title=record_title, entities=rs.meta.entities,
        autonumbers=[f for f in e if f.type == "autonumber" and rec.get(f.name)],
        timeline_links=timeline_links(entity, record_id), size_text=size_text,
        max_upload=size_text(store().max_size))


def timeline_links(entity: str, record_id: int) -> list[tuple[str, str]]:
    """(label, URL) of the "Log a call / New task / New note" buttons, for the activity and
    note entities when they can point at this one (the form is prefilled from the URL)."""
    rs = records()
    out: list[tuple[str, str]] = []
    activity = rs.meta.entities.get("activity")
    link = writable_link(activity, entity)
    if activity is not None and link and rs.access().allows("activity", "create"):
        base = f"/activity/new?{link}={record_id}"
        kinds = {c.value for c in activity.fields["kind"].choices} \
            if "kind" in activity.fields else set()
        done = "status" in activity.fields and "done" in {
            c.value for c in activity.fields["status"].choices}
        out.append((_("Log a call"), base + ("&kind=call" if "call" in kinds else "")
                    + ("&status=done" if done else "")))
        out.append((_("New task"), base + ("&kind=task" if "task" in kinds else "")))
    note = rs.meta.entities.get("note")
    link = writable_link(note, entity)
    if link and rs.access().allows("note", "create"):
        out.append((_("New note"), f"/note/new?{link}={record_id}"))
    return out


def writable_link(child: EntityDef | None, entity: str) -> str | None:
    """The first lookup of `child` to `entity` a user may fill in, by name."""
    if child is None:
        return None
    return next((f.name for f in child if f.type in rel.LINK_TYPES and f.opt("to") == entity
                 and not f.read_only and not f.hidden), None)


def gone(e: EntityDef, record_id: int) -> ResponseReturnValue:
    """A deleted record's page: 404 with a notice linking to the recycle bin."""
    rec = records().get(e.name, record_id, deleted=True)  # NotFound when it never existed
    refs = Refs()
    if rec.get("updated_by_id") is not None:
        refs.user_ids.add(int(rec["updated_by_id"]))
    refs.resolve()
    return render_template("detail/deleted.html", e=e, rec=rec, title=record_title(e, rec),
                           refs=refs), 404


@bp.route("/<entity>/<int:record_id>/delete", methods=["GET", "POST"])
@login_required
def delete(entity: str, record_id: int) -> ResponseReturnValue:
    """POST with `confirm=1` moves the record (and its master-detail children) to the recycle
    bin; without it (or on GET) the confirmation page is shown."""
    e = entity_or_404(entity)
    check_id(record_id)
    rs = records()
    rec = rs.get(entity, record_id)
    if not rs.permits(entity, record_id, "delete"):
        raise Forbidden(_("You may see this record but not delete it."))
    title = record_title(e, rec)
    if request.method == "GET" or request.form.get("confirm") != "1":
        return render_template("detail/confirm_delete.html", e=e, rec=rec, title=title,
                               children=rel.detail_children(rs, entity, record_id))
    version = form_version()
    try:
        rs.delete(entity, record_id, actor(), version=version)
    except Conflict as exc:
        flash(exc.message, "danger")
        return redirect(detail_url(entity, record_id), 303)
    flash(Markup('{} <a href="{}" class="alert-link">{}</a>').format(
        _("%(title)s was moved to the recycle bin.", title=title), f"/{entity}/bin",
        _("Open the recycle bin")), "success")
    return redirect(f"/{entity}/", 303)


def form_version() -> int | None:
    raw = (request.form.get("version") or "").strip()
    if not raw:
        return None
    number = small_int(raw, MAX_ID)
    if number is None:
        abort(400)
    return number


@bp.post("/<entity>/<int:record_id>/restore")
@login_required
def restore(entity: str, record_id: int) -> ResponseReturnValue:
    e = entity_or_404(entity)
    check_id(record_id)
    rec = records().restore(entity, record_id, actor())
    flash(_("%(title)s was restored.", title=record_title(e, rec)), "success")
    return redirect(detail_url(entity, record_id), 303)


@bp.get("/<entity>/bin")
@login_required
def recycle_bin(entity: str) -> ResponseReturnValue:
    e = entity_or_404(entity)
    rs = records()
    rows = rs.recycle_bin(entity)
    columns = rel.summary_columns(e, [], n=2)
    refs = Refs()
    for row in rows:
        refs.add_record(e, row, columns)
    refs.resolve()

    def val(f: FieldDef, value: Any) -> Markup:
        return value_html(f, value, refs, link=False)

    return render_template("detail/bin.html", e=e, rows=rows, columns=columns, refs=refs,
                           val=val, record_title=record_title)


@bp.app_template_global()
def field_label(entity: EntityDef, name: str) -> str:
    """The label of a field by name (`owner` and removed fields too), for the timeline."""
    f = entity.fields.get(name)
    if f is not None:
        return f.label_for(get_locale())
    if name == "owner":
        return _("Owner")
    return name



@bp.app_template_global()
def format_when(moment: datetime | None) -> str:
    """A moment in the user's language (stored times are UTC)."""
    return "" if moment is None else format_datetime(aware(moment))
