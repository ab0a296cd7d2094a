"""The designer's entity pages: the entities of the config (with the admin's draft), adding
one, and an entity's page: its properties, its fields in order (edit, remove, reorder) and its
form layout (sections, columns, which fields where). Each save adds one change to the admin's
draft; the draft page (`app.web.designer_draft`, registered here) previews and applies it.

Blueprint "designer" under /designer; administrators only.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.i18n import _
from app.meta.types import IDENTIFIER, RESERVED_NAMES, EntityDef
from app.textnum import SQL_INT_MAX
from app.web import designer_draft
from app.web import designer_fieldform as ff
from app.web.designer_common import designer, designer_context
from app.web.designer_fields import effective
from app.web.designer_work import OWN, Working, add, guard, working

bp = Blueprint("designer", __name__, url_prefix="/designer")
bp.before_request(guard)


@bp.url_value_preprocessor
def _ids_in_range(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A version or change number beyond what the database holds is not found (not a 500)."""
    if values and any(isinstance(v, int) and v > SQL_INT_MAX for v in values.values()):
        abort(404)


bp.context_processor(designer_context)

bp.add_url_rule("/draft", "draft", designer_draft.draft)
bp.add_url_rule("/draft/changes/<int:index>/remove", "remove_change",
                designer_draft.remove_change, methods=["POST"])
bp.add_url_rule("/draft/discard", "discard", designer_draft.discard, methods=["POST"])
bp.add_url_rule("/draft/rebase", "rebase", designer_draft.rebase, methods=["POST"])
bp.add_url_rule("/draft/apply", "apply", designer_draft.apply, methods=["POST"])
bp.add_url_rule("/draft/download", "download", designer_draft.download)
bp.add_url_rule("/applied/<int:version>", "applied", designer_draft.applied)
bp.add_url_rule("/purge", "purge", designer_draft.purge, methods=["GET", "POST"])

ICON = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")
#: the most columns a layout section may have
MAX_COLUMNS = 4


def _labels_problem(values: dict[str, str], key: str, problems: dict[str, str]) -> None:
    if not values.get(f"{key}_en", "").strip():
        problems[f"{key}_en"] = _("Write it in English at least.")


# -- the entities -------------------------------------------------------------------------
def entity_rows(work: Working) -> list[dict[str, Any]]:
    rows = []
    for name in work.entity_names():
        ent = work.entity(name)
        raw = work.raw_entity(name) or {}
        rows.append({"name": name, "ent": ent, "raw": raw,
                     "fields": len(ent.fields) if ent is not None else len(
                         raw.get("fields") or {}),
                     "origin": work.origin(name), "status": work.status(name)})
    from app.web.templating import label

    return sorted(rows, key=lambda r: (label(r["ent"]) if r["ent"] else r["name"]).casefold())


@bp.route("/", methods=["GET", "POST"])
def index() -> ResponseReturnValue:
    work = working()
    values: dict[str, str] = {}
    problems: dict[str, str] = {}
    if request.method == "POST":
        values = {k: (request.form.get(k) or "").strip() for k in (
            "name", "label_en", "label_zh", "plural_en", "plural_zh", "title_en", "title_zh")}
        name = values["name"]
        if not IDENTIFIER.match(name):
            problems["name"] = _("Use lower-case letters, digits and _, starting with a "
                                 "letter (at most 63).")
        elif name in RESERVED_NAMES or name in work.entity_names():
            problems["name"] = _("There is already one named %(name)s.", name=name) \
                if name in work.entity_names() else _("%(name)s is reserved; choose another "
                                                      "name.", name=name)
        _labels_problem(values, "label", problems)
        if not problems:
            change: dict[str, Any] = {"op": "add_entity", "entity": name,
                                      "label": ff.labels(request.form, "label")}
            plural = ff.labels(request.form, "plural")
            if plural:
                change["plural"] = plural
            title = ff.labels(request.form, "title")
            if title:
                change["title_label"] = title
            if add(change):
                return redirect(url_for("designer.entity", entity=name))
    return render_template("designer/index.html", rows=entity_rows(work), work=work,
                           values=values, problems=problems,
                           read_only=designer().read_only_reason()), 422 if problems else 200


# -- one entity ---------------------------------------------------------------------------
def field_rows(work: Working, entity: str) -> list[dict[str, Any]]:
    """The entity's fields as written, in order: a preset block is one row (its parts
    listed)."""
    ent = work.entity(entity)
    presets = work.presets()
    rows = []
    for name, spec in work.raw_fields(entity).items():
        eff = effective(work, spec)
        preset = str(spec.get("preset") or "")
        block = preset in presets and "fields" in presets[preset]
        fdef = ent.fields.get(name) if ent is not None else None
        label_ = fdef.label_for(_locale()) if fdef is not None else _label_of(eff, name)
        raw_choices = eff.get("choices")
        choices = raw_choices if isinstance(raw_choices, list) else []
        rows.append({
            "name": name, "label": label_, "type": str(eff.get("type") or ""),
            "type_label": ff.type_label(str(eff.get("type"))) if eff.get("type") else "",
            "required": bool(eff.get("required")), "preset": preset, "block": block,
            "parts": [f"{name}_{p}" for p in (presets[preset].get("fields") or {})]
            if block else [],
            "choices": len(choices), "origin": work.origin(entity, name),
            "status": work.status(entity, name),
            "target": str(eff.get("to") or ""),
        })
    return rows


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()


def _label_of(spec: dict[str, Any], name: str) -> str:
    from app.meta.types import label_text

    text = spec.get("label")
    return label_text(text if isinstance(text, dict) else None, _locale(),
                      name.replace("_", " ").capitalize())


def layout_of(work: Working, entity: str) -> list[dict[str, Any]]:
    ent = work.entity(entity)
    raw = ent.layout if ent is not None and ent.layout else (
        (work.raw_entity(entity) or {}).get("layout") or [])
    out = []
    for section in raw:
        label_ = section.get("section") or {}
        out.append({"en": str(label_.get("en") or "") if hasattr(label_, "get") else "",
                    "zh": str(label_.get("zh") or "") if hasattr(label_, "get") else "",
                    "columns": int(section.get("columns") or 2),
                    "fields": [str(f) for f in section.get("fields") or []]})
    return out


def _entity_or_404(work: Working, entity: str) -> dict[str, Any]:
    raw = work.raw_entity(entity)
    if raw is None:
        abort(404)
    return raw


@bp.get("/entities/<entity>")
def entity(entity: str) -> ResponseReturnValue:
    work = working()
    raw = _entity_or_404(work, entity)
    ent = work.entity(entity)
    return render_template(
        "designer/entity.html", entity=entity, ent=ent, raw=raw, work=work,
        fields=field_rows(work, entity), layout=layout_of(work, entity),
        layout_fields=_layout_fields(ent), props=_props_values(raw),
        origin=work.origin(entity), status=work.status(entity),
        reorderable=work.origin(entity) == OWN, problems={})


def _layout_fields(ent: EntityDef | None) -> list[tuple[str, str]]:
    if ent is None:
        return []
    return [(f.name, f.label_for(_locale())) for f in ent]


def _props_values(raw: dict[str, Any]) -> dict[str, str]:
    out = {"title": str(raw.get("title") or ""), "icon": str(raw.get("icon") or ""),
           "description": str(raw.get("description") or "")}
    for key in ("label", "plural"):
        text = raw.get(key) or {}
        for lang in ("en", "zh"):
            out[f"{key}_{lang}"] = str(text.get(lang) or "") if isinstance(text, dict) else ""
    return out


@bp.post("/entities/<entity>/properties")
def properties(entity: str) -> ResponseReturnValue:
    work = working()
    raw = _entity_or_404(work, entity)
    form = request.form
    problems: dict[str, str] = {}
    values = {k: (form.get(k) or "").strip() for k in (
        "label_en", "label_zh", "plural_en", "plural_zh", "title", "icon", "description")}
    _labels_problem(values, "label", problems)
    ent = work.entity(entity)
    if values["title"] and ent is not None and values["title"] not in ent.fields:
        problems["title"] = _("There is no field %(name)s.", name=values["title"])
    if values["icon"] and not ICON.match(values["icon"]):
        problems["icon"] = _("An icon name is lower-case letters, digits and -.")
    if problems:
        for msg in problems.values():
            flash(_("Not saved: %(why)s", why=msg), "danger")
        return redirect(url_for("designer.entity", entity=entity))
    wanted: dict[str, Any] = {
        "label": ff.labels(form, "label"), "plural": ff.labels(form, "plural") or None,
        "title": values["title"] or None, "icon": values["icon"] or None,
        "description": values["description"] or None}
    changed = {k: v for k, v in wanted.items() if v != (raw.get(k) or None)}
    if not changed:
        flash(_("Nothing changed: your draft already says this."), "info")
        return redirect(url_for("designer.entity", entity=entity))
    if add({"op": "entity", "entity": entity, "values": changed}):
        return redirect(url_for("designer.entity", entity=entity))
    return redirect(url_for("designer.entity", entity=entity))


@bp.post("/entities/<entity>/order")
def order(entity: str) -> ResponseReturnValue:
    """The fields' order: one field moved up or down (`move`, `by`), or the whole order
    (`order`, from dragging)."""
    work = working()
    _entity_or_404(work, entity)
    names = list(work.raw_fields(entity))
    wanted = request.form.getlist("order")
    if wanted:
        if sorted(wanted) != sorted(names):
            flash(_("Not saved: the order must name every field once."), "danger")
            return redirect(url_for("designer.entity", entity=entity))
        names = wanted
    else:
        move = request.form.get("move") or ""
        by = -1 if request.form.get("by") == "up" else 1
        if move not in names:
            abort(400)
        at = names.index(move)
        to = at + by
        if 0 <= to < len(names):
            names[at], names[to] = names[to], names[at]
    add({"op": "order_fields", "entity": entity, "fields": names})
    return redirect(url_for("designer.entity", entity=entity) + "#fields")


def parse_layout(form: Any, known: set[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The sections the layout editor sent (empty sections left out) and what is wrong."""
    problems: list[str] = []
    en, zh = form.getlist("section_en"), form.getlist("section_zh")
    columns, fields = form.getlist("section_columns"), form.getlist("section_fields")
    if not len(en) == len(zh) == len(columns) == len(fields):
        return [], [_("The layout form is incomplete; reload the page.")]
    out: list[dict[str, Any]] = []
    placed: set[str] = set()
    for n, (a, b, c, f) in enumerate(zip(en, zh, columns, fields, strict=True), 1):
        names = [x for x in re.split(r"[\s,]+", f) if x]
        if not a.strip() and not b.strip() and not names:
            continue
        if not a.strip():
            problems.append(_("Section %(n)s has no English name.", n=n))
        try:
            cols = int(c)
        except ValueError:
            cols = 0
        if not 1 <= cols <= MAX_COLUMNS:
            problems.append(_("Section %(n)s: choose 1 to 4 columns.", n=n))
        for name in names:
            if name not in known:
                problems.append(_("Section %(n)s names %(field)s, which is not a field.",
                                  n=n, field=name))
            elif name in placed:
                problems.append(_("%(field)s is in two sections.", field=name))
            placed.add(name)
        label = {"en": a.strip()}
        if b.strip():
            label["zh"] = b.strip()
        out.append({"section": label, "columns": cols, "fields": names})
    return out, problems


@bp.post("/entities/<entity>/layout")
def layout(entity: str) -> ResponseReturnValue:
    work = working()
    _entity_or_404(work, entity)
    ent = work.entity(entity)
    known = set(ent.fields) if ent is not None else set(work.raw_fields(entity))
    sections, problems = parse_layout(request.form, known)
    if problems:
        for msg in problems:
            flash(_("Layout not saved: %(why)s", why=msg), "danger")
        return redirect(url_for("designer.entity", entity=entity) + "#layout")
    add({"op": "layout", "entity": entity, "layout": sections})
    return redirect(url_for("designer.entity", entity=entity) + "#layout")

