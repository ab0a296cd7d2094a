"""Designer pages for one field and for presets: the field editor (type, labels, options,
choices with colours) with a live preview of the YAML it writes, the confirmation of removing a
field, and the presets (reusable field options) an entity's fields may use.

Every page edits the admin's draft (`app.web.designer_work`): saving adds one change to it and
leads to the draft page, where the change is previewed as files and a plan, then applied.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from app.designer import history
from app.designer.changes import Change, ChangeError
from app.fields import registry
from app.i18n import _
from app.meta.errors import ConfigErrors
from app.web import designer_fieldform as ff
from app.web.designer_common import designer_context
from app.web.designer_work import Working, add, guard, working
from app.web.state import state

bp = Blueprint("designer_fields", __name__, url_prefix="/designer")
bp.before_request(guard)
bp.context_processor(designer_context)

#: a field name the preview uses while the admin has not typed one yet
PLACEHOLDER = "new_field"


def _entity_or_404(work: Working, entity: str) -> None:
    if entity not in work.entity_names() or work.raw_entity(entity) is None:
        abort(404)


def _taken(work: Working, entity: str) -> set[str]:
    names = set((work.raw_entity(entity) or {}).get("fields") or {})
    ent = work.entity(entity)
    if ent is not None:
        names |= set(ent.fields)
    return names


def _preset_options(work: Working, name: str | None) -> dict[str, Any]:
    preset = work.presets().get(name or "") or {}
    return {k: v for k, v in preset.items() if k != "fields"}


def effective(work: Working, spec: dict[str, Any]) -> dict[str, Any]:
    """A field as the form shows it: its preset's options with its own on top."""
    return {**_preset_options(work, spec.get("preset")), **spec}


class Built:
    """A field form read: its name, the definition this deployment's file gets, problems."""

    def __init__(self, name: str, definition: dict[str, Any], problems: ff.Problems) -> None:
        self.name, self.definition, self.problems = name, definition, problems


def build(work: Working, form: MultiDict[str, str], *, entity: str | None, name: str | None,
          taken: set[str], kind: str = "field") -> Built:
    """Read the field (or preset) form. `name` is the existing field's; None for a new one,
    whose name is the form's `name`."""
    opts = ff.options(registry)
    problems = ff.Problems()
    new_name = name or (form.get("name") or "").strip()
    if name is None:
        for msg in ff.name_problems(new_name, taken, kind):
            problems.add("name", msg)
    old: dict[str, Any] = {}
    below: dict[str, Any] = {}
    if kind == "field" and entity is not None and name is not None:
        old = work.raw_field(entity, name) or {}
        below = work.below_field(entity, name) or {}
    elif kind == "preset" and name is not None:
        old = work.presets().get(name) or {}
    preset = (form.get("preset") or "").strip() if kind == "field" else ""
    presets = work.presets()
    if preset and preset not in presets:
        problems.add("preset", _("There is no preset %(name)s.", name=preset))
        preset = ""
    if preset and "fields" in presets[preset]:
        spec: dict[str, Any] = {"preset": preset}
        for key in ff.LABEL_KEYS:
            text = ff.labels(form, key)
            if text:
                spec[key] = text
        if form.get("opt-personal"):
            spec["personal"] = True
        if not (spec.get("label") or {}).get("en"):
            problems.add("label_en", _("Give the field a name in English."))
    else:
        if preset:
            form = MultiDict(form)
            form["type"] = str(presets[preset].get("type") or "")
        spec, found = ff.parse(form, registry, opts, work.entity_names(), keep=old)
        if preset:  # what the form leaves out, the preset gives
            given = _preset_options(work, preset)
            if "choices" in given and not any(
                    (row.get("value") or "").strip() for row in ff.choice_rows(form)):
                found.pop("choices", None)
                spec.pop("choices", None)
            for opt in ff.applicable(opts, str(spec.get("type"))):
                if opt.key in given and opt.key not in spec:
                    found.pop(opt.input, None)
        for where, msgs in found.items():
            if kind == "preset" and where == "label_en":
                continue  # a preset need not name the field
            for msg in msgs:
                problems.add(where, msg)
        if preset:
            spec = ff.ordered({"preset": preset, **spec}, old, opts)
    if kind == "field":
        inherited = {**_preset_options(work, preset), **below}
        spec, cannot = ff.layered(spec, inherited, below)
        inputs = {o.key: o.input for o in ff.applicable(opts, str(spec.get("type") or
                                                                   form.get("type") or ""))}
        for key in cannot:
            problems.add(inputs.get(key, "type"), _(
                "%(option)s is set by the base pack or the preset and cannot be taken away "
                "here; give it another value instead.", option=key))
    return Built(new_name, spec, problems)


def _change(entity: str, built: Built) -> Change:
    return {"op": "field", "entity": entity, "field": built.name or PLACEHOLDER,
            "definition": built.definition}


def new_config_errors(work: Working, change: Change) -> list[str]:
    """The config errors `change` brings (those the draft already has are not repeated)."""
    try:
        files = work.changed_files(change)
    except ChangeError as exc:
        return [str(exc)]
    ctx = state().ctx
    try:
        ctx.yaml_meta(files)
        return []
    except ConfigErrors as exc:
        after = [f"{e.code} {e.message}" for e in exc.errors]
    if work.problem is None:
        return after
    try:
        ctx.yaml_meta(work.files)
        before: set[str] = set()
    except ConfigErrors as exc:
        before = {f"{e.code} {e.message}" for e in exc.errors}
    return [e for e in after if e not in before]


def preview_lines(work: Working, change: Change) -> dict[str, Any]:
    """The changed lines of the file the change writes, as JSON for the live preview."""
    try:
        files = work.changed_files(change)
    except ChangeError as exc:
        return {"error": str(exc), "files": []}
    out = []
    for diff in history.file_diffs(work.files, files):
        out.append({"path": _shown_path(diff.path), "kind": diff.kind,
                    "lines": diff_lines(diff.unified)})
    return {"files": out}


def _shown_path(path: str) -> str:
    from pathlib import Path

    base = state().ctx.settings.config_file.parent
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return path


def diff_lines(unified: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, text) lines: add, del, hunk or same (file headers left out)."""
    out: list[tuple[str, str]] = []
    for line in unified.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            out.append(("hunk", line))
        elif line.startswith("+"):
            out.append(("add", line))
        elif line.startswith("-"):
            out.append(("del", line))
        else:
            out.append(("same", line))
    return out


def _field_page(entity: str, name: str | None) -> ResponseReturnValue:
    work = working()
    _entity_or_404(work, entity)
    raw = work.raw_field(entity, name) if name is not None else None
    if name is not None and raw is None:
        abort(404)
    opts = ff.options(registry)
    problems: ff.Problems = ff.Problems()
    config_errors: list[str] = []
    if request.method == "POST":
        form = request.form
        values = {k: form.get(k) or "" for k in form if not k.startswith("choice-")}
        rows, extras = ff.choice_rows(form), ff.extras_of(form)
        built = build(work, form, entity=entity, name=name, taken=_taken(work, entity))
        if form.get("action") == "preset":  # the preset changed: show what it brings
            chosen = (form.get("preset") or "").strip()
            if chosen in work.presets():
                spec = effective(work, {"preset": chosen})
                values = {**values, **ff.values_of(spec, opts), "preset": chosen}
                values.update({k: form.get(k) or "" for k in
                               ("label_en", "label_zh", "help_en", "help_zh") if form.get(k)})
                if spec.get("choices"):
                    rows, extras = ff.rows_of(spec)
        elif not built.problems:
            change = _change(entity, built)
            config_errors = new_config_errors(work, change)
            if not config_errors and add(change):
                return redirect(url_for("designer.draft"))
        else:
            problems = built.problems
    else:
        spec = effective(work, raw or {})
        values = ff.values_of(spec, opts)
        values["preset"] = str((raw or {}).get("preset") or "")
        if raw is None:
            values["type"] = request.args.get("type", "string")
        rows, extras = ff.rows_of(spec)
    shown = {"name", "type", "preset", "choices", "label_en", "label_zh", "help_en",
             "help_zh"} | {o.input for o in ff.applicable(opts, values.get("type") or "")}
    stray = [m for key, msgs in problems.items() if key not in shown for m in msgs]
    meta = work.meta or work.live
    machines = [m.name for m in (meta.stages.values() if meta is not None else [])
                if name is not None and m.entity == entity and m.field == name]
    return render_template(
        "designer/field.html", entity=entity, ent=work.entity(entity), name=name, raw=raw,
        stray=stray, machines=machines,
        values=values, rows=rows, extras=extras, problems=problems,
        config_errors=config_errors, **form_context(work, opts),
        origin=work.origin(entity, name) if name else None,
        status=work.status(entity, name) if name else None,
        preview_url=url_for("designer_fields.yaml_preview", entity=entity),
        action_url=request.path), 422 if problems or config_errors else 200


def form_context(work: Working, opts: list[ff.Option]) -> dict[str, Any]:
    """What the field form template needs besides the values."""
    groups: dict[str, list[ff.Option]] = {"type": [], "rules": [], "advanced": []}
    for opt in opts:
        if opt.kind != "choices":
            groups[opt.group].append(opt)
    presets = work.presets()
    return {
        "types": [(n, ff.type_label(n), registry.plugin_of(n)) for n, _t in registry.items()],
        "groups": groups,
        "choice_types": " ".join(next((o.types for o in opts if o.kind == "choices"), ())),
        "entities": [(n, _entity_label(work, n)) for n in sorted(work.entity_names())],
        "presets": [(n, bool("fields" in p), str(p.get("type") or "")) for n, p in
                    sorted(presets.items())],
        "type_label": ff.type_label,
    }


def _entity_label(work: Working, name: str) -> str:
    from app.web.templating import label

    ent = work.entity(name)
    return f"{label(ent)} ({name})" if ent is not None else name


@bp.route("/entities/<entity>/fields/new", methods=["GET", "POST"])
def field_new(entity: str) -> ResponseReturnValue:
    return _field_page(entity, None)


@bp.route("/entities/<entity>/fields/<name>", methods=["GET", "POST"])
def field_edit(entity: str, name: str) -> ResponseReturnValue:
    return _field_page(entity, name)


@bp.post("/entities/<entity>/fields/yaml-preview")
def yaml_preview(entity: str) -> ResponseReturnValue:
    """The YAML the field form would write now (the changed lines of its file), and what is
    still missing: the live preview beside the form."""
    work = working()
    _entity_or_404(work, entity)
    name = request.form.get("field") or None
    if name is not None and work.raw_field(entity, name) is None:
        name = None
    built = build(work, request.form, entity=entity, name=name, taken=_taken(work, entity))
    if not ff.IDENTIFIER.match(built.name or ""):
        built.name = PLACEHOLDER
    out = preview_lines(work, _change(entity, built))
    out["problems"] = [m for msgs in built.problems.values() for m in msgs]
    return jsonify(out)


@bp.route("/entities/<entity>/fields/<name>/remove", methods=["GET", "POST"])
def field_remove(entity: str, name: str) -> ResponseReturnValue:
    work = working()
    _entity_or_404(work, entity)
    raw = work.raw_field(entity, name)
    if raw is None:
        abort(404)
    if request.method == "POST":
        if add({"op": "remove_field", "entity": entity, "field": name}):
            return redirect(url_for("designer.draft"))
        return redirect(url_for("designer.entity", entity=entity))
    ent = work.entity(entity)
    parts = [f for f in (ent.fields if ent else {}) if f.startswith(f"{name}_")] \
        if raw.get("preset") and "fields" in work.presets().get(str(raw["preset"]), {}) else []
    return render_template("designer/field_remove.html", entity=entity, ent=ent, name=name,
                           raw=raw, filled=filled_count(entity, [name, *parts]),
                           parts=parts, status=work.status(entity, name))


def filled_count(entity: str, names: list[str]) -> int | None:
    """How many live records have a value in any of the fields `names` (None: unknown)."""
    st = state()
    if st.models is None or st.meta is None or entity not in st.meta.entities:
        return None
    table = st.models.tables.get(entity)
    ent = st.meta.entities[entity]
    cols = []
    for n in names:
        f = ent.fields.get(n)
        if f is None or f.type not in registry or not registry.get(f.type).has_column:
            continue
        col = registry.get(f.type).column_name(f)
        if table is not None and col in table.c:
            cols.append(table.c[col].isnot(None))
    if table is None or not cols:
        return None
    with st.ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)
                                .where(sa.or_(*cols))).scalar_one())


# -- presets ------------------------------------------------------------------------------
def preset_uses(work: Working, name: str) -> list[tuple[str, str]]:
    out = []
    for ent in work.entity_names():
        for fname, spec in work.raw_fields(ent).items():
            if spec.get("preset") == name:
                out.append((ent, fname))
    return out


@bp.get("/presets")
def presets() -> ResponseReturnValue:
    work = working()
    rows = []
    for name, spec in work.presets().items():
        rows.append({"name": name, "spec": spec, "block": "fields" in spec,
                     "parts": list(spec.get("fields") or {}) if "fields" in spec else [],
                     "uses": preset_uses(work, name), "status": work.preset_status(name)})
    return render_template("designer/presets.html", rows=rows, type_label=ff.type_label)


def _block_definition(form: MultiDict[str, str], problems: ff.Problems) -> dict[str, Any]:
    import yaml

    from app.meta import yamlpos

    text = form.get("fields_yaml") or ""
    try:
        parts = yamlpos.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        problems.add("fields_yaml", _("Not valid YAML: %(why)s", why=str(exc).splitlines()[0]))
        return {}
    if not isinstance(parts, dict) or not parts or not all(
            isinstance(k, str) and ff.IDENTIFIER.match(k) and isinstance(v, dict)
            for k, v in parts.items()):
        problems.add("fields_yaml", _("Write each field by its name with its options, e.g. "
                                      "street: {type: string, max_length: 200}"))
        return {}
    return {"fields": parts}


def parts_text(parts: dict[str, Any], width: int = 110) -> str:
    """A block preset's fields as YAML, one line per field where it fits (as the shipped
    files write them)."""
    import yaml

    out = []
    for name, spec in parts.items():
        flow = yaml.safe_dump({name: spec}, allow_unicode=True, sort_keys=False,
                              default_flow_style=True, width=10_000).strip()[1:-1]
        if len(flow) <= width:
            out.append(flow + "\n")
        else:
            out.append(yaml.safe_dump({name: spec}, allow_unicode=True, sort_keys=False,
                                      default_flow_style=None, width=width))
    return "".join(out)


def _preset_page(name: str | None) -> ResponseReturnValue:
    work = working()
    current = work.presets().get(name) if name is not None else None
    if name is not None and current is None:
        abort(404)
    block = ("fields" in current) if current is not None else \
        request.values.get("kind") == "block"
    opts = ff.options(registry)
    problems = ff.Problems()
    if request.method == "POST":
        form = request.form
        values = {k: form.get(k) or "" for k in form if not k.startswith("choice-")}
        rows, extras = ff.choice_rows(form), ff.extras_of(form)
        if block:
            new_name = name or (form.get("name") or "").strip()
            if name is None:
                for msg in ff.name_problems(new_name, work.presets(), "preset"):
                    problems.add("name", msg)
            definition = _block_definition(form, problems)
        else:
            built = build(work, form, entity=None, name=name, taken=set(work.presets()),
                          kind="preset")
            new_name, definition, problems = built.name, built.definition, built.problems
        if not problems:
            change = {"op": "preset", "preset": new_name, "definition": definition}
            errors = new_config_errors(work, change)
            for msg in errors:
                problems.add("config", msg)
            if not errors and add(change):
                return redirect(url_for("designer.draft"))
    else:
        values = ff.values_of(current or {"type": "string"}, opts)
        rows, extras = ff.rows_of(current or {})
        if block:
            values["fields_yaml"] = parts_text((current or {}).get("fields") or {})
    return render_template(
        "designer/preset.html", name=name, block=block, values=values, rows=rows,
        extras=extras, problems=problems, uses=preset_uses(work, name) if name else [],
        status=work.preset_status(name) if name else None, **form_context(work, opts),
        preview_url=url_for("designer_fields.preset_preview"),
        action_url=request.path), 422 if problems else 200


@bp.route("/presets/new", methods=["GET", "POST"])
def preset_new() -> ResponseReturnValue:
    return _preset_page(None)


@bp.route("/presets/<name>", methods=["GET", "POST"])
def preset_edit(name: str) -> ResponseReturnValue:
    return _preset_page(name)


@bp.post("/presets/yaml-preview")
def preset_preview() -> ResponseReturnValue:
    work = working()
    name = request.form.get("preset_name") or None
    if name is not None and name not in work.presets():
        name = None
    problems = ff.Problems()
    if request.form.get("kind") == "block":
        definition = _block_definition(request.form, problems)
        new_name = name or (request.form.get("name") or "").strip()
    else:
        built = build(work, request.form, entity=None, name=name, taken=set(work.presets()),
                      kind="preset")
        new_name, definition, problems = built.name, built.definition, built.problems
    if not ff.IDENTIFIER.match(new_name or ""):
        new_name = "new_preset"
    out = preview_lines(work, {"op": "preset", "preset": new_name, "definition": definition})
    out["problems"] = [m for msgs in problems.values() for m in msgs]
    return jsonify(out)


@bp.post("/presets/<name>/delete")
def preset_delete(name: str) -> ResponseReturnValue:
    work = working()
    if name not in work.presets():
        abort(404)
    uses = preset_uses(work, name)
    if uses:
        flash(_("The preset %(name)s is used by %(fields)s: change those fields first.",
                name=name, fields=", ".join(f"{e}.{f}" for e, f in uses)), "danger")
        return redirect(url_for("designer_fields.preset_edit", name=name))
    if add({"op": "preset", "preset": name, "definition": None}):
        return redirect(url_for("designer.draft"))
    return redirect(url_for("designer_fields.presets"))
