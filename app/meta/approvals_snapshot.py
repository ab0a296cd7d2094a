"""Approval processes and escalations as plain data: the config snapshot (`meta_to_dict`), the
definition an approval in flight is pinned to (sys_approval.definition), and the queued actions
the automation runner finds by name. The definitions themselves: app/meta/approvals.py."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from app.meta.approvals import (
    EVENTS,
    NOTIFY,
    STEP_EVENTS,
    ApprovalDef,
    ApproverDef,
    EscalationDef,
    StepDef,
)
from app.meta.types import ActionRef, Meta, Source, freeze, thaw


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
