"""Stage machines at work: whether a move is allowed, what a record may move to, what a stage
requires. Pure functions over the metadata (`Meta.stages`, app/meta/stages.py) and record values;
the built-in plugin (app/workflow/plugin.py) applies them to every save, and the board, the form
and the API ask `allowed_moves` what to offer.

A move of a machine's field is: a create with a value (entering it; it must be one of `initial`
when that is given), or an update changing it (a transition from the old value, or `*`, to the
new one must exist; the actor must have one of its `roles`, if it names any: admins and the
system always may; its `when` must hold on the record's new values). Fields in `require` of the
stage entered must have a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.expr import ExprError, Expression, parse
from app.i18n import _, get_locale
from app.meta.access import ADMIN
from app.meta.types import EntityDef, Meta, StageMachineDef, TransitionDef, label_text
from app.records.change import Actor
from app.records.values import EntitySpec, evaluate, field_label, is_empty, with_formulas

if TYPE_CHECKING:
    from app.records.service import Records

#: key under which a Meta keeps its machines by entity and parsed conditions
_MEMO = "_crm_stage_machines"


@dataclass(frozen=True)
class Moves:
    """Where a record may go: the machine's `field`, its value now (`from_`, None for a new
    record) and the values it may move to, in the picklist's order (not the current one)."""

    field: str
    from_: str | None
    to: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "from": self.from_, "to": list(self.to)}


@dataclass
class _Compiled:
    by_entity: dict[str, dict[str, StageMachineDef]]
    conditions: dict[tuple[str, int], Expression | None]


def _compiled(meta: Meta) -> _Compiled:
    found: _Compiled | None = vars(meta).get(_MEMO)
    if found is None:
        by_entity: dict[str, dict[str, StageMachineDef]] = {}
        for m in meta.stages.values():
            by_entity.setdefault(m.entity, {})[m.field] = m
        found = vars(meta).setdefault(_MEMO, _Compiled(by_entity, {}))
    return found


def machines_for(meta: Meta | None, entity: str) -> Mapping[str, StageMachineDef]:
    """The stage machines of `entity`, by the field they govern (none: empty)."""
    if meta is None or not meta.stages:
        return {}
    return _compiled(meta).by_entity.get(entity, {})


def _condition(meta: Meta, machine: StageMachineDef, index: int, spec: EntitySpec
               ) -> Expression | None:
    memo = _compiled(meta).conditions
    key = (machine.name, index)
    if key not in memo:
        when = machine.transitions[index].when or "true"
        try:
            memo[key] = parse(when, spec.kinds)
        except ExprError:  # checked at load; a field removed since makes it never hold
            memo[key] = None
    return memo[key]


def may_make(t: TransitionDef, actor: Actor) -> bool:
    """Whether `actor` has a role the transition allows (admins and the system always do)."""
    return not t.roles or actor.is_system or ADMIN in actor.roles \
        or bool(set(actor.roles) & set(t.roles))


def _holds(meta: Meta, spec: EntitySpec, machine: StageMachineDef, t: TransitionDef,
           full: Mapping[str, Any]) -> bool:
    if not t.when:
        return True
    expr = _condition(meta, machine, machine.transitions.index(t), spec)
    return expr is not None and evaluate(expr, full) is True


def _stages(entity: EntityDef, machine: StageMachineDef) -> list[str]:
    return [c.value for c in entity.fields[machine.field].choices]


def entering(machine: StageMachineDef, entity: EntityDef) -> tuple[str, ...]:
    """Where a record without a value may start: `initial`, else any value."""
    return machine.initial or tuple(_stages(entity, machine))


def targets(meta: Meta, spec: EntitySpec, machine: StageMachineDef,
            values: Mapping[str, Any], current: str | None, actor: Actor) -> tuple[str, ...]:
    """The values `actor` may move the record (`values`, its field at `current`; None: it has
    none yet) to, in the picklist's order. `when` is checked on the record as it would be."""
    entity = spec.entity
    if current is None:
        return entering(machine, entity)
    allowed: set[str] = set()
    for t in machine.transitions:
        if not t.leaves(current) or not may_make(t, actor):
            continue
        for to in t.to:
            if to == current or to in allowed:
                continue
            if _holds(meta, spec, machine, t, with_formulas(spec, {**values,
                                                                   machine.field: to})):
                allowed.add(to)
    return tuple(s for s in _stages(entity, machine) if s in allowed)


def refusal(meta: Meta, spec: EntitySpec, machine: StageMachineDef, values: Mapping[str, Any],
            old: str | None, new: str | None, actor: Actor) -> str | None:
    """Why moving `machine.field` from `old` (None: a new record, or one without a value) to
    `new` is refused, in the user's language; None when it is allowed."""
    entity = spec.entity
    if old is None:
        start = entering(machine, entity)
        if new is None or new in start:
            return None
        return _("A new %(entity)s cannot start in %(to)s; it may start in %(allowed)s.",
                 entity=entity.label_for(get_locale()), to=stage_label(entity, machine, new),
                 allowed=_listed(entity, machine, start))
    moves = f"{stage_label(entity, machine, old)} → {stage_label(entity, machine, new)}"
    matching = [t for t in machine.transitions if t.leaves(old) and new in t.to]
    if not matching:
        allowed = targets(meta, spec, machine, values, old, actor)
        if not allowed:
            return _("%(move)s is not allowed; there is no move from %(current)s you may "
                     "make.", move=moves, current=stage_label(entity, machine, old))
        return _("%(move)s is not allowed; from %(current)s you may move to %(allowed)s.",
                 move=moves, allowed=_listed(entity, machine, allowed),
                 current=stage_label(entity, machine, old))
    permitted = [t for t in matching if may_make(t, actor)]
    if not permitted:
        custom = _custom(matching)
        if custom:
            return f"{moves}: {custom}"
        roles = [r for t in matching for r in t.roles]
        return _("%(move)s may only be made by %(roles)s.", move=moves,
                 roles=", ".join(role_label(meta, r) for r in dict.fromkeys(roles)))
    full = with_formulas(spec, values)
    if any(_holds(meta, spec, machine, t, full) for t in permitted):
        return None
    custom = _custom(permitted)
    if custom:
        return f"{moves}: {custom}"
    conditions = " / ".join(str(t.when) for t in permitted if t.when)
    return _("%(move)s is not allowed for this record: it needs %(condition)s.", move=moves,
             condition=conditions)


def missing(spec: EntitySpec, machine: StageMachineDef, values: Mapping[str, Any],
            stage: str | None) -> list[tuple[str, str]]:
    """(field, message) for each field `stage` requires that has no value."""
    if stage is None:
        return []
    full = with_formulas(spec, values)
    entity = spec.entity
    out: list[tuple[str, str]] = []
    for name in machine.require.get(stage, ()):
        f = entity.fields.get(name)
        if f is not None and is_empty(full.get(name)):
            out.append((name, _("%(field)s is required to move to %(stage)s.",
                                field=field_label(f),
                                stage=stage_label(entity, machine, stage))))
    return out


def allowed_moves(records: Records, entity: str, record: Mapping[str, Any], actor: Actor,
                  field: str | None = None) -> Moves | None:
    """Where `actor` may move `record` (a dict of field values; without an `id` a new record)
    along the stage machine of `field` (default: the entity's first machine). None when no
    machine governs that field. The board greys out the other columns, the form offers only
    these (and the current value), the API answers `/moves` with it."""
    machines = machines_for(records.meta, entity)
    machine = next(iter(machines.values()), None) if field is None else machines.get(field)
    if machine is None:
        return None
    spec = records.spec(entity)
    current = record.get(machine.field) if record.get("id") is not None else None
    values = {k: record.get(k) for k in spec.columns if k in record}
    return Moves(machine.field, current,
                 targets(records.meta, spec, machine, values, current, actor))


# --- labels ----------------------------------------------------------------------------------
def stage_label(entity: EntityDef, machine: StageMachineDef, value: str | None) -> str:
    if value is None:
        return _("(no value)")
    for c in entity.fields[machine.field].choices:
        if c.value == value:
            return label_text(c.label, get_locale(), value)
    return value


def _listed(entity: EntityDef, machine: StageMachineDef, values: Iterable[str]) -> str:
    return ", ".join(stage_label(entity, machine, v) for v in values)


def role_label(meta: Meta, role: str) -> str:
    roles = getattr(meta.access, "roles", None) or {}
    found = roles.get(role)
    return label_text(found.label, get_locale(), role) if found is not None else role


def _custom(transitions: Iterable[TransitionDef]) -> str | None:
    for t in transitions:
        if t.message:
            return label_text(t.message, get_locale(), "")
    return None
