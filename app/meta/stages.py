"""Stage machines (`stages:` in workflows/*.yaml): which moves a picklist field may make.

```yaml
stages:
  opportunity_pipeline:
    entity: opportunity
    field: stage                              # a picklist of the entity
    initial: [prospecting, qualification]     # where a new record may start (default: anywhere)
    transitions:                              # the allowed moves; anything else is refused
      - {from: prospecting, to: [qualification, lost]}
      - {from: "*", to: lost, roles: [sales_rep, sales_manager], when: "amount < 1000000"}
    require:                                  # fields that must have a value on entering
      won: [amount, close_date]
    on_enter:                                 # actions on entering a stage
      won:
        - set: {probability: 100}             # in the transaction, before validation
        - create_activity: {subject: "Kick-off for {name}", kind: task, due_in_days: 3}
        - call_webhook: {url_env: CRM_WON_URL, body: "{name} won"}   # after commit, queued
```

Files are read and merged by name like webhooks and automations (app/meta/workflows.py does
the reading; `check_stages` here checks the merged machines against the entities). Problems are
`ConfigError`s CRM-E070..E078 with file and line, the expression codes for `when`, and the
automation codes (E065, E066, E068) for actions. The machines go on `Meta.stages`; the records
side is app/workflow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from app.meta.errors import ConfigError
from app.meta.types import (
    IDENTIFIER,
    ActionRef,
    AutomationDef,
    EntityDef,
    FieldDef,
    Meta,
    Source,
    StageMachineDef,
    TransitionDef,
    freeze,
    thaw,
)

#: actions a stage machine runs itself, in the record's transaction (the others are registered
#: actions, queued after commit)
SET = "set"
CREATE_ACTIVITY = "create_activity"
#: the entity `create_activity` writes unless told otherwise
ACTIVITY = "activity"
ANY = "*"

_NAME = {"type": "string", "pattern": IDENTIFIER.pattern}
#: one value or a list of values
_VALUES = {"type": ["string", "array"], "minLength": 1, "minItems": 1,
           "items": {"type": "string", "minLength": 1}}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_STEP = {"type": "object", "minProperties": 1, "maxProperties": 1,
         "additionalProperties": {"type": ["object", "null"]}}
_TRANSITION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["from", "to"],
    "properties": {
        "from": _VALUES,
        "to": _VALUES,
        "roles": {"type": "array", "minItems": 1, "items": _NAME},
        "when": {"type": "string", "minLength": 1},
        "message": _LABELS,
    },
}
STAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "entity": _NAME,
        "field": _NAME,
        "initial": _VALUES,
        "transitions": {"type": "array", "minItems": 1, "items": _TRANSITION},
        "require": {"type": "object", "additionalProperties": {
            "type": "array", "items": _NAME}},
        "on_enter": {"type": "object", "additionalProperties": {
            "type": "array", "minItems": 1, "items": _STEP}},
        "remove": {"const": True},
    },
}
#: parameters of the in-transaction actions
LOCAL_ACTIONS: dict[str, dict[str, Any]] = {
    SET: {"type": "object", "minProperties": 1, "propertyNames": _NAME},
    CREATE_ACTIVITY: {
        "type": "object",
        "additionalProperties": False,
        "required": ["subject"],
        "properties": {
            "subject": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "kind": {"type": "string"},
            "priority": {"type": "string"},
            "due_in_days": {"type": "integer", "minimum": 0, "maximum": 3650},
            "entity": _NAME,
            "link": _NAME,
        },
    },
}
#: create_activity parameters that are values of the activity's fields of the same name
ACTIVITY_VALUES = ("kind", "priority")
#: create_activity parameters that are text templates for the activity's fields
ACTIVITY_TEXTS = ("subject", "description")
#: the activity field `due_in_days` sets
DUE = "due_at"


def values_of(raw: Any) -> tuple[str, ...]:
    """`from` / `to` / `initial` as a tuple (one value or a list)."""
    if raw is None:
        return ()
    return (str(raw),) if isinstance(raw, str) else tuple(str(v) for v in raw)


def _hint(name: str, options: Any) -> str:
    from app.meta.checks import _hint as hint

    return hint(name, options)


# --- checks ----------------------------------------------------------------------------------
def check_stages(merged: Mapping[str, tuple[dict[str, Any], Any]], meta: Meta,
                 errors: list[ConfigError]) -> dict[str, StageMachineDef]:
    """The merged `stages:` bodies (name -> (body, document)) checked against `meta`."""
    out: dict[str, StageMachineDef] = {}
    fields_taken: dict[tuple[str, str], StageMachineDef] = {}
    for name, (body, doc) in merged.items():
        machine = _machine(name, body, doc, meta, errors)
        if machine is None:
            continue
        first = fields_taken.get((machine.entity, machine.field))
        if first is not None:
            errors.append(ConfigError("CRM-E076", f"stage machine '{name}': "
                                      f"{machine.entity}.{machine.field} already has the stage "
                                      f"machine '{first.name}' ({first.source}); one field "
                                      "has at most one machine", machine.source))
            continue
        fields_taken[(machine.entity, machine.field)] = machine
        out[name] = machine
    return out


def _machine(name: str, body: dict[str, Any], doc: Any, meta: Meta,
             errors: list[ConfigError]) -> StageMachineDef | None:
    at = doc.positions.at
    base: tuple[str | int, ...] = ("stages", name)
    what = f"stage machine '{name}'"
    missing = [k for k in ("entity", "field", "transitions") if k not in body]
    for key in missing:
        errors.append(ConfigError("CRM-E012", f"{what} needs `{key}`", at(base)))
    if missing:
        return None
    ent = str(body["entity"])
    entity = meta.entities.get(ent)
    if entity is None:
        errors.append(ConfigError("CRM-E070", f"{what}: there is no entity "
                                  f"'{ent}'{_hint(ent, meta.entities)}", at((*base, "entity"))))
        return None
    fname = str(body["field"])
    f = entity.fields.get(fname)
    if f is None or f.type != "picklist":
        problem = (f"'{fname}' is a {f.type} field, not a picklist" if f is not None else
                   f"{ent} has no field '{fname}'{_hint(fname, entity.fields)}")
        errors.append(ConfigError("CRM-E071", f"{what}: {problem}", at((*base, "field"))))
        return None
    stages = [c.value for c in f.choices]

    def known(value: str, path: tuple[str | int, ...], star: bool = False) -> bool:
        if value in stages or (star and value == ANY):
            return True
        errors.append(ConfigError("CRM-E072", f"{what}: '{value}' is not a value of "
                                  f"{ent}.{fname}{_hint(value, stages)}; the values are: "
                                  f"{', '.join(stages)}", at(path)))
        return False

    def each(raw: Any, path: tuple[str | int, ...], star: bool = False) -> tuple[str, ...]:
        vals = values_of(raw)
        one = isinstance(raw, str)
        return tuple(v for i, v in enumerate(vals)
                     if known(v, path if one else (*path, i), star))

    initial = each(body.get("initial"), (*base, "initial"))
    transitions = tuple(_transition(what, i, t, entity, meta, each, at, (*base, "transitions"),
                                    errors)
                        for i, t in enumerate(body.get("transitions") or ()))
    require: dict[str, tuple[str, ...]] = {}
    for stage, names in (body.get("require") or {}).items():
        path = (*base, "require", stage)
        if known(str(stage), path):
            require[str(stage)] = tuple(n for i, n in enumerate(names or ())
                                        if _field(what, "require", n, entity, (*path, i), at,
                                                  errors, stored=False))
    on_enter: dict[str, tuple[ActionRef, ...]] = {}
    for stage, steps in (body.get("on_enter") or {}).items():
        path = (*base, "on_enter", stage)
        if known(str(stage), path):
            on_enter[str(stage)] = _steps(what, steps, entity, f, meta, path, at, errors)
    source = at(base)
    _reachable(what, stages, initial, transitions, source, errors)
    return StageMachineDef(name=name, entity=ent, field=fname, initial=initial,
                           transitions=transitions, require=freeze(require),
                           on_enter=freeze(on_enter), source=source)


def _transition(what: str, i: int, raw: Mapping[str, Any], entity: EntityDef, meta: Meta,
                each: Any, at: Any, base: tuple[str | int, ...],
                errors: list[ConfigError]) -> TransitionDef:
    from app.fields import registry
    from app.meta.checks import check_expression, expr_kinds

    path = (*base, i)
    roles = tuple(str(r) for r in raw.get("roles") or ())
    for j, role in enumerate(roles):
        if role not in meta.roles:
            errors.append(ConfigError("CRM-E073", f"{what}: '{role}' is not a role"
                                      f"{_hint(role, meta.roles)}; the roles are: "
                                      f"{', '.join(meta.roles)}", at((*path, "roles", j))))
    when = raw.get("when")
    if when:
        errs, _names = check_expression(f"{what} transition {i + 1} when", str(when),
                                        expr_kinds(entity, registry), at((*path, "when")))
        errors.extend(errs)
    return TransitionDef(from_=each(raw.get("from"), (*path, "from"), True),
                         to=each(raw.get("to"), (*path, "to")), roles=roles,
                         when=str(when) if when else None,
                         message=freeze(dict(raw.get("message") or {})))


def _field(what: str, key: str, name: str, entity: EntityDef, path: tuple[str | int, ...],
           at: Any, errors: list[ConfigError], *, stored: bool = True) -> bool:
    """Whether `name` is a field of `entity` that `key` (require, set) may name."""
    from app.fields import registry

    f = entity.fields.get(name)
    if f is None:
        errors.append(ConfigError("CRM-E074", f"{what}: {key} names no field '{name}' of "
                                  f"{entity.name}{_hint(name, entity.fields)}", at(path)))
        return False
    ftype = registry.get(f.type) if f.type in registry else None
    if stored and (ftype is None or not ftype.has_column or ftype.computed):
        errors.append(ConfigError("CRM-E074", f"{what}: {key} cannot set '{name}', a "
                                  f"{f.type} field computes its value", at(path)))
        return False
    return True


def _value_problem(f: FieldDef, value: Any) -> str | None:
    """What is wrong with `value` for field `f`, or None."""
    from app.fields import registry
    from app.fields.base import FieldValueError

    ftype = registry.get(f.type)
    try:
        python = ftype.to_python(f, value)
    except (FieldValueError, ValueError, TypeError) as exc:
        return str(exc)
    problems = ftype.validate(f, python) if python is not None else []
    return "; ".join(problems) or None


def _steps(what: str, steps: Any, entity: EntityDef, stage_field: FieldDef, meta: Meta,
           base: tuple[str | int, ...], at: Any, errors: list[ConfigError]
           ) -> tuple[ActionRef, ...]:
    from app.meta.workflows import check_action_steps

    refs = check_action_steps(what, steps or (), base, at, errors, local=LOCAL_ACTIONS)
    out: list[ActionRef] = []
    for i, ref in enumerate(refs):
        path = (*base, i, ref.action)
        if ref.action == SET:
            ok = True
            for name, value in ref.params.items():
                where = (*path, name)
                if not _field(what, "set", name, entity, where, at, errors):
                    ok = False
                elif name == stage_field.name:
                    errors.append(ConfigError("CRM-E074", f"{what}: set cannot change "
                                              f"'{name}', the machine's own field", at(where)))
                    ok = False
                elif value == "now" and entity.fields[name].type in ("date", "datetime"):
                    pass  # the moment the stage is entered (app/workflow/plugin.py)
                else:
                    problem = _value_problem(entity.fields[name], thaw(value))
                    if problem:
                        errors.append(ConfigError("CRM-E075", f"{what}: set {name}: "
                                                  f"{thaw(value)!r} does not fit the field: "
                                                  f"{problem}", at(where)))
                        ok = False
            if not ok:
                continue
        elif ref.action == CREATE_ACTIVITY and not _activity_ok(what, ref.params, entity, meta,
                                                                 path, at, errors):
            continue
        out.append(ref)
    return tuple(out)


def activity_link(target: EntityDef, entity: str, link: str | None) -> list[str]:
    """The lookups of `target` to `entity` (only `link` when given and it is one)."""
    found = [f.name for f in target if f.type in ("lookup", "master_detail")
             and f.opt("to") == entity]
    return [n for n in found if n == link] if link else found


def _activity_ok(what: str, params: Mapping[str, Any], entity: EntityDef, meta: Meta,
                 path: tuple[str | int, ...], at: Any, errors: list[ConfigError]) -> bool:
    name = str(params.get("entity") or ACTIVITY)
    target = meta.entities.get(name)
    if target is None:
        errors.append(ConfigError("CRM-E078", f"{what}: create_activity needs an entity "
                                  f"'{name}'{_hint(name, meta.entities)}", at(path)))
        return False
    links = activity_link(target, entity.name, params.get("link"))
    if len(links) != 1:
        problem = (f"{name} has no lookup{' ' + repr(params['link']) if params.get('link') else ''}"
                   f" to {entity.name}" if not links else
                   f"{name} has several lookups to {entity.name} ({', '.join(links)}): name "
                   "one with `link`")
        errors.append(ConfigError("CRM-E078", f"{what}: create_activity: {problem}", at(path)))
        return False
    ok = True
    wanted = [k for k in (*ACTIVITY_TEXTS, *ACTIVITY_VALUES) if k in params]
    if "due_in_days" in params:
        wanted.append(DUE)
    for key in wanted:
        f = target.fields.get(key)
        if f is None:
            errors.append(ConfigError("CRM-E078", f"{what}: create_activity: {name} has no "
                                      f"field '{key}'", at((*path, key))))
            ok = False
        elif key in ACTIVITY_VALUES:
            found = _value_problem(f, params[key])
            if found:
                errors.append(ConfigError("CRM-E078", f"{what}: create_activity {key}: "
                                          f"{found}", at((*path, key))))
                ok = False
    return ok


def _reachable(what: str, stages: list[str], initial: tuple[str, ...],
               transitions: tuple[TransitionDef, ...], source: Source,
               errors: list[ConfigError]) -> None:
    """A stage no record can get to (from an initial value through the moves) is an error."""
    reached = set(initial or stages)
    frontier = set(reached)
    while frontier:
        nxt = {to for t in transitions for to in t.to
               if ANY in t.from_ or frontier & set(t.from_)} - reached
        reached |= nxt
        frontier = nxt
    lost = [s for s in stages if s not in reached]
    if lost:
        errors.append(ConfigError("CRM-E077", f"{what}: no record can reach "
                                  f"{', '.join(lost)} from the initial values "
                                  f"({', '.join(initial)}) through the transitions", source))


# --- snapshot ----------------------------------------------------------------------------------
def stages_to_dict(machines: Mapping[str, StageMachineDef]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in machines.values():
        item: dict[str, Any] = {"entity": m.entity, "field": m.field,
                                "transitions": [_transition_dict(t) for t in m.transitions]}
        if m.initial:
            item["initial"] = list(m.initial)
        if m.require:
            item["require"] = {k: list(v) for k, v in m.require.items()}
        if m.on_enter:
            item["on_enter"] = {k: [{s.action: thaw(s.params)} for s in v]
                                for k, v in m.on_enter.items()}
        out[m.name] = item
    return out


def _transition_dict(t: TransitionDef) -> dict[str, Any]:
    out: dict[str, Any] = {"from": list(t.from_), "to": list(t.to)}
    if t.roles:
        out["roles"] = list(t.roles)
    if t.when:
        out["when"] = t.when
    if t.message:
        out["message"] = thaw(t.message)
    return out


def stages_from_dict(data: Mapping[str, Any], src: Source) -> dict[str, StageMachineDef]:
    out: dict[str, StageMachineDef] = {}
    for name, d in data.items():
        transitions = tuple(TransitionDef(from_=values_of(t.get("from")),
                                          to=values_of(t.get("to")),
                                          roles=tuple(t.get("roles") or ()), when=t.get("when"),
                                          message=freeze(t.get("message") or {}))
                            for t in d.get("transitions") or ())
        on_enter = {stage: tuple(ActionRef(k, freeze(v or {})) for step in steps
                                 for k, v in step.items())
                    for stage, steps in (d.get("on_enter") or {}).items()}
        out[name] = StageMachineDef(
            name=name, entity=d["entity"], field=d["field"], initial=values_of(d.get("initial")),
            transitions=transitions,
            require=freeze({k: tuple(v) for k, v in (d.get("require") or {}).items()}),
            on_enter=freeze(on_enter), source=src)
    return out


# --- queued actions --------------------------------------------------------------------------
def queued(machine: StageMachineDef, stage: str) -> tuple[ActionRef, ...]:
    """The actions on entering `stage` that run on the task queue after commit."""
    return tuple(s for s in machine.on_enter.get(stage, ()) if s.action not in LOCAL_ACTIONS)


def run_name(machine: str, stage: str) -> str:
    """The automation name of the queued actions on entering `stage` (an automation run row's
    `automation`, at most 63 characters; never a valid automation name, so never a clash)."""
    name = f"stage:{machine}:{stage}"
    if len(name) <= 63:
        return name
    return "stage:" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:40]


def stage_automations(meta: Meta) -> dict[str, AutomationDef]:
    """The queued actions of every machine as automations no event triggers (`on` is empty):
    the stage machine writes their run rows itself, and the automation runner finds them by
    name (app/events/outbox.py `subscriptions`)."""
    out: dict[str, AutomationDef] = {}
    for m in meta.stages.values():
        for stage in m.on_enter:
            steps = queued(m, stage)
            if steps:
                name = run_name(m.name, stage)
                out[name] = AutomationDef(name=name, entity=m.entity, on=(), actions=steps,
                                          source=m.source)
    return out
