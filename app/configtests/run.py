"""Running config tests against one `Meta` (the live version, the YAML on disk, or a candidate
the designer holds in memory): each check gives a `CheckResult` saying what was expected and
what happened. Pure over the metadata; only an approval check's `approvers` reads users from
the database, when it is given an engine.

A check that names an entity, field, role, stage machine, value or approval process the config
under test does not have fails, saying so: a change that removes something a check relies on
is worth knowing about before it is applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from app.access.policy import entity_access
from app.configtests.checkfile import WHOLE_RECORD, Check
from app.fields import registry as default_registry
from app.fields.base import FieldValueError, Registry
from app.meta.access import ADMIN
from app.meta.checks import _hint
from app.meta.types import EntityDef, FieldDef, Meta, Source, StageMachineDef, thaw
from app.records.change import Actor
from app.records.errors import RECORD
from app.records.values import EntitySpec, apply_defaults, coerce, validate, with_formulas
from app.workflow import machine as sm


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: str
    passed: bool
    #: what was expected and what happened, in a sentence or two
    message: str
    source: Source
    #: what was not checked and why (an approval's approvers without a database)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "passed": self.passed,
                "message": self.message, "notes": list(self.notes),
                "source": str(self.source), "file": self.source.file,
                "line": self.source.line}


class Missing(Exception):
    """The check cannot be run on the config under test (it names something the config does
    not have, or gives a computed field a value): it fails, saying why."""


@dataclass
class Outcome:
    passed: bool
    message: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Subject:
    """The config under test, with lookups that fail the check when a name is unknown."""

    meta: Meta
    registry: Registry
    engine: sa.Engine | None = None
    _specs: dict[str, EntitySpec] = field(default_factory=dict)

    def entity(self, name: str) -> EntityDef:
        found = self.meta.entities.get(name)
        if found is None:
            raise Missing(f"there is no entity '{name}'{_hint(name, self.meta.entities)}")
        return found

    def field_of(self, entity: EntityDef, name: str) -> FieldDef:
        found = entity.fields.get(name)
        if found is None:
            raise Missing(f"{entity.name} has no field '{name}'{_hint(name, entity.fields)}")
        return found

    def role(self, name: str) -> str:
        if name not in self.meta.roles:
            raise Missing(f"there is no role '{name}'{_hint(name, self.meta.roles)} (roles: "
                          f"{', '.join(self.meta.roles)})")
        return name

    def spec(self, entity: EntityDef) -> EntitySpec:
        if entity.name not in self._specs:
            self._specs[entity.name] = EntitySpec(entity, self.registry)
        return self._specs[entity.name]

    def record(self, entity: EntityDef, raw: Mapping[str, Any], *, inputs: bool = False
               ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """A record of `entity` as a save would start it: `raw` coerced (as the system: read-only
        fields may be given), then the defaults. With `inputs`, the values of roll-ups may be
        given too (they come from other records). Problems of single values are returned."""
        spec = self.spec(entity)
        given: dict[str, Any] = {}
        rollups: dict[str, Any] = {}
        for key, value in raw.items():
            f = self.field_of(entity, key)
            if f.type == "formula":
                raise Missing(f"{entity.name}.{key} is a formula: it is computed, so it cannot "
                              "be given in `values`")
            if inputs and spec.ftype(f).computed:
                try:
                    rollups[key] = spec.ftype(f).to_python(f, value)
                except FieldValueError as exc:
                    raise Missing(f"{entity.name}.{key}: {exc}") from None
            else:
                given[key] = value
        values, errors = coerce(spec, given, system=True)
        apply_defaults(spec, values, set(given))
        values.update(rollups)
        return values, errors


Runner = Callable[[Subject, dict[str, Any]], Outcome]


def run_checks(meta: Meta, checks: Sequence[Check], engine: sa.Engine | None = None,
               registry: Registry | None = None) -> list[CheckResult]:
    """Run each check against `meta`, in order. `engine`: the database whose users an approval
    check's `approvers` are looked up in (without one that part is skipped, with a note)."""
    from app.configtests.approval import run_approval

    runners: dict[str, Runner] = {"access": run_access, "record": run_record,
                                  "transition": run_transition, "formula": run_formula,
                                  "approval": run_approval}
    subject = Subject(meta, registry or default_registry, engine)
    out: list[CheckResult] = []
    for check in checks:
        try:
            outcome = runners[check.kind](subject, check.body())
        except Missing as exc:
            outcome = Outcome(False, str(exc))
        out.append(CheckResult(check.name, check.kind, outcome.passed, outcome.message,
                               check.source, tuple(outcome.notes)))
    return out


def show(value: Any) -> str:
    """A value as a check's message shows it (numbers without trailing zeros)."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text if text != "-0" else "0"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if value is None:
        return "null"
    return str(value)


def listed(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "none"


# --- access -------------------------------------------------------------------------------
def run_access(subject: Subject, body: dict[str, Any]) -> Outcome:
    role = subject.role(body["role"])
    entity = subject.entity(body["entity"])
    named = ("can_see", "cannot_see", "can_change", "cannot_change")
    fields = {n: subject.field_of(entity, n) for key in named for n in body.get(key, ())}
    acc = entity_access(subject.meta, [role], entity)
    problems: list[str] = []
    for action in body.get("can", ()):
        if not acc.allows(action):
            problems.append(f"expected {role} to {action} {entity.name} records, but nothing "
                            "grants it")
    for action in body.get("cannot", ()):
        grant = acc.granting(action)
        origin = grant.origins.get(action) if grant is not None else None
        if grant is not None:
            why = f"it is granted by {origin}" if origin is not None and origin.source \
                else (origin.path if origin is not None else "a grant allows it")
            problems.append(f"expected {role} not to {action} {entity.name} records, but "
                            f"{why}")
    reads = acc.allows("read")
    writes = acc.allows("edit") or acc.allows("create")
    for name in body.get("can_see", ()):
        if not reads:
            problems.append(f"expected {role} to see {entity.name}.{name}, but {role} may not "
                            f"read {entity.name} records at all")
        elif name in acc.hidden:
            problems.append(f"expected {role} to see {entity.name}.{name}, but it is hidden "
                            f"from {role}")
    for name in body.get("cannot_see", ()):
        if reads and name not in acc.hidden:
            problems.append(f"expected {entity.name}.{name} to be hidden from {role}, but "
                            f"{role} sees it")
    for name in body.get("can_change", ()):
        locked = _unchangeable(subject, entity, fields[name], acc.read_only | acc.hidden,
                               writes, role)
        if locked:
            problems.append(f"expected {role} to change {entity.name}.{name}, but {locked}")
    for name in body.get("cannot_change", ()):
        if not _unchangeable(subject, entity, fields[name], acc.read_only | acc.hidden,
                             writes, role):
            problems.append(f"expected {entity.name}.{name} to be read-only for {role}, but "
                            f"{role} may change it")
    for action, scope in (body.get("scope") or {}).items():
        actual = acc.scope(action)
        if actual != scope:
            problems.append(f"expected {role} to {action} {scope} {entity.name} records, but "
                            f"the scope is {actual}")
    if problems:
        return Outcome(False, "; ".join(problems))
    said = {"can": "may", "cannot": "may not", "can_see": "sees", "cannot_see": "does not see",
            "can_change": "may change", "cannot_change": "may not change"}
    parts = [f"{words} {', '.join(body[key])}" for key, words in said.items() if body.get(key)]
    parts += [f"{action} scope {scope}" for action, scope in (body.get("scope") or {}).items()]
    return Outcome(True, f"{role} on {entity.name}: {'; '.join(parts)}")


def _unchangeable(subject: Subject, entity: EntityDef, f: FieldDef, locked: frozenset[str],
                  writes: bool, role: str) -> str | None:
    """Why `role` may not change field `f` (None: it may)."""
    if not writes:
        return f"{role} may neither create nor edit {entity.name} records"
    if subject.spec(entity).ftype(f).computed or not subject.spec(entity).ftype(f).has_column:
        return "it is computed"
    if f.read_only:
        return "the field is read-only for everyone"
    if f.name in locked:
        return f"it is read-only or hidden for {role}"
    return None


# --- record -------------------------------------------------------------------------------
def problems_of(subject: Subject, entity: EntityDef, raw: Mapping[str, Any]
                ) -> dict[str, list[str]]:
    """Why a record with `raw` values would be refused when saved (field -> messages; `record`
    for rules naming no field): coercion, required fields, types, rules, and the requirements
    and `set` actions of the stage each stage machine of the entity is in."""
    spec = subject.spec(entity)
    values, errors = subject.record(entity, raw)
    machines = sm.machines_for(subject.meta, entity.name)
    for machine in machines.values():
        stage = values.get(machine.field)
        for step in machine.on_enter.get(stage, ()) if isinstance(stage, str) else ():
            if step.action == "set":
                for key, value in step.params.items():
                    f = entity.fields[key]
                    values[key] = spec.ftype(f).to_python(f, thaw(value))
    for key, found in validate(spec, values).items():
        errors.setdefault(key, []).extend(found)
    for machine in machines.values():
        stage = values.get(machine.field)
        for key, message in sm.missing(spec, machine, values,
                                       stage if isinstance(stage, str) else None):
            errors.setdefault(key, []).append(message)
    return {(WHOLE_RECORD if k == RECORD else k): v for k, v in errors.items()}


def _said(errors: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())


def run_record(subject: Subject, body: dict[str, Any]) -> Outcome:
    entity = subject.entity(body["entity"])
    errors = problems_of(subject, entity, body.get("values") or {})
    if "valid" in body:
        if body["valid"] and errors:
            return Outcome(False, f"expected the {entity.name} to be saved, but it is refused: "
                           f"{_said(errors)}")
        if not body["valid"] and not errors:
            return Outcome(False, f"expected the {entity.name} to be refused, but it is saved")
        return Outcome(True, f"{entity.name} " + (f"refused: {_said(errors)}" if errors
                                                   else "saved"))
    invalid = body["invalid"]
    wanted: dict[str, str | None] = dict.fromkeys(invalid) if isinstance(invalid, list) \
        else dict(invalid)
    problems: list[str] = []
    for name, words in wanted.items():
        if name != WHOLE_RECORD:
            subject.field_of(entity, name)
        found = errors.get(name)
        if not found:
            problems.append(f"expected a problem with {name}, but there is none")
        elif words and not any(words.lower() in m.lower() for m in found):
            problems.append(f"expected {name}'s problem to say '{words}', but it says: "
                            f"{' '.join(found)}")
    if problems:
        return Outcome(False, "; ".join(problems) + (f" (problems: {_said(errors)})" if errors
                                                      else " (the record is saved)"))
    return Outcome(True, f"{entity.name} refused: {_said(errors)}")


# --- formula ------------------------------------------------------------------------------
def same(actual: Any, expected: Any) -> bool:
    """Whether a computed value is the expected one. Numbers compare by value, rounded to as
    many decimals as the expected number shows (333.33 matches 333.3333...)."""
    if expected is None or actual is None:
        return expected is None and actual is None
    numeric = (int, float, Decimal)
    if isinstance(expected, numeric) and not isinstance(expected, bool) \
            and isinstance(actual, numeric) and not isinstance(actual, bool):
        try:
            want, got = Decimal(str(expected)), Decimal(str(actual))
            exponent = min(0, int(want.as_tuple().exponent))
            return got == want or got.quantize(Decimal(1).scaleb(exponent)) == want
        except InvalidOperation:
            return False
    if isinstance(actual, datetime) and isinstance(expected, str):
        try:
            return actual == datetime.fromisoformat(expected)
        except ValueError:
            return False
    if isinstance(actual, date) and isinstance(expected, str):
        return actual.isoformat() == expected
    return bool(actual == expected)


def run_formula(subject: Subject, body: dict[str, Any]) -> Outcome:
    entity = subject.entity(body["entity"])
    expect: dict[str, Any] = body["expect"]
    for name in expect:
        subject.field_of(entity, name)
    values, errors = subject.record(entity, body.get("values") or {}, inputs=True)
    if errors:
        return Outcome(False, f"the values do not fit their fields: {_said(errors)}")
    full = with_formulas(subject.spec(entity), values)
    wrong = [f"{name} is {show(full.get(name))}, expected {show(want)}"
             for name, want in expect.items() if not same(full.get(name), want)]
    if wrong:
        return Outcome(False, "; ".join(wrong))
    return Outcome(True, ", ".join(f"{name} = {show(full.get(name))}" for name in expect))


# --- transition ---------------------------------------------------------------------------
def machine_of(subject: Subject, body: Mapping[str, Any]) -> tuple[EntityDef, StageMachineDef]:
    """The stage machine a transition check means: `machine`, or the entity's (on `field`)."""
    meta = subject.meta
    if body.get("machine"):
        name = str(body["machine"])
        found = meta.stages.get(name)
        if found is None:
            raise Missing(f"there is no stage machine '{name}'{_hint(name, meta.stages)} "
                          f"(machines: {listed(sorted(meta.stages))})")
        entity = subject.entity(found.entity)
        if body.get("entity") and body["entity"] != found.entity:
            raise Missing(f"stage machine '{name}' moves {found.entity} records, not "
                          f"{body['entity']}")
        return entity, found
    entity = subject.entity(str(body["entity"]))
    machines = sm.machines_for(meta, entity.name)
    if body.get("field"):
        subject.field_of(entity, str(body["field"]))
        chosen = machines.get(str(body["field"]))
        if chosen is None:
            raise Missing(f"no stage machine moves {entity.name}.{body['field']}")
        return entity, chosen
    if not machines:
        raise Missing(f"{entity.name} has no stage machine")
    if len(machines) > 1:
        raise Missing(f"{entity.name} has stage machines on {listed(sorted(machines))}: say "
                      "which `field`")
    return entity, next(iter(machines.values()))


def run_transition(subject: Subject, body: dict[str, Any]) -> Outcome:
    entity, machine = machine_of(subject, body)
    stages = [c.value for c in entity.fields[machine.field].choices]
    old, new = body.get("from"), str(body["to"])
    for value in (old, new):
        if value is not None and value not in stages:
            raise Missing(f"{entity.name}.{machine.field} has no value '{value}'"
                          f"{_hint(str(value), stages)} (values: {listed(stages)})")
    role = subject.role(body["role"]) if body.get("role") else ADMIN
    values, errors = subject.record(entity, body.get("values") or {})
    if errors:
        return Outcome(False, f"the values do not fit their fields: {_said(errors)}")
    values[machine.field] = new
    refused = sm.refusal(subject.meta, subject.spec(entity), machine, values, old, new,
                         Actor(-1, "config test", (role,)))
    move = f"{old} → {new}" if old is not None else f"a new {entity.name} starting in {new}"
    who = f" for {role}" if body.get("role") else ""
    if body["allowed"] and refused:
        return Outcome(False, f"expected {move} to be allowed{who}, but it is refused: "
                       f"{refused}")
    if not body["allowed"] and not refused:
        return Outcome(False, f"expected {move} to be refused{who}, but it is allowed")
    return Outcome(True, f"{move}{who}: " + (f"refused ({refused})" if refused else "allowed"))
