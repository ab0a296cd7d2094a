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
app/workflow/approvals/ (the snapshot and pinned copies: app/meta/approvals_snapshot.py).
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
    for i, field_name in enumerate(revoke):
        if field_name not in entity.fields:
            c.error("CRM-E106", f"revoke_on_change names no field '{field_name}' of "
                    f"{entity.name}", "revoke_on_change", i)
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
