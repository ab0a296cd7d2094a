"""The designer's permission pages: who may see and edit what.

- `/designer/access`: the role x entity matrix, each cell the role's effective grant on the
  entity ("C R:team E:own D:-"), marked where the entity's `permissions:` differ from the
  role's default;
- `/designer/access/<entity>/<role>`: one cell's form: each action inherits the role default
  or sets its own scope, and the field-level grid (visible / read-only / hidden per field);
- `/designer/access/roles/<role>`: the role's label, `reports_to` and default grants.

Each save adds one change to the admin's draft (`permissions` or `role`) with only the keys
that differ from what the role default (or a lower layer) gives; a live YAML preview shows
what will be written. Every page shows the config as the admin's draft makes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from app.access.policy import role_grant
from app.designer.layers import lower_permission, lower_role, top_entry
from app.i18n import N_, _, gettext
from app.meta.access import ACTIONS, ADMIN, FLAG_ACTIONS, SCOPED_ACTIONS, SCOPES
from app.meta.types import EntityDef, Meta
from app.web.designer_common import add_change, designer_context
from app.web.designer_work import guard
from app.web.designer_working import Working, draft_url, preview_response, working

bp = Blueprint("designer_access", __name__, url_prefix="/designer")
bp.context_processor(designer_context)
bp.before_request(guard)

INHERIT = "inherit"
#: field grid choices
VISIBILITY = ("visible", "read_only", "hidden")
ACTION_NAMES = {"create": N_("Create"), "read": N_("Read"), "edit": N_("Edit"),
                "delete": N_("Delete"), "export": N_("Export"), "import": N_("Import"),
                "merge": N_("Merge")}
SCOPE_NAMES = {"none": N_("None"), "own": N_("Own records"), "team": N_("Team's records"),
               "subordinates": N_("Subordinates' records"), "all": N_("All records")}
#: the matrix's short letters and scope abbreviations
LETTERS = {"create": "C", "read": "R", "edit": "E", "delete": "D", "export": "X", "import": "I",
           "merge": "M"}
SHORT = {"none": "-", "own": "own", "team": "team", "subordinates": "sub", "all": "all"}


def nothing(action: str) -> Any:
    """What an action amounts to when no grant names it."""
    return "none" if action in SCOPED_ACTIONS else False


def role_default(meta: Meta, role: str) -> dict[str, Any]:
    """The role's default grant, every action filled in."""
    roledef = meta.access.roles.get(role) if meta.access is not None else None
    given: Mapping[str, Any] = roledef.default if roledef is not None else {}
    return {a: given.get(a, nothing(a)) for a in ACTIONS}


def roles_of(meta: Meta) -> list[str]:
    """The roles the matrix shows: config.yaml's, without admin (who may do everything)."""
    return [r for r in meta.roles if r != ADMIN]


def role_label(meta: Meta, role: str) -> Any:
    roledef = meta.access.roles.get(role) if meta.access is not None else None
    return dict(roledef.label) if roledef is not None and roledef.label else {}


@dataclass(frozen=True)
class Part:
    action: str
    text: str
    granted: bool
    differs: bool


@dataclass(frozen=True)
class Cell:
    role: str
    entity: str
    parts: tuple[Part, ...]
    hidden: int = 0
    read_only: int = 0
    differs: bool = False
    title: str = ""


def cell(meta: Meta, role: str, entity: EntityDef) -> Cell:
    grant = role_grant(meta, role, entity)
    default = role_default(meta, role)
    own: Mapping[str, Any] = entity.permissions.get(role) or {}
    parts = []
    for action in ACTIONS:
        value = grant.values.get(action, nothing(action))
        differs = action in own and own[action] != default[action]
        if action in SCOPED_ACTIONS:
            text = f"{LETTERS[action]}:{SHORT.get(str(value), str(value))}"
        else:
            text = LETTERS[action] if value else f"{LETTERS[action]}:-"
        parts.append(Part(action, text, grant.allows(action), differs))
    differs = any(p.differs for p in parts) or bool(grant.hidden or grant.read_only)
    title = "; ".join(
        gettext(ACTION_NAMES[a]) + ": " + _value_text(a, grant.values.get(a, nothing(a)))
        for a in ACTIONS)
    return Cell(role, entity.name, tuple(parts), len(grant.hidden), len(grant.read_only),
                differs, title)


def _value_text(action: str, value: Any) -> str:
    if action in SCOPED_ACTIONS:
        return gettext(SCOPE_NAMES.get(str(value), str(value)))
    return _("yes") if value else _("no")


def _entity_and_role(w: Working, entity: str, role: str) -> EntityDef:
    found = w.meta.entities.get(entity)
    if found is None or role not in roles_of(w.meta):
        abort(404)
    return found


@bp.get("/access")
@login_required
def matrix() -> ResponseReturnValue:
    w = working()
    roles = roles_of(w.meta)
    entities = sorted(w.meta, key=lambda e: e.label_for())
    rows = [(e, [cell(w.meta, r, e) for r in roles]) for e in entities]
    return render_template("designer/access.html", w=w, roles=roles, rows=rows,
                           role_label=lambda r: role_label(w.meta, r),
                           action_names=ACTION_NAMES, letters=LETTERS)


# --- one role on one entity --------------------------------------------------------------------
@dataclass
class GrantForm:
    """The values of the cell form: per action INHERIT or a value; per field its visibility."""

    actions: dict[str, str]
    fields: dict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)


def current_form(meta: Meta, entity: EntityDef, role: str) -> GrantForm:
    own: Mapping[str, Any] = entity.permissions.get(role) or {}
    actions = {}
    for action in ACTIONS:
        if action not in own:
            actions[action] = INHERIT
        elif action in SCOPED_ACTIONS:
            actions[action] = str(own[action])
        else:
            actions[action] = "yes" if own[action] else "no"
    hidden, read_only = set(own.get("hidden") or ()), set(own.get("read_only") or ())
    fields = {f.name: "hidden" if f.name in hidden else "read_only" if f.name in read_only
              else "visible" for f in entity}
    return GrantForm(actions, fields)


def parse_form(form: MultiDict[str, str], entity: EntityDef) -> GrantForm:
    out = GrantForm({}, {})
    for action in ACTIONS:
        value = form.get(f"a-{action}", INHERIT)
        allowed = (INHERIT, *SCOPES) if action in SCOPED_ACTIONS else (INHERIT, "yes", "no")
        if value not in allowed:
            out.errors.setdefault(f"a-{action}", []).append(_(
                "Choose one of: %(values)s.", values=", ".join(allowed)))
            value = INHERIT
        out.actions[action] = value
    for f in entity:
        value = form.get(f"f-{f.name}", "visible")
        if value not in VISIBILITY:
            out.errors.setdefault(f"f-{f.name}", []).append(_(
                "Choose visible, read-only or hidden."))
            value = "visible"
        out.fields[f.name] = value
    return out


def wanted(values: GrantForm, default: Mapping[str, Any]) -> dict[str, Any]:
    """The effective grant the form asks for: every action, and the field lists."""
    out: dict[str, Any] = {}
    for action in ACTIONS:
        value = values.actions[action]
        if value == INHERIT:
            out[action] = default[action]
        elif action in FLAG_ACTIONS:
            out[action] = value == "yes"
        else:
            out[action] = value
    out["hidden"] = [n for n, v in values.fields.items() if v == "hidden"]
    out["read_only"] = [n for n, v in values.fields.items() if v == "read_only"]
    return out


def permission_change(w: Working, entity: EntityDef, role: str, values: GrantForm
                      ) -> dict[str, Any]:
    """The `permissions` change: only the keys that differ from the role default (or from
    what a lower layer already sets); None when everything is inherited."""
    default = role_default(w.meta, role)
    grant = top_entry(wanted(values, default), lower_permission(w.files, entity.name, role),
                      {**default, "hidden": [], "read_only": []})
    for key in ("hidden", "read_only"):  # the order of the entity's fields, not of the form
        if key in grant:
            grant[key] = [f.name for f in entity if f.name in grant[key]]
    return {"op": "permissions", "entity": entity.name, "role": role, "grant": grant or None}


def _edit_page(w: Working, entity: EntityDef, role: str, values: GrantForm,
               status: int = 200) -> ResponseReturnValue:
    default = role_default(w.meta, role)
    return render_template(
        "designer/access_edit.html", w=w, entity=entity, role=role,
        role_label=role_label(w.meta, role), values=values, default=default,
        cell=cell(w.meta, role, entity), scoped=SCOPED_ACTIONS, actions=ACTIONS,
        action_names=ACTION_NAMES, scope_names=SCOPE_NAMES, scopes=SCOPES,
        value_text=_value_text), status


@bp.get("/access/<entity>/<role>")
@login_required
def edit(entity: str, role: str) -> ResponseReturnValue:
    w = working()
    found = _entity_and_role(w, entity, role)
    return _edit_page(w, found, role, current_form(w.meta, found, role))


@bp.post("/access/<entity>/<role>")
@login_required
def save(entity: str, role: str) -> ResponseReturnValue:
    w = working()
    found = _entity_and_role(w, entity, role)
    values = parse_form(request.form, found)
    if values.errors:
        flash(_("Nothing was saved: fix what is marked below."), "danger")
        return _edit_page(w, found, role, values, 400)
    change = permission_change(w, found, role, values)
    before = permission_change(w, found, role, current_form(w.meta, found, role))
    if change == before:
        flash(_("Nothing changed: the grant is already what the form says."), "info")
        return redirect(url_for(".edit", entity=entity, role=role))
    if add_change(change) is None:
        return _edit_page(w, found, role, values, 400)
    return redirect(draft_url())


@bp.post("/access/<entity>/<role>/preview")
@login_required
def preview(entity: str, role: str) -> ResponseReturnValue:
    w = working()
    found = _entity_and_role(w, entity, role)
    values = parse_form(request.form, found)
    if values.errors:
        return preview_response(None, None, values.errors)
    change = permission_change(w, found, role, values)
    return preview_response(change, {"permissions": {role: change["grant"]}})


# --- a role: label, hierarchy, default grants --------------------------------------------------
@dataclass
class RoleForm:
    label: dict[str, str]
    reports_to: str
    default: dict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)


def _role_or_404(w: Working, role: str) -> None:
    if role not in roles_of(w.meta):
        abort(404)


def _bosses(meta: Meta, role: str) -> list[str]:
    """The roles `role` may report to: any other, except those below it (a cycle)."""
    below = meta.access.below(role) if meta.access is not None else set()
    return [r for r in meta.roles if r != role and r not in below]


def current_role_form(meta: Meta, role: str) -> RoleForm:
    roledef = meta.access.roles.get(role) if meta.access is not None else None
    default = role_default(meta, role)
    return RoleForm(
        {k: str(v) for k, v in (roledef.label.items() if roledef else ())},
        (roledef.reports_to or "") if roledef else "",
        {a: (str(v) if a in SCOPED_ACTIONS else "yes" if v else "no")
         for a, v in default.items()})


def parse_role_form(form: MultiDict[str, str], meta: Meta, role: str) -> RoleForm:
    out = RoleForm({}, "", {})
    for lang in ("en", "zh"):
        text = form.get(f"label-{lang}", "").strip()
        if len(text) > 200:
            out.errors.setdefault(f"label-{lang}", []).append(_("At most 200 characters."))
        if text:
            out.label[lang] = text
    boss = form.get("reports_to", "").strip()
    if boss and boss not in _bosses(meta, role):
        out.errors.setdefault("reports_to", []).append(_(
            "Choose a role that is not %(role)s itself nor below it.", role=role))
    out.reports_to = boss
    for action in ACTIONS:
        value = form.get(f"a-{action}", "none" if action in SCOPED_ACTIONS else "no")
        allowed = SCOPES if action in SCOPED_ACTIONS else ("yes", "no")
        if value not in allowed:
            out.errors.setdefault(f"a-{action}", []).append(_(
                "Choose one of: %(values)s.", values=", ".join(allowed)))
        out.default[action] = value
    return out


def role_change(w: Working, role: str, values: RoleForm) -> dict[str, Any]:
    """The `role` change: the label, `reports_to` and the default grants that grant something
    (or that undo what a lower layer grants)."""
    lower = lower_role(w.files, role)
    want = {a: (v if a in SCOPED_ACTIONS else v == "yes") for a, v in values.default.items()}
    default = top_entry(want, lower.get("default") or {}, {a: nothing(a) for a in ACTIONS})
    out: dict[str, Any] = {}
    if values.label and (values.label != lower.get("label") or not lower):
        out["label"] = values.label
    if values.reports_to and values.reports_to != lower.get("reports_to"):
        out["reports_to"] = values.reports_to
    if default:
        out["default"] = default
    return {"op": "role", "role": role, "values": out}


def _role_page(w: Working, role: str, values: RoleForm, status: int = 200
               ) -> ResponseReturnValue:
    entities = sorted(w.meta, key=lambda e: e.label_for())
    return render_template(
        "designer/access_role.html", w=w, role=role, values=values,
        role_label=role_label(w.meta, role), bosses=_bosses(w.meta, role),
        below=sorted(w.meta.access.below(role)) if w.meta.access is not None else [],
        cells=[cell(w.meta, role, e) for e in entities if e.permissions.get(role)],
        entities={e.name: e for e in entities}, actions=ACTIONS, scoped=SCOPED_ACTIONS,
        scopes=SCOPES, action_names=ACTION_NAMES, scope_names=SCOPE_NAMES,
        label_of=lambda r: role_label(w.meta, r)), status


@bp.get("/access/roles/<role>")
@login_required
def role(role: str) -> ResponseReturnValue:
    w = working()
    _role_or_404(w, role)
    return _role_page(w, role, current_role_form(w.meta, role))


@bp.post("/access/roles/<role>")
@login_required
def save_role(role: str) -> ResponseReturnValue:
    w = working()
    _role_or_404(w, role)
    values = parse_role_form(request.form, w.meta, role)
    if values.errors:
        flash(_("Nothing was saved: fix what is marked below."), "danger")
        return _role_page(w, role, values, 400)
    change = role_change(w, role, values)
    if change == role_change(w, role, current_role_form(w.meta, role)):
        flash(_("Nothing changed: the role is already what the form says."), "info")
        return redirect(url_for(".role", role=role))
    if add_change(change) is None:
        return _role_page(w, role, values, 400)
    return redirect(draft_url())


@bp.post("/access/roles/<role>/preview")
@login_required
def role_preview(role: str) -> ResponseReturnValue:
    w = working()
    _role_or_404(w, role)
    values = parse_role_form(request.form, w.meta, role)
    if values.errors:
        return preview_response(None, None, values.errors)
    change = role_change(w, role, values)
    return preview_response(change, {"access": {"roles": {role: change["values"]}}})
