"""The built-in stage machine plugin (listed in `app.plugins.BUILTIN_PLUGINS`): every create and
update through the records service obeys the machines of `Meta.stages`, whether it comes from a
form, the board, a bulk edit, an import or the API.

- `crm_record_before_validate`: a refused move raises ValidationFailed naming the field; an
  allowed one applies the `set` actions of the stage entered, so they are validated like the
  user's values.
- `crm_record_validate`: fields the stage entered requires.
- `crm_record_before_transition`: checks again a move a later hook made (a safety net).
- `crm_record_after_transition`: `create_activity` through the records service in the same
  transaction; the other actions become an automation run row (the outbox), queued after commit.
- `crm_record_after_commit`: the after-commit hooks of the activities created.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from app import clock
from app.actions import ActionContext
from app.fields import registry
from app.meta.stages import (
    ACTIVITY,
    ACTIVITY_TEXTS,
    ACTIVITY_VALUES,
    CREATE_ACTIVITY,
    DUE,
    SET,
    activity_link,
    queued,
    run_name,
)
from app.meta.types import StageMachineDef, thaw
from app.plugins import hookimpl
from app.records.change import SYSTEM, Change, transitions
from app.records.errors import ValidationFailed
from app.records.values import OWNER, EntitySpec
from app.workflow import machine as sm

log = logging.getLogger(__name__)
#: keys under which a Change carries what this plugin did (read by later hooks)
CHECKED = "_crm_stage_checked"
CHILDREN = "_crm_stage_children"


def _spec(change: Change) -> EntitySpec:
    service = change.service
    if service is not None:
        return cast(EntitySpec, service.spec(change.entity.name))
    return EntitySpec(change.entity, registry)


def _moves(change: Change) -> dict[str, tuple[Any, Any]]:
    machines = sm.machines_for(change.meta, change.entity.name)
    if not machines:
        return {}
    return {f: pair for f, pair in transitions(change).items() if f in machines}


def _check(change: Change, moves: Mapping[str, tuple[Any, Any]]) -> None:
    assert change.meta is not None
    machines = sm.machines_for(change.meta, change.entity.name)
    spec = _spec(change)
    errors: dict[str, list[str]] = {}
    for name, (old, new) in moves.items():
        problem = sm.refusal(change.meta, spec, machines[name], change.values,
                             None if change.action == "create" else old, new, change.actor)
        if problem:
            errors[name] = [problem]
    if errors:
        raise ValidationFailed(errors)


@hookimpl
def crm_record_before_validate(change: Change) -> None:
    moves = _moves(change)
    if not moves:
        return
    _check(change, moves)
    change.__dict__[CHECKED] = dict(moves)
    machines = sm.machines_for(change.meta, change.entity.name)
    for name, (_old, new) in moves.items():
        for step in machines[name].on_enter.get(new, ()) if new is not None else ():
            if step.action == SET:
                for key, value in step.params.items():
                    f = change.entity.fields[key]
                    if value == "now" and f.type in ("date", "datetime"):  # entering it now,
                        given = change.values.get(key)  # unless this save gives its own
                        if given is not None and given != change.old.get(key):
                            continue
                        value = clock.now() if f.type == "datetime" else clock.now().date()
                    change.values[key] = registry.get(f.type).to_python(f, thaw(value))


@hookimpl
def crm_record_validate(change: Change) -> list[tuple[str | None, str]] | None:
    checked: dict[str, tuple[Any, Any]] = change.__dict__.get(CHECKED) or {}
    if not checked:
        return None
    machines = sm.machines_for(change.meta, change.entity.name)
    spec = _spec(change)
    problems: list[tuple[str | None, str]] = []
    for name, (_old, new) in checked.items():
        problems += sm.missing(spec, machines[name], change.values, new)
    return problems


@hookimpl
def crm_record_before_transition(change: Change, field: str, old: Any, new: Any) -> None:
    machine = sm.machines_for(change.meta, change.entity.name).get(field)
    if machine is None or (change.__dict__.get(CHECKED) or {}).get(field) == (old, new):
        return
    _check(change, {field: (old, new)})  # a hook after validation moved it: check it now
    problems = sm.missing(_spec(change), machine, change.values, new)
    if problems:
        raise ValidationFailed({k: [m] for k, m in problems})


@hookimpl
def crm_record_after_transition(change: Change, field: str, old: Any, new: Any) -> None:
    machine = sm.machines_for(change.meta, change.entity.name).get(field)
    if machine is None or new is None:
        return
    for step in machine.on_enter.get(new, ()):
        if step.action == CREATE_ACTIVITY:
            create_activity(change, f"stage machine {machine.name}", step.params)
    if queued(machine, new):
        _queue(change, machine, field, old, new)


@hookimpl
def crm_record_after_commit(change: Change) -> None:
    children: list[Change] = change.__dict__.pop(CHILDREN, [])
    for child in children:
        if change.service is not None:
            change.service._after_commit(child)


# --- the actions -----------------------------------------------------------------------------
def _record_json(change: Change) -> dict[str, Any]:
    from app.events.outbox import jsonable

    secret = {f.name for f in change.entity if f.encrypted}
    record: dict[str, Any] = jsonable(change.record)
    return {k: v for k, v in record.items() if k not in secret}


def create_activity(change: Change, what: str, params: Mapping[str, Any]) -> None:
    """A linked activity (a task by default) through the records service, in this transaction,
    owned by the record's owner, created by the system (`what` names the workflow for logs)."""
    service = change.service
    if service is None or change.meta is None:
        log.warning("%s: create_activity needs the records service", what)
        return
    target = change.meta.entities[str(params.get("entity") or ACTIVITY)]
    link = activity_link(target, change.entity.name, params.get("link"))[0]
    texts = ActionContext(ctx=cast(Any, None), entity=change.entity.name, event="transition",
                          record=_record_json(change))
    values: dict[str, Any] = {link: change.id}
    for key in ACTIVITY_TEXTS:
        if key in params:
            values[key] = texts.render(str(params[key]))
    for key in ACTIVITY_VALUES:
        if key in params:
            values[key] = params[key]
    if "due_in_days" in params:
        due = clock.now() + timedelta(days=int(params["due_in_days"]))
        values[DUE] = due.date() if target.fields[DUE].type == "date" else due
    owner = change.record.get("owner_id")
    if owner is not None:
        values[OWNER] = owner
        assignee = target.fields.get("assigned_to")
        if assignee is not None and assignee.type == "user":
            values["assigned_to"] = owner
    child = service._create(change.conn, target.name, values, SYSTEM)
    change.__dict__.setdefault(CHILDREN, []).append(child)


def _queue(change: Change, machine: StageMachineDef, field: str, old: Any, new: Any) -> None:
    """The queued actions of the stage entered (the automation runner finds them by name:
    app/meta/stages.py `stage_automations`)."""
    event = "created" if change.action == "create" else "transition"
    queue_run(change, run_name(machine.name, new), event, {field: [old, new]},
              {"stage_machine": machine.name})


def queue_run(change: Change, automation: str, event: str, changes: Mapping[str, Any],
              extra: Mapping[str, Any]) -> None:
    """One automation run row for queued actions, in the change's transaction; the events plugin
    enqueues it after commit (app/events/plugin.py)."""
    from app.events import outbox
    from app.model.system_events import PENDING, automation_runs

    now = datetime.now(UTC)
    entity = change.entity.name
    secret = {f.name for f in change.entity if f.encrypted}
    shown = {k: v for k, v in outbox.jsonable(dict(changes)).items() if k not in secret}
    context = {"event": event, "record": _record_json(change), "changes": shown,
               "actor_id": change.actor.id, **extra, "id": f"evt_{uuid.uuid4().hex}"}
    rid = change.conn.execute(automation_runs.insert().values(
        event=f"{entity}.{event}", entity=entity, record_id=change.id, status=PENDING,
        attempts=0, next_attempt_at=now, created_at=now,
        automation=automation, context=context, steps_done=0)
        .returning(automation_runs.c.id)).scalar_one()
    change.__dict__.setdefault(outbox.STASH, []).append(("automation", int(rid)))
