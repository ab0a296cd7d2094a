"""The approval process and escalation forms of the designer: a definition as form values and
back. A process's steps are edited in order (add, remove, move up and down re-show the form
without saving); approvers are rows of (kind, value); actions are YAML text areas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.i18n import _
from app.meta.approvals import APPROVER_KINDS, EVENTS, MODES, REJECTS, STEP_EVENTS
from app.meta.types import IDENTIFIER, EntityDef, Meta
from app.web.designer_formbits import (
    Errors,
    Form,
    actions,
    add_error,
    check_fields,
    check_when,
    count,
    duration,
    keep_order,
    labels,
    names,
    text,
    yaml_text,
)

Approver = tuple[str, str]
#: the approver lists of a step
WHO_LISTS = ("approvers", "escalate_to", "fallback")


@dataclass
class StepForm:
    name: str = ""
    label: dict[str, str] = field(default_factory=dict)
    when: str = ""
    approvers: list[Approver] = field(default_factory=list)
    mode: str = "any"
    at_least: str = ""
    on_reject: str = "final"
    remind_after: str = ""
    escalate_after: str = ""
    escalate_to: list[Approver] = field(default_factory=list)
    fallback: list[Approver] = field(default_factory=list)
    on_enter: str = ""
    on_approve: str = ""
    #: the step's definition as the file has it (None: a new step)
    original: Mapping[str, Any] | None = None


@dataclass
class ApprovalForm:
    entity: EntityDef
    label: dict[str, str] = field(default_factory=dict)
    when: str = ""
    message: dict[str, str] = field(default_factory=dict)
    submitters: list[str] = field(default_factory=list)
    lock: bool = True
    revoke_on_change: str = ""
    events: dict[str, str] = field(default_factory=dict)
    steps: list[StepForm] = field(default_factory=list)
    errors: Errors = field(default_factory=dict)


def _who(raw: Any) -> list[Approver]:
    out: list[Approver] = []
    for one in raw or ():
        if isinstance(one, Mapping) and len(one) == 1:
            ((kind, value),) = one.items()
            out.append((str(kind), str(value)))
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def step_from(raw: Mapping[str, Any]) -> StepForm:
    return StepForm(
        name=str(raw.get("name") or ""), label=dict(raw.get("label") or {}),
        when=_text(raw.get("when")), approvers=_who(raw.get("approvers")),
        mode=str(raw.get("mode") or ("at_least" if "at_least" in raw else "any")),
        at_least=_text(raw.get("at_least")), on_reject=str(raw.get("on_reject") or "final"),
        remind_after=_text(raw.get("remind_after")),
        escalate_after=_text(raw.get("escalate_after")),
        escalate_to=_who(raw.get("escalate_to")), fallback=_who(raw.get("fallback")),
        on_enter=yaml_text(raw.get("on_enter")), on_approve=yaml_text(raw.get("on_approve")),
        original=raw)


def from_definition(body: Mapping[str, Any], entity: EntityDef) -> ApprovalForm:
    return ApprovalForm(
        entity, label=dict(body.get("label") or {}), when=_text(body.get("when")),
        message=dict(body.get("message") or {}),
        submitters=[str(r) for r in body.get("submitters") or ()],
        lock=bool(body.get("lock", True)),
        revoke_on_change=", ".join(str(f) for f in body.get("revoke_on_change") or ()),
        events={e: yaml_text(body.get(e)) for e in EVENTS},
        steps=[step_from(s) for s in body.get("steps") or () if isinstance(s, Mapping)])


class WhoCheck:
    """Checks approver rows against the config: roles, user fields, teams."""

    def __init__(self, meta: Meta, entity: EntityDef) -> None:
        self.roles = list(meta.roles)
        self.teams = list(meta.access.teams) if meta.access is not None else []
        self.fields = ["owner_id", *(f.name for f in entity if f.type == "user")]

    def options(self) -> dict[str, list[str]]:
        """Suggestions per kind (the form's datalists)."""
        return {"role": self.roles, "field": self.fields, "manager": ["submitter", "owner"],
                "queue": self.teams, "user": []}

    def problem(self, kind: str, value: str) -> str | None:
        if kind not in APPROVER_KINDS:
            return _("Choose who: a user, a role, a user field, a manager or a queue.")
        known = self.options()[kind]
        if kind != "user" and value not in known:
            return _("“%(value)s” is not one of: %(known)s.", value=value,
                     known=", ".join(known) or "-")
        return None


def _who_rows(form: Form, key: str, check: WhoCheck, errors: Errors) -> list[Approver]:
    out: list[Approver] = []
    for j in range(count(form, f"{key}-count")):
        kind, value = text(form, f"{key}-{j}-kind"), text(form, f"{key}-{j}-value")
        if not value:
            continue
        problem = check.problem(kind, value)
        if problem:
            add_error(errors, f"{key}-{j}", problem)
        out.append((kind, value))
    return out


def _step(form: Form, i: int, entity: EntityDef, check: WhoCheck, errors: Errors,
          originals: Mapping[str, Mapping[str, Any]]) -> StepForm:
    key = f"s{i}"
    step = StepForm(
        name=text(form, f"{key}-name"), label=labels(form, f"{key}-label"),
        when=text(form, f"{key}-when"), mode=text(form, f"{key}-mode") or "any",
        at_least=text(form, f"{key}-at_least"), on_reject=text(form, f"{key}-on_reject")
        or "final", remind_after=text(form, f"{key}-remind_after"),
        escalate_after=text(form, f"{key}-escalate_after"),
        on_enter=form.get(f"{key}-on_enter") or "", on_approve=form.get(f"{key}-on_approve")
        or "")
    step.original = originals.get(text(form, f"{key}-was"))
    step.approvers = _who_rows(form, f"{key}-approvers", check, errors)
    step.escalate_to = _who_rows(form, f"{key}-escalate_to", check, errors)
    step.fallback = _who_rows(form, f"{key}-fallback", check, errors)
    if not IDENTIFIER.match(step.name):
        add_error(errors, f"{key}-name", _("A name of lower-case letters, digits and _, "
                                           "starting with a letter."))
    if not step.approvers:
        add_error(errors, f"{key}-approvers", _("Name at least one approver."))
    if step.mode not in MODES:
        add_error(errors, f"{key}-mode", _("Choose any, all or at least."))
    if step.mode == "at_least" and not (step.at_least.isdigit() and int(step.at_least) > 0):
        add_error(errors, f"{key}-at_least", _("How many approvals: a whole number from 1."))
    if step.on_reject not in REJECTS:
        add_error(errors, f"{key}-on_reject", _("Choose final or back."))
    check_when(errors, f"{key}-when", step.when, entity)
    duration(errors, f"{key}-remind_after", step.remind_after)
    duration(errors, f"{key}-escalate_after", step.escalate_after)
    if bool(step.escalate_after) != bool(step.escalate_to):
        add_error(errors, f"{key}-escalate_after", _(
            "Escalation needs both: after how long, and to whom."))
    for event in STEP_EVENTS:
        actions(errors, f"{key}-{event}", getattr(step, event))
    return step


def parse(form: Form, entity: EntityDef, meta: Meta,
          originals: Mapping[str, Mapping[str, Any]]) -> ApprovalForm:
    """The posted form (`originals`: the file's steps by name, so an edited step keeps what
    the form does not show)."""
    out = ApprovalForm(entity, label=labels(form, "label"), when=text(form, "when"),
                       message=labels(form, "message"),
                       submitters=[r for r in form.getlist("submitters") if r in meta.roles],
                       lock=bool(form.get("lock")),
                       revoke_on_change=text(form, "revoke_on_change"),
                       events={e: form.get(e) or "" for e in EVENTS})
    check_when(out.errors, "when", out.when, entity)
    check_fields(out.errors, "revoke_on_change", names(out.revoke_on_change), entity)
    for event in EVENTS:
        actions(out.errors, event, out.events[event])
    check = WhoCheck(meta, entity)
    out.steps = [_step(form, i, entity, check, out.errors, originals)
                 for i in range(count(form, "steps"))]
    seen: set[str] = set()
    for i, step in enumerate(out.steps):
        if step.name in seen:
            add_error(out.errors, f"s{i}-name", _("Two steps are named %(name)s.",
                                                  name=step.name))
        seen.add(step.name)
    if not out.steps:
        add_error(out.errors, "steps", _("Add at least one step."))
    return out


def move(form: ApprovalForm, action: str) -> bool:
    """Add, remove or move a step (`add-step`, `remove-N`, `up-N`, `down-N`); whether the
    action was one of those."""
    verb, _sep, where = action.partition("-")
    if action == "add-step":
        form.steps.append(StepForm(name=f"step_{len(form.steps) + 1}"))
        return True
    if not where.isdigit() or int(where) >= len(form.steps):
        return False
    i = int(where)
    if verb == "remove":
        del form.steps[i]
    elif verb == "up" and i > 0:
        form.steps[i - 1], form.steps[i] = form.steps[i], form.steps[i - 1]
    elif verb == "down" and i + 1 < len(form.steps):
        form.steps[i + 1], form.steps[i] = form.steps[i], form.steps[i + 1]
    elif verb not in ("up", "down"):
        return False
    return True


def _who_yaml(rows: list[Approver]) -> list[dict[str, str]]:
    return [{kind: value} for kind, value in rows]


def _keep(original: Mapping[str, Any] | None, key: str, value: Any, default: Any) -> bool:
    """Whether to write `key`: it differs from the default, or the file writes it already."""
    return value != default or (original is not None and key in original)


def step_definition(step: StepForm) -> dict[str, Any]:
    was = step.original
    out: dict[str, Any] = {"name": step.name}
    if step.label:
        out["label"] = dict(step.label)
    if step.when:
        out["when"] = step.when
    out["approvers"] = _who_yaml(step.approvers)
    if step.fallback:
        out["fallback"] = _who_yaml(step.fallback)
    if step.mode == "at_least":  # `at_least: N` alone says the mode
        if was is not None and "mode" in was:
            out["mode"] = step.mode
        out["at_least"] = int(step.at_least)
    elif _keep(was, "mode", step.mode, "any"):
        out["mode"] = step.mode
    if _keep(was, "on_reject", step.on_reject, "final"):
        out["on_reject"] = step.on_reject
    for key in ("remind_after", "escalate_after"):
        raw = getattr(step, key)
        if raw:
            out[key] = int(raw) if raw.isdigit() else raw
    if step.escalate_to:
        out["escalate_to"] = _who_yaml(step.escalate_to)
    for event in STEP_EVENTS:
        found = actions({}, event, getattr(step, event))
        if found:
            out[event] = found
    return out


def definition(form: ApprovalForm, original: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"entity": form.entity.name}
    if form.label:
        out["label"] = dict(form.label)
    if form.when:
        out["when"] = form.when
    if form.message:
        out["message"] = dict(form.message)
    if form.submitters:
        out["submitters"] = keep_order(form.submitters, original.get("submitters"))
    if _keep(original, "lock", form.lock, True):
        out["lock"] = form.lock
    revoke = names(form.revoke_on_change)
    if revoke:
        out["revoke_on_change"] = revoke
    for event in EVENTS:
        found = actions({}, event, form.events.get(event, ""))
        if found:
            out[event] = found
    out["steps"] = [step_definition(s) for s in form.steps]
    return out


# --- escalations ---------------------------------------------------------------------------------
@dataclass
class EscalationForm:
    entity: EntityDef
    label: dict[str, str] = field(default_factory=dict)
    deadline: str = ""
    when: str = ""
    warn_before: str = ""
    after: str = ""
    on_warn: str = ""
    on_breach: str = ""
    errors: Errors = field(default_factory=dict)

    def deadlines(self) -> list[str]:
        return [f.name for f in self.entity if f.type in ("date", "datetime")]


def escalation_from(body: Mapping[str, Any], entity: EntityDef) -> EscalationForm:
    return EscalationForm(entity, dict(body.get("label") or {}), _text(body.get("deadline")),
                          _text(body.get("when")), _text(body.get("warn_before")),
                          _text(body.get("after")), yaml_text(body.get("on_warn")),
                          yaml_text(body.get("on_breach")))


def parse_escalation(form: Form, entity: EntityDef) -> EscalationForm:
    out = EscalationForm(entity, labels(form, "label"), text(form, "deadline"),
                         text(form, "when"), text(form, "warn_before"), text(form, "after"),
                         form.get("on_warn") or "", form.get("on_breach") or "")
    if out.deadline not in out.deadlines():
        add_error(out.errors, "deadline", _("Choose a date or date-time field of %(entity)s.",
                                            entity=entity.name))
    check_when(out.errors, "when", out.when, entity)
    duration(out.errors, "warn_before", out.warn_before)
    duration(out.errors, "after", out.after)
    warn = actions(out.errors, "on_warn", out.on_warn)
    breach = actions(out.errors, "on_breach", out.on_breach)
    if not out.errors and not warn and not breach:
        add_error(out.errors, "on_breach", _("Say what happens: on breach, or on warning."))
    if warn and not out.warn_before:
        add_error(out.errors, "warn_before", _("A warning needs how long before the deadline."))
    return out


def escalation_definition(form: EscalationForm) -> dict[str, Any]:
    out: dict[str, Any] = {"entity": form.entity.name}
    if form.label:
        out["label"] = dict(form.label)
    out["deadline"] = form.deadline
    if form.when:
        out["when"] = form.when
    for key in ("warn_before", "after"):
        raw = getattr(form, key)
        if raw:
            out[key] = int(raw) if raw.isdigit() else raw
    for key in ("on_warn", "on_breach"):
        found = actions({}, key, getattr(form, key))
        if found:
            out[key] = found
    return out
