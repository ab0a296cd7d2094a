"""Who approves: approver specs of a step (user, role, field, manager, queue) turned into tasks'
assignees, with out-of-office delegation applied. Reads sys_user, sys_user_team and
sys_delegation; changes nothing.

- `user: name` -> that user (active);
- `role: r` -> every active user with the role (each gets a task; `mode` says how many must
  approve);
- `field: f` -> the user in that user field of the record (`owner_id` too);
- `manager: submitter|owner` -> that person's manager (sys_user.manager_id);
- `queue: team` -> ONE task for the team: any member may take and decide it.

A user with an active delegation (sys_delegation, `starts_at` <= now < `ends_at`) is replaced by
their delegate (one level: a delegate's own delegation is not followed). The submitter never
approves their own submission: they are left out (a step whose only approver was the submitter
is approved on their behalf; see engine.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.i18n import _
from app.meta.approvals import ApproverDef, StepDef
from app.model.access import user_teams
from app.model.approvals import delegations
from app.model.system import users


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    name: str
    roles: tuple[str, ...]
    manager_id: int | None
    email: str | None
    locale: str | None


@dataclass(frozen=True)
class Assignment:
    """One task to create: for `user_id`, or for the team `queue`."""

    user_id: int | None = None
    queue: str | None = None
    #: the approver a delegate stands in for
    delegated_from: int | None = None


@dataclass
class Routing:
    assignments: list[Assignment] = field(default_factory=list)
    #: approver specs that found nobody, in words
    problems: list[str] = field(default_factory=list)
    #: the submitter was an approver and was left out
    submitter_left_out: bool = False
    #: the step's `fallback` approvers were used (its approvers found nobody)
    fell_back: bool = False


class Directory:
    """Active users, teams and delegations, read once per operation."""

    def __init__(self, conn: sa.Connection, now: datetime) -> None:
        rows = conn.execute(sa.select(users.c.id, users.c.username, users.c.full_name,
                                      users.c.roles, users.c.manager_id, users.c.email,
                                      users.c.locale, users.c.active)).all()
        self.people = {int(r.id): Person(int(r.id), r.username, r.full_name or r.username,
                                         tuple(r.roles or ()), r.manager_id, r.email, r.locale)
                       for r in rows if r.active}
        self.by_name = {p.username: p for p in self.people.values()}
        self.teams: dict[str, set[int]] = {}
        for r in conn.execute(sa.select(user_teams.c.user_id, user_teams.c.team)):
            self.teams.setdefault(r.team, set()).add(int(r.user_id))
        self.delegate: dict[int, int] = {}
        for r in conn.execute(sa.select(delegations)):
            starts, ends = _aware(r.starts_at), _aware(r.ends_at)
            if (starts is None or starts <= now) and (ends is None or now < ends) \
                    and int(r.delegate_id) in self.people:
                self.delegate[int(r.user_id)] = int(r.delegate_id)

    def name(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        p = self.people.get(user_id)
        return p.name if p is not None else f"#{user_id}"

    def teams_of(self, user_id: int) -> set[str]:
        return {t for t, members in self.teams.items() if user_id in members}

    def with_role(self, role: str) -> list[Person]:
        return sorted((p for p in self.people.values() if role in p.roles), key=lambda p: p.id)


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def people_of(d: Directory, who: ApproverDef, record: Mapping[str, Any],
              submitter_id: int | None) -> tuple[list[int], str | None]:
    """The users one spec names (before delegation) and, when it names nobody, why."""
    if who.kind == "user":
        p = d.by_name.get(who.value)
        return ([p.id], None) if p else ([], _("user %(name)s does not exist or is inactive",
                                                name=who.value))
    if who.kind == "role":
        found = [p.id for p in d.with_role(who.value)]
        return found, None if found else _("no active user has the role %(role)s",
                                           role=who.value)
    if who.kind == "field" or who.kind == "owner":
        key = "owner_id" if who.kind == "owner" else who.value
        uid = record.get(key)
        if uid is not None and int(uid) in d.people:
            return [int(uid)], None
        return [], _("the record's %(field)s is empty or not an active user", field=key)
    if who.kind in ("manager", "submitter"):
        base = record.get("owner_id") if who.value == "owner" else submitter_id
        if who.kind == "submitter":
            return ([submitter_id], None) if submitter_id in d.people else ([], None)
        person = d.people.get(int(base)) if base is not None else None
        if person is not None and person.manager_id in d.people:
            return [int(person.manager_id)], None
        return [], _("%(who)s has no active manager",
                     who=d.name(int(base)) if base is not None else who.value)
    return [], None


def route(d: Directory, specs: Sequence[ApproverDef], record: Mapping[str, Any],
          submitter_id: int | None) -> Routing:
    """The tasks a step's approver specs make (delegation applied, duplicates merged, the
    submitter left out)."""
    out = Routing()
    seen: set[tuple[int | None, str | None]] = set()
    for who in specs:
        if who.kind == "queue":
            members = d.teams.get(who.value, set()) - {submitter_id}
            if not members:
                out.problems.append(_("the queue %(team)s has no members", team=who.value))
                continue
            if (None, who.value) not in seen:
                seen.add((None, who.value))
                out.assignments.append(Assignment(queue=who.value))
            continue
        found, problem = people_of(d, who, record, submitter_id)
        if problem:
            out.problems.append(problem)
        for uid in found:
            if uid == submitter_id:
                out.submitter_left_out = True
                continue
            target = d.delegate.get(uid, uid)
            if target == submitter_id:  # a delegate never approves their own submission
                target = uid
            if (target, None) in seen:
                continue
            seen.add((target, None))
            out.assignments.append(Assignment(user_id=target,
                                              delegated_from=uid if target != uid else None))
    return out


def route_step(d: Directory, step: StepDef, record: Mapping[str, Any],
               submitter_id: int | None) -> Routing:
    """A step's tasks: its approvers, or its `fallback` when they find nobody (but the
    submitter)."""
    found = route(d, step.approvers, record, submitter_id)
    if found.assignments or found.submitter_left_out or not step.fallback:
        return found
    other = route(d, step.fallback, record, submitter_id)
    other.fell_back = True
    other.problems = found.problems + other.problems
    return other


def recipients(d: Directory, specs: Iterable[ApproverDef], record: Mapping[str, Any],
               submitter_id: int | None, approvers: Iterable[int] = ()) -> list[int]:
    """The users a `notify: {to: [...]}` names (queues: every member; `approvers`: the
    approval's current approvers)."""
    out: list[int] = []
    for who in specs:
        if who.kind == "queue":
            found = sorted(d.teams.get(who.value, ()))
        elif who.kind == "approvers":
            found = list(approvers)
        else:
            found = people_of(d, who, record, submitter_id)[0]
        out += [u for u in found if u not in out and u in d.people]
    return out
