"""Approval processes (`approvals:`) and timed escalations (`escalations:`) in workflows/*.yaml.

```yaml
approvals:
  quote_discount:
    entity: quote
    label: {en: Discount approval, zh: 折扣审批}
    when: "coalesce(discount, 0) > 20"        # entry criteria: which records may be submitted
    message: {en: Only discounts over 20% need approval}   # said when `when` refuses
    submitters: [sales_rep, sales_manager]    # roles that may submit (default: whoever may edit)
    lock: true                                # edits refused while pending (default true)
    on_submit:  [{set: {status: pending_approval}}]
    on_approve: [{set: {status: approved, approved_at: now}}]
    on_reject:  [{set: {status: rejected}}]
    on_recall:  [{set: {status: draft}}]
    steps:
      - name: manager
        label: {en: Manager, zh: 经理审批}
        approvers: [{manager: submitter}]     # user / role / field / manager / queue
        fallback: [{role: sales_director}]    # when the approvers find nobody
        mode: any                             # any | all | at_least (with `at_least: N`)
        on_reject: final                      # final | back (to the step before)
        remind_after: 8h                      # durations: 30m, 8h, 2d, 1w
        escalate_after: 2d
        escalate_to: [{role: sales_director}]
      - name: director
        when: "coalesce(discount, 0) > 40"    # the step applies only when it holds
        approvers: [{role: sales_director}]
escalations:
  case_sla:
    entity: case
    when: "status != 'closed' and status != 'resolved'"
    deadline: sla_due_at                      # a date or datetime field
    warn_before: 2h
    on_warn:   [{notify: {to: [owner], subject: "Case {number} is due soon"}}]
    on_breach:
      - set: {status: escalated}
      - notify: {to: [{role: service_manager}], subject: "Case {number} breached its SLA"}
```

Files are read and merged by name like stage machines (app/meta/workflows.py); the checks here
give located `ConfigError`s CRM-E100..E109 (and the expression and action codes). Queues are
teams of the access config, checked after it is read (`check_queues`). The records side is
app/workflow/approvals/.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.meta.errors import ConfigError
from app.meta.types import (
    IDENTIFIER,
    ActionRef,
    EntityDef,
    Meta,
    Source,
    freeze,
    thaw,
)

#: the `set` value that stands for the moment the action runs (date and datetime fields)
NOW = "now"
APPROVER_KINDS = ("user", "role", "field", "manager", "queue")
#: `notify: {to: [...]}` may also name these people of the record
PEOPLE = ("submitter", "owner", "approvers")
MODES = ("any", "all", "at_least")
REJECTS = ("final", "back")
EVENTS = ("on_submit", "on_approve", "on_reject", "on_recall")
STEP_EVENTS = ("on_enter", "on_approve")
NOTIFY = "notify"
_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}

_NAME = {"type": "string", "pattern": IDENTIFIER.pattern}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_DUR = {"type": ["string", "integer"]}
_APPROVER = {"type": "object", "minProperties": 1, "maxProperties": 1,
             "additionalProperties": False,
             "properties": {k: {"type": "string", "minLength": 1} for k in APPROVER_KINDS}}
_WHO = {"anyOf": [_APPROVER, {"enum": list(PEOPLE)}]}
_ACTIONS = {"type": "array", "items": {"type": "object", "minProperties": 1, "maxProperties": 1,
                                       "additionalProperties": {"type": ["object", "null"]}}}
_STEP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "approvers"],
    "properties": {
        "name": _NAME, "label": _LABELS, "when": {"type": "string", "minLength": 1},
        "approvers": {"type": "array", "minItems": 1, "items": _APPROVER},
        "mode": {"enum": list(MODES)}, "at_least": {"type": "integer", "minimum": 1},
        "on_reject": {"enum": list(REJECTS)},
        "remind_after": _DUR, "escalate_after": _DUR,
        "escalate_to": {"type": "array", "minItems": 1, "items": _APPROVER},
        "fallback": {"type": "array", "minItems": 1, "items": _APPROVER},
        "on_enter": _ACTIONS, "on_approve": _ACTIONS,
    },
}
APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "entity": _NAME, "label": _LABELS, "when": {"type": "string", "minLength": 1},
        "message": _LABELS, "submitters": {"type": "array", "minItems": 1, "items": _NAME},
        "lock": {"type": "boolean"},
        "revoke_on_change": {"type": "array", "minItems": 1, "items": _NAME},
        "steps": {"type": "array", "minItems": 1, "items": _STEP},
        **{e: _ACTIONS for e in EVENTS},
        "remove": {"const": True},
    },
}
ESCALATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "entity": _NAME, "label": _LABELS, "when": {"type": "string", "minLength": 1},
        "deadline": _NAME, "after": _DUR, "warn_before": _DUR,
        "on_warn": _ACTIONS, "on_breach": _ACTIONS,
        "remove": {"const": True},
    },
}
#: parameters of `notify` (run in the transaction: in-app rows and queued mails)
NOTIFY_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["to", "subject"],
    "properties": {"to": {"type": "array", "minItems": 1, "items": _WHO},
                   "subject": {"type": "string", "minLength": 1},
                   "body": {"type": "string"}, "email": {"type": "boolean"}},
}


def seconds(duration: str | int | None) -> int | None:
    """`30m`, `8h`, `2d`, `1w` (or a number of hours) in seconds; None for None."""
    if duration is None:
        return None
    if isinstance(duration, int):
        return duration * 3600
    found = _DURATION.match(str(duration))
    if found is None:
        raise ValueError(f"'{duration}' is not a duration like 30m, 8h, 2d or 1w")
    return int(found.group(1)) * _UNITS[found.group(2)]


@dataclass(frozen=True)
class ApproverDef:
    """Who approves (or is notified): `kind` is user, role, field, manager, queue, or one of
    PEOPLE (then `value` is empty)."""

    kind: str
    value: str = ""

    def as_yaml(self) -> Any:
        return self.kind if self.kind in PEOPLE else {self.kind: self.value}

    @classmethod
    def of(cls, raw: Any) -> ApproverDef:
        if isinstance(raw, str):
            return cls(raw)
        ((kind, value),) = dict(raw).items()
        return cls(str(kind), str(value))


@dataclass(frozen=True)
class StepDef:
    name: str
    approvers: tuple[ApproverDef, ...]
    label: Mapping[str, str] = field(default_factory=dict)
    when: str | None = None
    mode: str = "any"
    at_least: int = 1
    on_reject: str = "final"
    remind_after: str | int | None = None
    escalate_after: str | int | None = None
    escalate_to: tuple[ApproverDef, ...] = ()
    #: who approves when `approvers` find nobody (a submitter without a manager)
    fallback: tuple[ApproverDef, ...] = ()
    on_enter: tuple[ActionRef, ...] = ()
    on_approve: tuple[ActionRef, ...] = ()

    def needed(self, tasks: int) -> int:
        """How many approvals of `tasks` open tasks approve the step."""
        if self.mode == "all":
            return tasks
        if self.mode == "at_least":
            return min(self.at_least, tasks)
        return 1


@dataclass(frozen=True)
class ApprovalDef:
    name: str
    entity: str
    steps: tuple[StepDef, ...]
    label: Mapping[str, str] = field(default_factory=dict)
    when: str | None = None
    message: Mapping[str, str] = field(default_factory=dict)
    submitters: tuple[str, ...] = ()
    lock: bool = True
    #: fields whose change by a user undoes an approved approval (its on_recall `set` applies)
    revoke_on_change: tuple[str, ...] = ()
    #: on_submit / on_approve / on_reject / on_recall -> actions
    actions: Mapping[str, tuple[ActionRef, ...]] = field(default_factory=dict)
    source: Source = field(default_factory=lambda: Source("<unknown>"), compare=False)

    def step(self, name: str) -> StepDef | None:
        return next((s for s in self.steps if s.name == name), None)


@dataclass(frozen=True)
class EscalationDef:
    name: str
    entity: str
    deadline: str
    label: Mapping[str, str] = field(default_factory=dict)
    when: str | None = None
    after: str | int | None = None
    warn_before: str | int | None = None
    on_warn: tuple[ActionRef, ...] = ()
    on_breach: tuple[ActionRef, ...] = ()
    source: Source = field(default_factory=lambda: Source("<unknown>"), compare=False)


# --- checks ----------------------------------------------------------------------------------
class _Checker:
    def __init__(self, kind: str, name: str, doc: Any, meta: Meta,
                 errors: list[ConfigError]) -> None:
        self.what = f"{'approval process' if kind == 'approvals' else 'escalation'} '{name}'"
        self.at = doc.positions.at
        self.base: tuple[str | int, ...] = (kind, name)
        self.meta = meta
        self.errors = errors

    def error(self, code: str, message: str, *path: str | int) -> None:
        self.errors.append(ConfigError(code, f"{self.what}: {message}",
                                       self.at((*self.base, *path))))

    def entity(self, body: Mapping[str, Any]) -> EntityDef | None:
        from app.meta.checks import _hint

        if "entity" not in body:
            self.error("CRM-E012", "needs `entity`")
            return None
        ent = str(body["entity"])
        entity = self.meta.entities.get(ent)
        if entity is None:
            self.error("CRM-E100", f"there is no entity '{ent}'{_hint(ent, self.meta.entities)}",
                       "entity")
        return entity

    def condition(self, entity: EntityDef, source: Any, *path: str | int) -> str | None:
        from app.fields import registry
        from app.meta.checks import check_expression, expr_kinds

        if not source:
            return None
        errs, _names = check_expression(f"{self.what} {'.'.join(map(str, path))}", str(source),
                                        expr_kinds(entity, registry),
                                        self.at((*self.base, *path)))
        self.errors.extend(errs)
        return str(source)

    def duration(self, raw: Any, *path: str | int) -> str | int | None:
        try:
            seconds(raw)
        except ValueError as exc:
            self.error("CRM-E105", str(exc), *path)
            return None
        if raw is not None and seconds(raw) == 0:
            self.error("CRM-E105", "a duration must be more than zero", *path)
            return None
        return raw

    def who(self, entity: EntityDef, raw: Any, *path: str | int) -> ApproverDef | None:
        from app.meta.checks import _hint

        one = ApproverDef.of(raw)
        if one.kind == "role" and one.value not in self.meta.roles:
            self.error("CRM-E102", f"'{one.value}' is not a role{_hint(one.value, self.meta.roles)}"
                       f"; the roles are: {', '.join(self.meta.roles)}", *path, one.kind)
            return None
        if one.kind == "field" and not _user_field(entity, one.value):
            users = [f.name for f in entity if f.type == "user"] + ["owner_id"]
            self.error("CRM-E103", f"{entity.name} has no user field '{one.value}'"
                       f"{_hint(one.value, users)}; its user fields are: {', '.join(users)}",
                       *path, one.kind)
            return None
        if one.kind == "manager" and one.value not in ("submitter", "owner"):
            self.error("CRM-E103", f"manager: '{one.value}' must be `submitter` or `owner`",
                       *path, one.kind)
            return None
        return one

    def actions(self, entity: EntityDef, steps: Any, *path: str | int) -> tuple[ActionRef, ...]:
        from app.meta.stages import LOCAL_ACTIONS, SET, _activity_ok, _field, _value_problem
        from app.meta.workflows import check_action_steps

        base = (*self.base, *path)
        local = {**LOCAL_ACTIONS, NOTIFY: NOTIFY_SCHEMA}
        refs = check_action_steps(self.what, steps or (), base, self.at, self.errors, local=local)
        out: list[ActionRef] = []
        for i, ref in enumerate(refs):
            where = (*base, i, ref.action)
            ok = True
            if ref.action == SET:
                for name, value in ref.params.items():
                    if not _field(self.what, "set", name, entity, (*where, name), self.at,
                                  self.errors):
                        ok = False
                        continue
                    f = entity.fields[name]
                    if value == NOW and f.type in ("date", "datetime"):
                        continue
                    problem = _value_problem(f, thaw(value))
                    if problem:
                        self.errors.append(ConfigError(
                            "CRM-E106", f"{self.what}: set {name}: {thaw(value)!r} does not fit "
                            f"the field: {problem}", self.at((*where, name))))
                        ok = False
            elif ref.action == "create_activity":
                ok = _activity_ok(self.what, ref.params, entity, self.meta, where, self.at,
                                  self.errors)
            elif ref.action == NOTIFY:
                for j, raw in enumerate(ref.params.get("to") or ()):
                    if self.who(entity, thaw(raw), *path, i, NOTIFY, "to", j) is None:
                        ok = False
            if ok:
                out.append(ref)
        return tuple(out)


def _user_field(entity: EntityDef, name: str) -> bool:
    f = entity.fields.get(name)
    return name == "owner_id" or (f is not None and f.type == "user")


def check_approvals(merged: Mapping[str, tuple[dict[str, Any], Any]], meta: Meta,
                    errors: list[ConfigError]) -> dict[str, ApprovalDef]:
    out: dict[str, ApprovalDef] = {}
    for name, (body, doc) in merged.items():
        found = _approval(name, body, _Checker("approvals", name, doc, meta, errors))
        if found is not None:
            out[name] = found
    return out


def _approval(name: str, body: Mapping[str, Any], c: _Checker) -> ApprovalDef | None:
    entity = c.entity(body)
    if "steps" not in body:
        c.error("CRM-E012", "needs `steps`")
        return None
    if entity is None:
        return None
    submitters = tuple(str(r) for r in body.get("submitters") or ())
    for i, role in enumerate(submitters):
        if role not in c.meta.roles:
            c.error("CRM-E102", f"submitters: '{role}' is not a role; the roles are: "
                    f"{', '.join(c.meta.roles)}", "submitters", i)
    steps: list[StepDef] = []
    seen: set[str] = set()
    for i, raw in enumerate(body["steps"]):
        step = _step(entity, raw, c, i)
        if step.name in seen:
            c.error("CRM-E107", f"two steps are named '{step.name}'", "steps", i, "name")
        seen.add(step.name)
        steps.append(step)
    actions = {e: c.actions(entity, body.get(e), e) for e in EVENTS if body.get(e)}
    revoke = tuple(str(f) for f in body.get("revoke_on_change") or ())
    for i, name in enumerate(revoke):
        if name not in entity.fields:
            c.error("CRM-E106", f"revoke_on_change names no field '{name}' of {entity.name}",
                    "revoke_on_change", i)
    return ApprovalDef(
        name=name, entity=entity.name, steps=tuple(steps), label=freeze(body.get("label") or {}),
        when=c.condition(entity, body.get("when"), "when"),
        message=freeze(body.get("message") or {}), submitters=submitters,
        lock=bool(body.get("lock", True)), actions=freeze(actions), source=c.at(c.base),
        revoke_on_change=revoke)


def _step(entity: EntityDef, raw: Mapping[str, Any], c: _Checker, i: int) -> StepDef:
    path: tuple[str | int, ...] = ("steps", i)
    approvers = _whos(c, entity, raw["approvers"], *path, "approvers")
    escalate_to = _whos(c, entity, raw.get("escalate_to") or (), *path, "escalate_to")
    fallback = _whos(c, entity, raw.get("fallback") or (), *path, "fallback")
    mode = str(raw.get("mode") or ("at_least" if "at_least" in raw else "any"))
    if mode == "at_least" and "at_least" not in raw:
        c.error("CRM-E108", "mode at_least needs `at_least: N`", *path, "mode")
    elif "at_least" in raw and mode != "at_least":
        c.error("CRM-E108", f"`at_least` goes with mode at_least, not {mode}", *path, "at_least")
    escalate_after = c.duration(raw.get("escalate_after"), *path, "escalate_after")
    if escalate_after is not None and not raw.get("escalate_to"):
        c.error("CRM-E109", "escalate_after needs `escalate_to` (who takes over)",
                *path, "escalate_after")
    elif escalate_to and escalate_after is None and "escalate_after" not in raw:
        c.error("CRM-E109", "escalate_to needs `escalate_after` (when)", *path, "escalate_to")
    return StepDef(
        name=str(raw["name"]), approvers=approvers, label=freeze(raw.get("label") or {}),
        when=c.condition(entity, raw.get("when"), *path, "when"), mode=mode,
        at_least=int(raw.get("at_least") or 1), on_reject=str(raw.get("on_reject") or "final"),
        remind_after=c.duration(raw.get("remind_after"), *path, "remind_after"),
        escalate_after=escalate_after, escalate_to=escalate_to, fallback=fallback,
        on_enter=c.actions(entity, raw.get("on_enter"), *path, "on_enter"),
        on_approve=c.actions(entity, raw.get("on_approve"), *path, "on_approve"))


def _whos(c: _Checker, entity: EntityDef, raw: Any, *path: str | int
          ) -> tuple[ApproverDef, ...]:
    found = (c.who(entity, one, *path, j) for j, one in enumerate(raw))
    return tuple(one for one in found if one is not None)


def check_escalations(merged: Mapping[str, tuple[dict[str, Any], Any]], meta: Meta,
                      errors: list[ConfigError]) -> dict[str, EscalationDef]:
    out: dict[str, EscalationDef] = {}
    for name, (body, doc) in merged.items():
        c = _Checker("escalations", name, doc, meta, errors)
        entity = c.entity(body)
        if "deadline" not in body:
            c.error("CRM-E012", "needs `deadline` (a date or datetime field)")
            continue
        if entity is None:
            continue
        deadline = str(body["deadline"])
        f = entity.fields.get(deadline)
        if f is None or f.type not in ("date", "datetime"):
            problem = f"'{deadline}' is a {f.type} field" if f is not None else \
                f"{entity.name} has no field '{deadline}'"
            c.error("CRM-E104", f"deadline: {problem}; it must be a date or datetime field",
                    "deadline")
            continue
        if not body.get("on_warn") and not body.get("on_breach"):
            c.error("CRM-E104", "needs `on_breach` or `on_warn` (what to do)")
        if body.get("on_warn") and body.get("warn_before") is None:
            c.error("CRM-E104", "on_warn needs `warn_before` (how long before the deadline)",
                    "on_warn")
        out[name] = EscalationDef(
            name=name, entity=entity.name, deadline=deadline,
            label=freeze(body.get("label") or {}),
            when=c.condition(entity, body.get("when"), "when"),
            after=c.duration(body.get("after"), "after"),
            warn_before=c.duration(body.get("warn_before"), "warn_before"),
            on_warn=c.actions(entity, body.get("on_warn"), "on_warn"),
            on_breach=c.actions(entity, body.get("on_breach"), "on_breach"),
            source=c.at(c.base))
    return out


def check_queues(meta: Meta) -> list[ConfigError]:
    """Queues name teams of the access config (read after the workflows)."""
    from app.meta.checks import _hint

    teams = dict(meta.access.teams) if meta.access is not None else {}
    errors: list[ConfigError] = []
    for process in meta.approvals.values():
        for step in process.steps:
            for who in (*step.approvers, *step.escalate_to, *step.fallback):
                if who.kind == "queue" and who.value not in teams:
                    errors.append(ConfigError(
                        "CRM-E104", f"approval process '{process.name}' step '{step.name}': "
                        f"queue '{who.value}' is not a team of the access config"
                        f"{_hint(who.value, teams)}", process.source))
    return errors


# --- snapshot (and the definition an approval in flight is pinned to) ---------------------------
def _actions_yaml(refs: tuple[ActionRef, ...]) -> list[dict[str, Any]]:
    return [{r.action: thaw(r.params)} for r in refs]


def _refs(raw: Any) -> tuple[ActionRef, ...]:
    return tuple(ActionRef(k, freeze(v or {})) for step in raw or () for k, v in step.items())


def approval_to_dict(p: ApprovalDef) -> dict[str, Any]:
    out: dict[str, Any] = {"entity": p.entity, "steps": [_step_dict(s) for s in p.steps],
                           "lock": p.lock}
    for key in ("label", "message"):
        if getattr(p, key):
            out[key] = thaw(getattr(p, key))
    if p.when:
        out["when"] = p.when
    if p.submitters:
        out["submitters"] = list(p.submitters)
    if p.revoke_on_change:
        out["revoke_on_change"] = list(p.revoke_on_change)
    for event, refs in p.actions.items():
        out[event] = _actions_yaml(refs)
    return out


def _step_dict(s: StepDef) -> dict[str, Any]:
    out: dict[str, Any] = {"name": s.name, "approvers": [a.as_yaml() for a in s.approvers],
                           "mode": s.mode, "on_reject": s.on_reject}
    if s.label:
        out["label"] = thaw(s.label)
    if s.mode == "at_least":
        out["at_least"] = s.at_least
    for key in ("when", "remind_after", "escalate_after"):
        if getattr(s, key) is not None:
            out[key] = getattr(s, key)
    for key in ("escalate_to", "fallback"):
        if getattr(s, key):
            out[key] = [a.as_yaml() for a in getattr(s, key)]
    for key in STEP_EVENTS:
        if getattr(s, key):
            out[key] = _actions_yaml(getattr(s, key))
    return out


def approval_from_dict(name: str, d: Mapping[str, Any], src: Source | None = None
                       ) -> ApprovalDef:
    steps = tuple(StepDef(
        name=s["name"], approvers=tuple(ApproverDef.of(a) for a in s["approvers"]),
        label=freeze(s.get("label") or {}), when=s.get("when"), mode=s.get("mode", "any"),
        at_least=int(s.get("at_least") or 1), on_reject=s.get("on_reject", "final"),
        remind_after=s.get("remind_after"), escalate_after=s.get("escalate_after"),
        escalate_to=tuple(ApproverDef.of(a) for a in s.get("escalate_to") or ()),
        fallback=tuple(ApproverDef.of(a) for a in s.get("fallback") or ()),
        on_enter=_refs(s.get("on_enter")), on_approve=_refs(s.get("on_approve")))
        for s in d["steps"])
    return ApprovalDef(
        name=name, entity=d["entity"], steps=steps, label=freeze(d.get("label") or {}),
        when=d.get("when"), message=freeze(d.get("message") or {}),
        submitters=tuple(d.get("submitters") or ()), lock=bool(d.get("lock", True)),
        revoke_on_change=tuple(d.get("revoke_on_change") or ()),
        actions=freeze({e: _refs(d[e]) for e in EVENTS if d.get(e)}),
        source=src or Source(f"approval process {name}"))


def escalation_to_dict(e: EscalationDef) -> dict[str, Any]:
    out: dict[str, Any] = {"entity": e.entity, "deadline": e.deadline}
    if e.label:
        out["label"] = thaw(e.label)
    for key in ("when", "after", "warn_before"):
        if getattr(e, key) is not None:
            out[key] = getattr(e, key)
    for key in ("on_warn", "on_breach"):
        if getattr(e, key):
            out[key] = _actions_yaml(getattr(e, key))
    return out


def escalation_from_dict(name: str, d: Mapping[str, Any], src: Source) -> EscalationDef:
    return EscalationDef(name=name, entity=d["entity"], deadline=d["deadline"],
                         label=freeze(d.get("label") or {}), when=d.get("when"),
                         after=d.get("after"), warn_before=d.get("warn_before"),
                         on_warn=_refs(d.get("on_warn")), on_breach=_refs(d.get("on_breach")),
                         source=src)


def approvals_to_dict(meta: Meta) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if meta.approvals:
        out["approvals"] = {n: approval_to_dict(p) for n, p in meta.approvals.items()}
    if meta.escalations:
        out["escalations"] = {n: escalation_to_dict(e) for n, e in meta.escalations.items()}
    return out


def approvals_from_dict(data: Mapping[str, Any], src: Source) -> dict[str, Any]:
    """The `approvals` and `escalations` Meta arguments of a snapshot."""
    return {"approvals": freeze({n: approval_from_dict(n, d, src)
                                 for n, d in (data.get("approvals") or {}).items()}),
            "escalations": freeze({n: escalation_from_dict(n, d, src)
                                   for n, d in (data.get("escalations") or {}).items()})}



# --- queued actions --------------------------------------------------------------------------
#: actions the engine runs itself, in the transaction (the others are queued after commit)
LOCAL = ("set", "create_activity", NOTIFY)


def run_name(kind: str, name: str, event: str) -> str:
    """The automation name of a process's (or escalation's) queued actions for `event`
    (at most 63 characters; never a valid automation name, so never a clash)."""
    import hashlib

    text = f"{kind}:{name}:{event}"
    if len(text) <= 63:
        return text
    return f"{kind}:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def _queued(refs: tuple[ActionRef, ...]) -> tuple[ActionRef, ...]:
    return tuple(r for r in refs if r.action not in LOCAL)


def approval_automations(meta: Meta) -> dict[str, Any]:
    """The queued actions of every approval process (per event and step) and escalation, as
    automations no event triggers: the engine writes their run rows."""
    from app.meta.types import AutomationDef

    out: dict[str, Any] = {}

    def add(kind: str, name: str, event: str, entity: str, refs: tuple[ActionRef, ...],
            src: Source) -> None:
        steps = _queued(refs)
        if steps:
            key = run_name(kind, name, event)
            out[key] = AutomationDef(name=key, entity=entity, on=(), actions=steps, source=src)

    for p in meta.approvals.values():
        for event, refs in p.actions.items():
            add("approval", p.name, event, p.entity, refs, p.source)
        for s in p.steps:
            for event in STEP_EVENTS:
                add("approval", p.name, f"{s.name}.{event}", p.entity, getattr(s, event),
                    p.source)
    for e in meta.escalations.values():
        add("escalation", e.name, "on_warn", e.entity, e.on_warn, e.source)
        add("escalation", e.name, "on_breach", e.entity, e.on_breach, e.source)
    return out
