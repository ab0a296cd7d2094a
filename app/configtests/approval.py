"""The `approval` check: whether a process takes a record, the steps it goes through, and
(with a database) who would approve each step.

The record is a new one with the check's `values` and the defaults. The process takes it when
its entry criteria (`when`) hold and, with a `role`, when that role may submit. Steps' conditions
are evaluated on the record as `on_submit` leaves it, as a submission and `crm workflow
simulate` evaluate them. `approvers` routes the submission of the user `submitter` (who also
owns the record) through the users, teams and delegations of the database.
"""

from __future__ import annotations

from typing import Any

from app import clock
from app.configtests.run import Missing, Outcome, Subject, listed
from app.meta.access import ADMIN
from app.meta.approvals import NOW, ApprovalDef, StepDef
from app.meta.checks import _hint
from app.meta.types import thaw
from app.records.values import EntitySpec, evaluate, with_formulas
from app.workflow.approvals.routing import Directory, route_step


def _process(subject: Subject, name: str) -> ApprovalDef:
    found = subject.meta.approvals.get(name)
    if found is None:
        raise Missing(f"there is no approval process '{name}'"
                      f"{_hint(name, subject.meta.approvals)} (processes: "
                      f"{listed(sorted(subject.meta.approvals))})")
    return found


def _step(process: ApprovalDef, process_name: str, name: str) -> StepDef:
    found = process.step(name)
    if found is None:
        names = [s.name for s in process.steps]
        raise Missing(f"approval process '{process_name}' has no step '{name}'"
                      f"{_hint(name, names)} (steps: {listed(names)})")
    return found


def _holds(spec: EntitySpec, when: str | None, values: dict[str, Any]) -> bool:
    return not when or evaluate(spec.expr(when), with_formulas(spec, values)) is True


def run_approval(subject: Subject, body: dict[str, Any]) -> Outcome:
    name = str(body["process"])  # (not process.name: the meta's key is what checks name)
    process = _process(subject, name)
    entity = subject.entity(process.entity)
    expected_steps = [str(s) for s in body.get("steps", ())]
    approvers: dict[str, list[str]] = body.get("approvers") or {}
    for step in (*expected_steps, *approvers):
        _step(process, name, step)
    spec = subject.spec(entity)
    values, errors = subject.record(entity, body.get("values") or {})
    if errors:
        return Outcome(False, "the values do not fit their fields: " + "; ".join(
            f"{k}: {' '.join(v)}" for k, v in errors.items()))
    why_not = _refusal(subject, process, spec, values, body.get("role"))
    wanted = bool(body.get("applies", True))
    if not wanted:
        if why_not is None:
            return Outcome(False, f"expected {name} not to take this {entity.name}, "
                           "but it would be submitted")
        return Outcome(True, f"{name} does not take it: {why_not}")
    if why_not is not None:
        return Outcome(False, f"expected {name} to take this {entity.name}, but "
                       f"{why_not}")
    after = dict(values)
    for ref in process.actions.get("on_submit", ()):
        if ref.action == "set":
            after.update({k: (clock.now() if v == NOW else thaw(v))
                          for k, v in ref.params.items()})
    taken = [s.name for s in process.steps if _holds(spec, s.when, after)]
    if "steps" in body and taken != expected_steps:
        return Outcome(False, f"expected the steps {listed(expected_steps)}, but it goes "
                       f"through {listed(taken)}")
    outcome = Outcome(True, f"{name}: steps {listed(taken)}")
    if approvers:
        _approvers(subject, process, name, after, str(body["submitter"]), approvers, taken,
                   outcome)
    return outcome


def _refusal(subject: Subject, process: ApprovalDef, spec: EntitySpec,
             values: dict[str, Any], role: Any) -> str | None:
    """Why the process does not take the record (None: it does)."""
    if role is not None:
        subject.role(str(role))
        if process.submitters and role != ADMIN and role not in process.submitters:
            return f"{role} may not submit (submitters: {listed(process.submitters)})"
    if not _holds(spec, process.when, values):
        return f"the entry criteria do not hold ({process.when})"
    return None


def _username(directory: Directory, user_id: int | None) -> str:
    person = directory.people.get(user_id) if user_id is not None else None
    return person.username if person is not None else f"#{user_id}"


def _approvers(subject: Subject, process: ApprovalDef, process_name: str,
               record: dict[str, Any], submitter: str, expected: dict[str, list[str]],
               taken: list[str], outcome: Outcome) -> None:
    """Compare who would approve each step in `expected` (usernames; a team queue as
    `queue:<team>`), changing `outcome`."""
    if subject.engine is None:
        outcome.notes.append("approvers not checked: they need the database's users "
                             "(run against a deployment)")
        return
    with subject.engine.connect() as conn:
        directory = Directory(conn, clock.now())
    person = directory.by_name.get(submitter)
    if person is None:
        outcome.passed = False
        outcome.message = f"there is no active user '{submitter}' to submit"
        return
    routed = {**record, "owner_id": person.id}
    problems: list[str] = []
    for name, usernames in expected.items():
        if name not in taken:
            problems.append(f"step {name} does not apply, so nobody approves it (expected "
                            f"{listed(usernames)})")
            continue
        routing = route_step(directory, _step(process, process_name, name), routed, person.id)
        found = sorted(f"queue:{a.queue}" if a.queue is not None
                       else _username(directory, a.user_id) for a in routing.assignments)
        if found != sorted(usernames):
            problems.append(f"expected {listed(sorted(usernames))} to approve step {name}, "
                            f"but it goes to {listed(found)}")
    if problems:
        outcome.passed = False
        outcome.message = "; ".join(problems)
    else:
        outcome.message += "; approvers " + "; ".join(
            f"{name}: {listed(sorted(u))}" for name, u in expected.items())
