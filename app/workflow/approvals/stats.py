"""Approval statistics: per process, the approvals submitted and how they ended (approval
rate); per process and step, the tasks decided, approved and rejected, the average and 90th
percentile time from a task's creation to its decision, and the tasks open and overdue now.
Optionally only approvals submitted since a date. Read-only."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app import clock
from app.i18n import get_locale
from app.meta.types import label_text
from app.model.approvals import (
    APPROVED,
    DONE_APPROVED,
    DONE_REJECTED,
    OPEN,
    PENDING,
    RECALLED,
    REJECTED,
    approval_tasks,
    approvals,
)
from app.workflow.approvals.steps import definition


@dataclass
class StepStats:
    step: str
    label: str
    decided: int = 0
    approved: int = 0
    rejected: int = 0
    open: int = 0
    overdue: int = 0
    #: seconds from a task's creation to its decision
    durations: list[float] = field(default_factory=list, repr=False)

    @property
    def avg_seconds(self) -> float | None:
        return sum(self.durations) / len(self.durations) if self.durations else None

    @property
    def p90_seconds(self) -> float | None:
        return percentile(self.durations, 90)

    def as_json(self) -> dict[str, Any]:
        return {"step": self.step, "label": self.label, "decided": self.decided,
                "approved": self.approved, "rejected": self.rejected, "open": self.open,
                "overdue": self.overdue, "avg_seconds": _round(self.avg_seconds),
                "p90_seconds": _round(self.p90_seconds)}


@dataclass
class ProcessStats:
    process: str
    label: str
    submitted: int = 0
    approved: int = 0
    rejected: int = 0
    recalled: int = 0
    pending: int = 0
    steps: dict[str, StepStats] = field(default_factory=dict)

    @property
    def approval_rate(self) -> float | None:
        """Approved among the approvals that ended in a decision (recalls left out)."""
        ended = self.approved + self.rejected
        return self.approved / ended if ended else None

    def as_json(self) -> dict[str, Any]:
        rate = self.approval_rate
        return {"process": self.process, "label": self.label, "submitted": self.submitted,
                "approved": self.approved, "rejected": self.rejected,
                "recalled": self.recalled, "pending": self.pending,
                "approval_rate": round(rate, 4) if rate is not None else None,
                "steps": [s.as_json() for s in self.steps.values()]}


def percentile(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile (90th: the value 90% of the others are at or below)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def statistics(conn: sa.Connection, *, process: str | None = None,
               since: datetime | None = None) -> list[ProcessStats]:
    now = clock.now()
    stmt = sa.select(approvals)
    if process:
        stmt = stmt.where(approvals.c.process == process)
    if since is not None:
        stmt = stmt.where(approvals.c.submitted_at >= since)
    rows = conn.execute(stmt.order_by(approvals.c.id)).all()
    out: dict[str, ProcessStats] = {}
    pinned: dict[int, Any] = {}
    loc = get_locale()
    for r in rows:
        d = definition(r)
        pinned[r.id] = d
        ps = out.get(r.process)
        if ps is None:
            ps = out[r.process] = ProcessStats(r.process, label_text(d.label, loc, r.process))
        ps.submitted += 1
        ps.approved += r.status == APPROVED
        ps.rejected += r.status == REJECTED
        ps.recalled += r.status == RECALLED
        ps.pending += r.status == PENDING
        for s in d.steps:
            ps.steps.setdefault(s.name, StepStats(s.name, label_text(s.label, loc, s.name)))
    ids = list(pinned)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for t in conn.execute(sa.select(approval_tasks).where(
                approval_tasks.c.approval_id.in_(chunk))):
            d = pinned[t.approval_id]
            ps = out[d.name]
            st = ps.steps.setdefault(t.step_name, StepStats(t.step_name, t.step_name))
            if t.status == OPEN:
                st.open += 1
                due = _aware(t.due_at)
                st.overdue += due is not None and due < now
            elif t.status in (DONE_APPROVED, DONE_REJECTED):
                st.decided += 1
                st.approved += t.status == DONE_APPROVED
                st.rejected += t.status == DONE_REJECTED
                created, decided = _aware(t.created_at), _aware(t.decided_at)
                if created is not None and decided is not None:
                    st.durations.append((decided - created).total_seconds())
    return list(out.values())


def overdue(conn: sa.Connection) -> int:
    """Open tasks past their due time, all processes."""
    now = clock.now()
    return int(conn.execute(sa.select(sa.func.count()).select_from(approval_tasks).where(
        approval_tasks.c.status == OPEN, approval_tasks.c.due_at.is_not(None),
        approval_tasks.c.due_at < now)).scalar_one())
