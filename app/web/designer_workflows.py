"""The designer's workflow pages: stage machines (which stage may follow which, for whom and
when), approval processes (entry criteria, submitters, lock and the steps in order) and timed
escalations.

- `/designer/workflows`: what the config has, and forms to start a new one;
- `/designer/workflows/stages/<name>`: the transitions as a from x to grid, rules with roles
  or a `when` guard, initial stages, required fields, actions on entering a stage;
- `/designer/workflows/approvals/<name>`: a process and its steps (add, remove, reorder);
- `/designer/workflows/escalations/<name>`: a deadline and what happens around it.

Each save adds one `workflow` change to the admin's draft: the whole definition of that one
machine or process. Expressions are checked as they are saved (the rest when the draft's
config loads: its errors show on the draft page); a live YAML preview shows what will be
written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.designer.layers import Item, workflow_items
from app.i18n import _
from app.meta.approvals import APPROVER_KINDS, EVENTS, MODES, REJECTS, STEP_EVENTS
from app.meta.types import IDENTIFIER, EntityDef, FieldDef
from app.web import designer_approvalform as approvalform
from app.web import designer_stageform as stageform
from app.web.designer_common import add_change, designer_context
from app.web.designer_work import guard
from app.web.designer_working import Working, draft_url, preview_response, working

bp = Blueprint("designer_workflows", __name__, url_prefix="/designer")
bp.context_processor(designer_context)
bp.before_request(guard)

#: the sections these pages edit
EDITED = ("stages", "approvals", "escalations")


def _entities(w: Working) -> list[EntityDef]:
    return sorted(w.meta, key=lambda e: e.label_for())


def _governed(w: Working) -> set[tuple[str, str]]:
    return {(str(i.body.get("entity")), str(i.body.get("field")))
            for i in workflow_items(w.files, "stages").values()}


def _free_picklists(w: Working) -> list[tuple[EntityDef, FieldDef]]:
    """Picklist fields no stage machine governs yet."""
    taken = _governed(w)
    return [(e, f) for e in _entities(w) for f in e
            if f.type == "picklist" and (e.name, f.name) not in taken]


def _with_deadlines(w: Working) -> list[EntityDef]:
    return [e for e in _entities(w) if any(f.type in ("date", "datetime") for f in e)]


@bp.get("/workflows")
@login_required
def index() -> ResponseReturnValue:
    w = working()
    items = {s: workflow_items(w.files, s) for s in EDITED}
    return render_template(
        "designer/workflows.html", w=w, items=items, entities=w.meta.entities,
        overlay=bool(w.files.top("workflows")), free_picklists=_free_picklists(w),
        all_entities=_entities(w), deadline_entities=_with_deadlines(w))


@bp.get("/workflows/new/<section>")
@login_required
def new(section: str) -> ResponseReturnValue:
    """Start a new machine, process or escalation: check its name and target, then open its
    editor (nothing is added to the draft until it is saved there)."""
    if section not in EDITED:
        abort(404)
    w = working()
    name = (request.args.get("name") or "").strip()
    target = (request.args.get("target") or "").strip()
    entity, _sep, fname = target.partition(".")
    problem = None
    if not IDENTIFIER.match(name):
        problem = _("“%(name)s” is not a valid name: lower-case letters, digits and _, "
                    "starting with a letter.", name=name)
    elif name in workflow_items(w.files, section):
        problem = _("There is already one named %(name)s.", name=name)
    elif entity not in w.meta.entities:
        problem = _("Choose what it applies to.")
    elif section == "stages" and (w.meta.entities[entity], w.meta.entities[entity].fields.get(
            fname)) not in _free_picklists(w):
        problem = _("Choose a picklist field that has no stage machine yet.")
    if problem:
        flash(problem, "danger")
        return redirect(url_for(".index"))
    if section == "stages":
        return redirect(url_for(".stages", name=name, entity=entity, field=fname))
    return redirect(url_for(f".{section}", name=name, entity=entity))


def _item(w: Working, section: str, name: str) -> Item | None:
    return workflow_items(w.files, section).get(name)


def _entity_of(w: Working, item: Item | None) -> EntityDef:
    """The entity of an existing item, or of a new one (?entity= / the posted form)."""
    if not IDENTIFIER.match(request.view_args.get("name", "") if request.view_args else ""):
        abort(404)
    ent = str(item.body.get("entity")) if item is not None else request.values.get("entity", "")
    found = w.meta.entities.get(ent)
    if found is None:
        abort(404)
    return found


def _save(section: str, name: str, item: Item | None, definition: dict[str, Any]
          ) -> ResponseReturnValue | None:
    """Add the change and go to the draft; None when it could not be made (flashed)."""
    if item is not None and definition == item.body:
        flash(_("Nothing changed: the definition is already what the form says."), "info")
        return redirect(url_for(f".{section}", name=name))
    if add_change({"op": "workflow", "section": section, "name": name,
                   "definition": definition}) is None:
        return None
    return redirect(draft_url())


# --- stage machines ----------------------------------------------------------------------------
def _machine(w: Working, name: str) -> tuple[Item | None, EntityDef, FieldDef]:
    item = _item(w, "stages", name)
    entity = _entity_of(w, item)
    fname = str(item.body.get("field")) if item is not None else request.values.get("field", "")
    picklist = entity.fields.get(fname)
    if picklist is None or picklist.type != "picklist":
        abort(404)
    if item is None and (entity.name, fname) in _governed(w):
        abort(404)
    return item, entity, picklist


def _stage_page(w: Working, name: str, item: Item | None, form: stageform.StageForm,
                status: int = 200) -> ResponseReturnValue:
    return render_template(
        "designer/workflow_stages.html", w=w, name=name, item=item, form=form,
        roles=list(w.meta.roles), blank=stageform.Rule()), status


@bp.get("/workflows/stages/<name>")
@login_required
def stages(name: str) -> ResponseReturnValue:
    w = working()
    item, entity, picklist = _machine(w, name)
    form = stageform.from_definition(item.body if item else {}, entity, picklist)
    return _stage_page(w, name, item, form)


@bp.post("/workflows/stages/<name>")
@login_required
def save_stages(name: str) -> ResponseReturnValue:
    w = working()
    item, entity, picklist = _machine(w, name)
    form = stageform.parse(request.form, entity, picklist, list(w.meta.roles))
    if form.errors:
        flash(_("Nothing was saved: fix what is marked below."), "danger")
        return _stage_page(w, name, item, form, 400)
    definition = stageform.definition(form, item.body if item else {})
    done = _save("stages", name, item, definition)
    return done if done is not None else _stage_page(w, name, item, form, 400)


@bp.post("/workflows/stages/<name>/preview")
@login_required
def preview_stages(name: str) -> ResponseReturnValue:
    w = working()
    item, entity, picklist = _machine(w, name)
    form = stageform.parse(request.form, entity, picklist, list(w.meta.roles))
    if form.errors:
        return preview_response(None, None, form.errors)
    definition = stageform.definition(form, item.body if item else {})
    return _workflow_preview("stages", name, definition)


def _workflow_preview(section: str, name: str, definition: Mapping[str, Any]
                      ) -> ResponseReturnValue:
    change = {"op": "workflow", "section": section, "name": name,
              "definition": dict(definition)}
    return preview_response(change, {section: {name: dict(definition)}})


# --- approval processes ------------------------------------------------------------------------
def _steps_by_name(item: Item | None) -> dict[str, Mapping[str, Any]]:
    steps = item.body.get("steps") if item is not None else None
    return {str(s.get("name")): s for s in steps or () if isinstance(s, Mapping)}


def _approval_page(w: Working, name: str, item: Item | None, form: approvalform.ApprovalForm,
                   status: int = 200) -> ResponseReturnValue:
    return render_template(
        "designer/workflow_approval.html", w=w, name=name, item=item, form=form,
        roles=list(w.meta.roles), kinds=APPROVER_KINDS, modes=MODES, rejects=REJECTS,
        events=EVENTS, step_events=STEP_EVENTS,
        suggestions=approvalform.WhoCheck(w.meta, form.entity).options()), status


@bp.get("/workflows/approvals/<name>")
@login_required
def approvals(name: str) -> ResponseReturnValue:
    w = working()
    item = _item(w, "approvals", name)
    entity = _entity_of(w, item)
    form = approvalform.from_definition(item.body if item else {}, entity)
    if item is None:
        form.steps.append(approvalform.StepForm(name="manager", approvers=[
            ("manager", "submitter")]))
    return _approval_page(w, name, item, form)


@bp.post("/workflows/approvals/<name>")
@login_required
def save_approvals(name: str) -> ResponseReturnValue:
    w = working()
    item = _item(w, "approvals", name)
    entity = _entity_of(w, item)
    form = approvalform.parse(request.form, entity, w.meta, _steps_by_name(item))
    action = request.form.get("action", "save")
    if action != "save":
        if not approvalform.move(form, action):
            abort(400)
        form.errors = {}
        flash(_("Not saved yet: save the process to add it to your draft."), "info")
        return _approval_page(w, name, item, form)
    if form.errors:
        flash(_("Nothing was saved: fix what is marked below."), "danger")
        return _approval_page(w, name, item, form, 400)
    definition = approvalform.definition(form, item.body if item else {})
    done = _save("approvals", name, item, definition)
    return done if done is not None else _approval_page(w, name, item, form, 400)


@bp.post("/workflows/approvals/<name>/preview")
@login_required
def preview_approvals(name: str) -> ResponseReturnValue:
    w = working()
    item = _item(w, "approvals", name)
    entity = _entity_of(w, item)
    form = approvalform.parse(request.form, entity, w.meta, _steps_by_name(item))
    if form.errors:
        return preview_response(None, None, form.errors)
    return _workflow_preview("approvals", name,
                             approvalform.definition(form, item.body if item else {}))


# --- escalations -------------------------------------------------------------------------------
def _escalation_page(w: Working, name: str, item: Item | None,
                     form: approvalform.EscalationForm, status: int = 200
                     ) -> ResponseReturnValue:
    return render_template("designer/workflow_escalation.html", w=w, name=name, item=item,
                           form=form), status


@bp.get("/workflows/escalations/<name>")
@login_required
def escalations(name: str) -> ResponseReturnValue:
    w = working()
    item = _item(w, "escalations", name)
    entity = _entity_of(w, item)
    return _escalation_page(w, name, item,
                            approvalform.escalation_from(item.body if item else {}, entity))


@bp.post("/workflows/escalations/<name>")
@login_required
def save_escalations(name: str) -> ResponseReturnValue:
    w = working()
    item = _item(w, "escalations", name)
    entity = _entity_of(w, item)
    form = approvalform.parse_escalation(request.form, entity)
    if form.errors:
        flash(_("Nothing was saved: fix what is marked below."), "danger")
        return _escalation_page(w, name, item, form, 400)
    done = _save("escalations", name, item, approvalform.escalation_definition(form))
    return done if done is not None else _escalation_page(w, name, item, form, 400)


@bp.post("/workflows/escalations/<name>/preview")
@login_required
def preview_escalations(name: str) -> ResponseReturnValue:
    w = working()
    item = _item(w, "escalations", name)
    entity = _entity_of(w, item)
    form = approvalform.parse_escalation(request.form, entity)
    if form.errors:
        return preview_response(None, None, form.errors)
    return _workflow_preview("escalations", name, approvalform.escalation_definition(form))


# --- removing ----------------------------------------------------------------------------------
@bp.post("/workflows/<section>/<name>/remove")
@login_required
def remove(section: str, name: str) -> ResponseReturnValue:
    """Remove a machine, process or escalation (a base pack's one with `remove: true`)."""
    if section not in EDITED:
        abort(404)
    item = _item(working(), section, name)
    if item is None:
        abort(404)
    definition = {"remove": True} if item.below else None
    if add_change({"op": "workflow", "section": section, "name": name,
                   "definition": definition}) is None:
        return redirect(url_for(".index"))
    return redirect(draft_url())
