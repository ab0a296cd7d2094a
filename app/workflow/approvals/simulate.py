"""Who would approve this record, and through which steps: the approval processes of a record
run on paper, changing nothing (`crm workflow simulate`, the Simulate button, the API).

Steps' conditions are evaluated on the record as `on_submit` would leave it (its `set`
values applied to a copy); approvers are found as a submission would find them, delegation
included. Later steps are evaluated on today's values: a step's `on_approve` could change them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app import clock
from app.i18n import _, get_locale
from app.meta.approvals import NOW, ApprovalDef, ApproverDef
from app.meta.types import label_text, thaw
from app.records.change import Actor
from app.workflow.approvals.engine import Approvals, pending
from app.workflow.approvals.routing import Directory, route, route_step
from app.workflow.approvals.steps import applies


@dataclass
class StepPlan:
    name: str
    label: str
    applies: bool
    approvers: list[str] = field(default_factory=list)
    mode: str = "any"
    needed: int = 1
    problems: list[str] = field(default_factory=list)
    #: the submitter is the only approver: approved on their behalf
    auto_approved: bool = False
    remind_after: str | int | None = None
    escalate_after: str | int | None = None
    escalate_to: list[str] = field(default_factory=list)
    on_reject: str = "final"


@dataclass
class ProcessPlan:
    name: str
    label: str
    #: None when the user may submit, else why not
    refused: str | None
    steps: list[StepPlan] = field(default_factory=list)
    actions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return any(s.applies and s.problems and not s.approvers and not s.auto_approved
                   for s in self.steps)


@dataclass
class Simulation:
    entity: str
    record_id: int
    title: str
    submitter: str
    pending: int | None
    processes: list[ProcessPlan] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"entity": self.entity, "record_id": self.record_id, "title": self.title,
                "submitter": self.submitter, "pending_approval": self.pending,
                "processes": [{**p.__dict__, "steps": [s.__dict__ for s in p.steps],
                               "blocked": p.blocked} for p in self.processes]}

    def text(self) -> str:
        lines = [_("%(title)s as submitted by %(who)s:", title=self.title, who=self.submitter)]
        if self.pending is not None:
            lines.append(_("  (approval #%(id)s is pending now)", id=self.pending))
        for p in self.processes:
            head = f"- {p.label} ({p.name}): "
            lines.append(head + (_("may not submit: %(why)s", why=p.refused) if p.refused
                                 else _("would be submitted")))
            for i, s in enumerate(p.steps, 1):
                if not s.applies:
                    lines.append(f"  {i}. {s.label}: " + _("skipped (its condition does not "
                                                           "hold)"))
                elif s.auto_approved:
                    lines.append(f"  {i}. {s.label}: " + _("approved on the submitter's behalf "
                                                           "(they are its approver)"))
                else:
                    who = ", ".join(s.approvers) or _("NOBODY")
                    lines.append(f"  {i}. {s.label}: {who} ({s.mode}"
                                 + (f" {s.needed}" if s.mode == "at_least" else "") + ")")
                    if s.escalate_after:
                        lines.append("     " + _("escalates after %(after)s to %(to)s",
                                                 after=s.escalate_after,
                                                 to=", ".join(s.escalate_to) or _("nobody")))
                for problem in s.problems:
                    lines.append("     ! " + problem)
        if not self.processes:
            lines.append(_("  no approval process applies to this entity"))
        return "\n".join(lines)


def simulate(service: Approvals, entity: str, record_id: int, submitter: Actor,
             process: str | None = None) -> Simulation:
    rs = service.rs
    now = clock.now()
    with rs.engine.connect() as conn:
        record = rs._get(entity, record_id, conn=conn)
        directory = Directory(conn, now)
        row = pending(conn, entity, record_id)
        title = rs.titles(entity, [record_id], conn).get(record_id, f"#{record_id}")
    found = [service.process(process)] if process else service.processes(entity)
    out = Simulation(entity, record_id, title, directory.name(submitter.id) or
                     submitter.username, row.id if row is not None else None)
    for p in found:
        out.processes.append(_plan(service, p, record, submitter, directory))
    return out


def _plan(service: Approvals, p: ApprovalDef, record: dict[str, Any], submitter: Actor,
          directory: Directory) -> ProcessPlan:
    loc = get_locale()
    plan = ProcessPlan(p.name, label_text(p.label, loc, p.name),
                       service.refusal(p, record, submitter))
    after = dict(record)
    for ref in p.actions.get("on_submit", ()):
        if ref.action == "set":
            after.update({k: (clock.now() if v == NOW else thaw(v))
                          for k, v in ref.params.items()})
    for event, refs in p.actions.items():
        plan.actions[event] = [f"{r.action} {thaw(r.params)}" for r in refs]
    for step in p.steps:
        sp = StepPlan(step.name, label_text(step.label, loc, step.name), mode=step.mode,
                      remind_after=step.remind_after, escalate_after=step.escalate_after,
                      on_reject=step.on_reject, applies=True)
        sp.applies = applies(service.rs, p, step, after)
        if sp.applies:
            routing = route_step(directory, step, after, submitter.id)
            sp.approvers = [_who(directory, a.user_id, a.queue, a.delegated_from)
                            for a in routing.assignments]
            sp.problems = list(routing.problems)
            if routing.fell_back:
                sp.problems.append(_("its approvers found nobody: the fallback approvers "
                                     "take it"))
            sp.auto_approved = not routing.assignments and routing.submitter_left_out
            sp.needed = step.needed(len(routing.assignments))
            sp.escalate_to = _names(directory, step.escalate_to, after, submitter)
            if not routing.assignments and not sp.auto_approved:
                sp.problems.append(_("this step has no approver: submitting would be "
                                     "refused"))
        plan.steps.append(sp)
    return plan


def _who(d: Directory, user_id: int | None, queue: str | None, delegated: int | None) -> str:
    if queue is not None:
        return _("queue %(team)s", team=queue)
    name = d.name(user_id)
    if delegated is not None:
        return _("%(delegate)s (for %(who)s, out of office)", delegate=name,
                 who=d.name(delegated))
    return name


def _names(d: Directory, specs: tuple[ApproverDef, ...], record: dict[str, Any],
           submitter: Actor) -> list[str]:
    routing = route(d, specs, record, submitter.id)
    return [_who(d, a.user_id, a.queue, a.delegated_from) for a in routing.assignments]
