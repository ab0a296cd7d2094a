"""Generated create and edit forms.

`/<entity>/new` (query arguments prefill fields: `/contact/new?account=3`) and
`/<entity>/<id>/edit` render the entity's form class (app.web.formbuild) in its YAML layout and
save through the records service. Refusals come back beside the fields (422) in the user's
language; a stale edit (someone saved after the form was opened) comes back as a conflict (409)
showing their changes, with the user's values kept and the form's version moved on, so saving
again deliberately applies them. `/<entity>/visibility` tells the form script which conditional
fields show and which are required for the values being typed.

File fields: an upload's bytes are stored under `attachments_dir/<sha256>` (app.records.attachments)
before the save, and the field keeps {name, size, content_type, key}; app.web.attachments serves
it at `/<entity>/<id>/file/<field>`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import login_required
from markupsafe import Markup
from wtforms import FileField
from wtforms.fields.core import Field

from app.fields import registry
from app.fields.base import FieldValueError
from app.fields.numbers import CURRENCY_SYMBOLS
from app.fields.special import size_text
from app.fields.text import sanitize_html
from app.i18n import _, get_locale
from app.meta.types import EntityDef, FieldDef
from app.records import RECORD, Conflict, RecordError, ValidationFailed
from app.records.attachments import KEY, AttachmentStore, TooLarge, guess_type, safe_name
from app.records.errors import Forbidden
from app.records.values import (
    OWNER,
    apply_defaults,
    coerce,
    required_now,
    validate,
    visibility,
    with_formulas,
)
from app.textnum import small_int
from app.web import formbuild
from app.web.formbuild import EntityForm, is_editable
from app.web.lookups import USERS, user_titles
from app.web.state import actor, entity_or_404, may, records, state
from app.web.templating import show

bp = Blueprint("forms", __name__)

#: the hidden input carrying the version an edit form was opened at
VERSION = "_version"


@dataclass
class Cell:
    """One field of a form page, with what its widget needs."""

    f: FieldDef
    field: Field | None  # None: shown as text (computed, read-only)
    kind: str
    visible: bool
    required: bool
    errors: list[str] = dataclasses.field(default_factory=list)
    value: Any = None  # the value of a read-only field
    titles: dict[int, str] = dataclasses.field(default_factory=dict)  # record titles of a lookup
    title: str = ""  # lookup input: the title of the chosen record
    url: str = ""  # lookup: the search URL; file: the download URL
    symbol: str = ""  # money: the currency symbol
    html: str = ""  # rich text: the sanitised HTML the editor starts with
    current: Mapping[str, Any] | None = None  # file: the stored file
    stored: str = ""  # file: an upload kept across a re-render (JSON)
    theirs: str | Markup | None = None  # conflict: the other person's value now

    @property
    def wide(self) -> bool:
        return self.kind in formbuild.WIDE_KINDS

    @property
    def file_size(self) -> str:
        size = (self.current or {}).get("size")
        return size_text(size) if isinstance(size, int) else ""


@dataclass
class PageSection:
    label: str
    col_class: str
    cells: list[Cell]


@dataclass
class ConflictRow:
    field: str
    label: str
    old: str | Markup
    new: str | Markup
    by: str


@dataclass
class Page:
    entity: EntityDef
    heading: str
    action: str
    cancel: str
    sections: list[PageSection]
    top_errors: list[str]
    has_errors: bool
    version: int | None = None
    record_id: int | None = None
    conditional: bool = False
    conflict: str = ""
    conflict_rows: list[ConflictRow] = dataclasses.field(default_factory=list)


# --- views -----------------------------------------------------------------------------------
@bp.route("/<entity>/new", methods=["GET", "POST"])
@login_required
def new(entity: str) -> ResponseReturnValue:
    e = entity_or_404(entity)
    if not may(e.name, "create"):
        raise Forbidden(_("You may not create %(entities)s.", entities=e.plural_for(
            get_locale())))
    cls = formbuild.form_class(current_app, e, get_locale())
    spec = records().spec(e.name)
    if request.method == "GET":
        form = cls(formdata=None)
        prefilled, errors = formbuild.read_values(form, e, request.args, partial=True)
        values = dict(prefilled)
        apply_defaults(spec, values, set(prefilled))
        formbuild.load(form, e, values)
        return _render(e, form, values, None, errors)
    form = cls(formdata=request.form)
    values, errors = formbuild.read_values(form, e, request.form)
    stored = _take_files(form, e, values, errors)
    shown = dict(values)
    apply_defaults(spec, shown, set(values))
    if errors:
        return _render(e, form, shown, None, _with_checks(e, values, None, errors),
                       stored=stored, status=422)
    try:
        created = records().create(e.name, values, actor())
    except ValidationFailed as exc:
        return _render(e, form, shown, None, exc.errors, stored=stored, status=422)
    return _saved(e, created["id"], _("%(entity)s “%(title)s” was created."))


@bp.route("/<entity>/<int:record_id>/edit", methods=["GET", "POST"])
@login_required
def edit(entity: str, record_id: int) -> ResponseReturnValue:
    e = entity_or_404(entity)
    cls = formbuild.form_class(current_app, e, get_locale())
    record = records().get(e.name, record_id)
    if not records().permits(e.name, record_id, "edit"):
        raise Forbidden(_("You may see this record but not change it."))
    if request.method == "GET":
        form = cls(formdata=None)
        formbuild.load(form, e, record)
        return _render(e, form, record, record, {}, version=record["version"])
    version = _posted_version()
    form = cls(formdata=request.form)
    values, errors = formbuild.read_values(form, e, request.form)
    stored = _take_files(form, e, values, errors)
    shown = {**record, **values}
    if errors:
        return _render(e, form, shown, record, _with_checks(e, values, record, errors),
                       version=version, stored=stored, status=422)
    try:
        records().update(e.name, record_id, values, actor(), version=version)
    except ValidationFailed as exc:
        return _render(e, form, shown, record, exc.errors, version=version, stored=stored,
                       status=422)
    except Conflict as exc:
        current = exc.current
        mine = _mine_only(e, values, exc)
        for name in set(values) - set(mine):  # untouched by me, changed by them: show theirs
            field = form.crm_field(name)
            if field is not None:
                field.raw_data = None
                field.data = formbuild.form_value(e.fields[name], field, current.get(name))
        return _render(e, form, {**current, **mine}, current, {},
                       version=int(current["version"]), stored=stored, conflict=exc,
                       status=409)
    return _saved(e, record_id, _("%(entity)s “%(title)s” was saved."))


@bp.route("/<entity>/visibility", methods=["POST"])
@login_required
def conditions(entity: str) -> ResponseReturnValue:
    """`{"visible": {field: bool}, "required": {field: bool}}` for the values being typed
    (`{field: text, list or bool}`, and `_id` on an edit form for the stored values)."""
    e = entity_or_404(entity)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return {"error": {"status": 400,
                          "message": _("Send the form's values as a JSON object.")}}, 400
    form = formbuild.form_class(current_app, e, get_locale())(formdata=None)
    typed = formbuild.json_values(form, e, payload)
    spec = records().spec(e.name)
    record_id = payload.get("_id")
    rid = small_int(record_id)
    if rid is not None:
        values = {**records().get(e.name, rid), **typed}
    else:
        values = dict(typed)
        apply_defaults(spec, values, set(typed))
    full = with_formulas(spec, values)
    return {"visible": {n: v for n, v in visibility(spec, full).items() if n in e.fields},
            "required": {f.name: required_now(spec, f, full)
                         or _always_required(form.crm_field(f.name)) for f in e}}


# --- saving ----------------------------------------------------------------------------------
def _posted_version() -> int:
    version = small_int(request.form.get(VERSION, ""))
    if version is None:
        raise RecordError(_("The form does not say which version of the record it edits. "
                            "Reload the page and try again."))
    return version


def _saved(e: EntityDef, record_id: int, message: str) -> ResponseReturnValue:
    title = records().titles(e.name, [record_id]).get(record_id, f"#{record_id}")
    flash(message % {"entity": e.label_for(get_locale()), "title": title}, "success")
    return redirect(f"/{e.name}/{record_id}")


def _with_checks(e: EntityDef, values: dict[str, Any], record: Mapping[str, Any] | None,
                 errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """When some text could not be read nothing is saved, but the other fields are still
    checked (required fields, rules) so that every problem shows at once."""
    spec = records().spec(e.name)
    given, problems = coerce(spec, values)
    if record is None:
        full = dict(given)
        apply_defaults(spec, full, set(given))
    else:
        full = {**{k: record.get(k) for k in spec.columns}, **given}
    for key, messages in validate(spec, full).items():
        problems.setdefault(key, messages)
    return {**problems, **errors}


def _store() -> AttachmentStore:
    st = state()
    return AttachmentStore(st.ctx.engine, st.ctx.settings.attachments_dir)


def _take_files(form: EntityForm, e: EntityDef, values: dict[str, Any],
                errors: dict[str, list[str]]) -> dict[str, str]:
    """Store the uploads of file fields (bytes under attachments_dir/<sha256>) and put their
    descriptions in `values`. Returns the uploads to keep in the form if it is shown again."""
    kept: dict[str, str] = {}
    for f in e:
        if not isinstance(form.crm_field(f.name), FileField):
            continue
        upload = request.files.get(f.name)
        if upload is not None and upload.filename:
            try:
                key, size = _store().put(upload.stream)
            except TooLarge as exc:
                errors[f.name] = [exc.message]
                continue
            name = safe_name(upload.filename)
            values[f.name] = {"name": name, "size": size, "key": key,
                              "content_type": upload.mimetype or guess_type(name)}
        elif request.form.get(f"{f.name}__clear"):
            values[f.name] = None
            continue
        elif request.form.get(f"{f.name}__stored"):
            found = _kept_upload(f, request.form[f"{f.name}__stored"])
            if found is None:
                continue
            values[f.name] = found
        else:
            continue
        kept[f.name] = json.dumps(values[f.name], ensure_ascii=False)
    return kept


def _kept_upload(f: FieldDef, raw: str) -> dict[str, Any] | None:
    """An upload stored by an earlier submit of this form, when it is one."""
    try:
        value = registry.get(f.type).to_python(f, json.loads(raw))
    except (ValueError, FieldValueError):
        return None
    if not isinstance(value, dict) or not KEY.match(str(value.get("key", ""))):
        return None
    return value if (_store().folder / value["key"]).is_file() else None


# --- the page --------------------------------------------------------------------------------
def _safe_next() -> str | None:
    target = request.args.get("next", "")
    if target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return None


def _render(e: EntityDef, form: EntityForm, values: Mapping[str, Any],
            record: Mapping[str, Any] | None, errors: Mapping[str, list[str]], *,
            version: int | None = None, stored: Mapping[str, str] | None = None,
            conflict: Conflict | None = None, status: int = 200) -> ResponseReturnValue:
    locale = get_locale()
    spec = records().spec(e.name)
    full = with_formulas(spec, values)
    shown = visibility(spec, full)
    include = is_editable if record is None else (lambda f: not f.hidden)
    layout = formbuild.sections(e, locale, include)
    _limit_stages(e, form, values, record)
    titles = _titles([f for s in layout for f in s.fields], values, record)
    theirs = _theirs(e, conflict) if conflict else {}
    sections: list[PageSection] = []
    placed: set[str] = set()
    for s in layout:
        cells = []
        for f in s.fields:
            placed.add(f.name)
            cell = _cell(e, f, form.crm_field(f.name), values, record,
                         titles.get(f.name, {}), stored or {})
            cell.errors = list(errors.get(f.name, ()))
            cell.visible = shown.get(f.name, True) or bool(cell.errors)  # never hide a problem
            cell.required = required_now(spec, f, full) or _always_required(cell.field)
            cell.theirs = theirs.get(f.name)
            cells.append(cell)
        sections.append(PageSection(s.label, s.col_class, cells))
    top = []
    for key, messages in errors.items():
        if key in placed:
            continue
        prefix = "" if key == RECORD else f"{_field_label(e, key)}: "
        top += [m if m.startswith(prefix) else prefix + m for m in messages]
    rid = int(record["id"]) if record is not None else None
    nxt = _safe_next()
    if rid is None:
        heading = _("New %(entity)s", entity=e.label_for(locale))
        action = url_for("forms.new", entity=e.name, next=nxt)
        cancel = nxt or f"/{e.name}/"
    else:
        title = records().titles(e.name, [rid]).get(rid, f"#{rid}")
        heading = _("Edit %(entity)s: %(title)s", entity=e.label_for(locale), title=title)
        action = url_for("forms.edit", entity=e.name, record_id=rid, next=nxt)
        cancel = nxt or f"/{e.name}/{rid}"
    page = Page(e, heading, action, cancel, sections, top, bool(errors), version, rid,
                conditional=any(f.visible_when or f.required_when for f in e),
                conflict=conflict.message if conflict else "",
                conflict_rows=_conflict_rows(e, conflict) if conflict else [])
    return render_template("forms/form.html", page=page, form=form), status


def _limit_stages(e: EntityDef, form: EntityForm, values: Mapping[str, Any],
                  record: Mapping[str, Any] | None) -> None:
    """A field a stage machine governs offers only where the user may move the record (a new
    record: where it may start), the stored value and the value typed."""
    from app.workflow.machine import allowed_moves, machines_for

    for name in machines_for(records().meta, e.name):
        field = form.crm_field(name)
        moves = allowed_moves(records(), e.name, record or {}, actor(), name)
        if field is None or moves is None:
            continue
        typed = values.get(name)
        keep = {*moves.to, moves.from_ or "", "" if typed is None else str(typed)}
        formbuild.limit_choices(field, keep)


def _always_required(field: Field | None) -> bool:
    """Whether the field type always requires a value (a master-detail link)."""
    return bool(field is not None and field.flags.required)


def _field_label(e: EntityDef, key: str) -> str:
    if key == OWNER:
        return _("Owner")
    f = e.fields.get(key)
    return f.label_for(get_locale()) if f is not None else key


def _cell(e: EntityDef, f: FieldDef, field: Field | None, values: Mapping[str, Any],
          record: Mapping[str, Any] | None, titles: dict[int, str],
          stored: Mapping[str, str]) -> Cell:
    if field is None:
        return Cell(f, None, "readonly", True, False, value=(record or {}).get(f.name),
                    titles=titles)
    kind = formbuild.widget_kind(field)
    cell = Cell(f, field, kind, True, False, titles=titles)
    value = values.get(f.name)
    if kind == "lookup":
        target = formbuild.lookup_target(field) or ""
        cell.url = f"/lookup/{USERS if target == 'user' else target}"
        if isinstance(value, int):
            cell.title = titles.get(value, f"#{value}")
    elif kind == "money":
        code = str((field.render_kw or {}).get("data-currency") or
                   state().ctx.settings.currency)
        cell.symbol = CURRENCY_SYMBOLS.get(code, code)
    elif kind == "rich_text":
        cell.html = sanitize_html(str(field._value() or ""))
    elif kind == "file":
        cell.stored = stored.get(f.name, "")
        kept = json.loads(cell.stored) if cell.stored else None
        cell.current = kept or (record or {}).get(f.name) or None
        if record is not None and not kept and cell.current:
            cell.url = f"/{e.name}/{record['id']}/file/{f.name}"  # app.web.attachments
    return cell


def _target(f: FieldDef) -> str | None:
    """The entity (or `user`) a relation field points to, else None."""
    target = getattr(registry.get(f.type), "target", None)
    return str(target(f)) if callable(target) else None


def _titles_of(target: str, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    if target == "user":
        return user_titles(ids)
    if target not in records().meta.entities:
        return {}
    return records().titles(target, sorted(ids))


def _titles(fields: list[FieldDef], values: Mapping[str, Any],
            record: Mapping[str, Any] | None = None) -> dict[str, dict[int, str]]:
    """field -> {id: title} of the records its value (a lookup) names: the record's stored
    links, and other values (typed or prefilled) only when the user may read their record."""
    wanted: dict[str, set[int]] = {}
    targets: dict[str, str] = {}
    for f in fields:
        target = _target(f)
        value = values.get(f.name)
        if not target or not isinstance(value, int) or isinstance(value, bool):
            continue
        if target != "user" and (record is None or record.get(f.name) != value) \
                and target in records().meta.entities \
                and not records().permits(target, value, "read"):
            continue
        targets[f.name] = target
        wanted.setdefault(target, set()).add(value)
    found = {target: _titles_of(target, ids) for target, ids in wanted.items()}
    return {name: found[target] for name, target in targets.items()}


def _shown(f: FieldDef | None, raw: Any, cache: dict[str, dict[int, str]]) -> str | Markup:
    """A value from the audit trail (JSON) as text for the page."""
    if raw is None or raw == "" or raw == []:
        return "—"
    if f is None:
        return str(raw)
    try:
        value = registry.get(f.type).to_python(f, raw)
    except FieldValueError:
        return str(raw)
    target = _target(f)
    titles: dict[int, str] | None = None
    if target and isinstance(value, int):
        titles = cache.setdefault(target, {})
        if value not in titles:
            titles.update(_titles_of(target, {value}))
    return show(f, value, titles) or "—"


def _mine_only(e: EntityDef, values: dict[str, Any], conflict: Conflict) -> dict[str, Any]:
    """The submitted values minus the fields the user left as they were while someone else
    changed them: the form then shows the other person's value there, so saving again keeps
    their change instead of silently putting the old value back."""
    out = dict(values)
    for ch in conflict.changes:
        f = e.fields.get(ch.field)
        if f is None or ch.field not in out:
            continue
        mine = out[ch.field]
        try:
            old = None if ch.old is None else records().registry.get(f.type).to_python(f, ch.old)
        except ValueError:
            continue
        if mine == old:
            del out[ch.field]
    return out


def _conflict_rows(e: EntityDef, conflict: Conflict) -> list[ConflictRow]:
    cache: dict[str, dict[int, str]] = {}
    rows = []
    for ch in conflict.changes:
        if ch.field == OWNER:
            names = user_titles([v for v in (ch.old, ch.new) if isinstance(v, int)])
            old: str | Markup = names.get(ch.old, "—") if isinstance(ch.old, int) else "—"
            new: str | Markup = names.get(ch.new, "—") if isinstance(ch.new, int) else "—"
        else:
            f = e.fields.get(ch.field)
            old, new = _shown(f, ch.old, cache), _shown(f, ch.new, cache)
        rows.append(ConflictRow(ch.field, _field_label(e, ch.field), old, new,
                                ch.by or _("the system")))
    return rows


def _theirs(e: EntityDef, conflict: Conflict) -> dict[str, str | Markup]:
    cache: dict[str, dict[int, str]] = {}
    return {ch.field: _shown(e.fields.get(ch.field), ch.new, cache)
            for ch in conflict.changes if ch.field in e.fields}
