"""Tables of approvals in flight and done (data, not config; the processes are in
workflows/*.yaml): one `sys_approval` per submission, pinned to the definition it started on;
one `sys_approval_task` per approver and step (a queue's task is one task any member takes);
`sys_approval_event` is the history shown on the record; `sys_delegation` says who acts for an
approver who is out of office; `sys_escalation_fired` remembers which timed escalation already
fired for which deadline."""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import system_metadata

#: sys_approval.status
PENDING, APPROVED, REJECTED, RECALLED = "pending", "approved", "rejected", "recalled"
#: sys_approval_task.status (OPEN: waiting for its approver; the others are final)
OPEN, DONE_APPROVED, DONE_REJECTED, CANCELLED, ESCALATED, REASSIGNED = (
    "open", "approved", "rejected", "cancelled", "escalated", "reassigned")

_USER = ("sys_user.id",)

approvals = sa.Table(
    "sys_approval",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("process", sa.String(63), nullable=False),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    #: index into the pinned definition's steps of the step now waiting (or the last one)
    sa.Column("step", sa.Integer, nullable=False, default=0),
    #: how many times a step was opened (a step sent back opens again: only its newest
    #: round's tasks decide it)
    sa.Column("round", sa.Integer, nullable=False, default=0),
    sa.Column("submitted_by_id", sa.Integer, sa.ForeignKey(*_USER, ondelete="SET NULL")),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    #: the config version live at submission and the process definition as it was then
    sa.Column("config_version", sa.Integer),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Index("ix_sys_approval_record", "entity", "record_id", "status"),
    sa.Index("ix_sys_approval_submitter", "submitted_by_id", "status"),
)

approval_tasks = sa.Table(
    "sys_approval_task",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("approval_id", sa.Integer, sa.ForeignKey("sys_approval.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("step_name", sa.String(63), nullable=False),
    sa.Column("round", sa.Integer, nullable=False, default=0),
    #: the user who should act (None for a queue's task until someone takes it)
    sa.Column("assignee_id", sa.Integer, sa.ForeignKey(*_USER, ondelete="SET NULL")),
    #: a team whose members may each act on it
    sa.Column("queue", sa.String(63)),
    #: the approver the task was meant for when a delegate got it instead
    sa.Column("delegated_from_id", sa.Integer, sa.ForeignKey(*_USER, ondelete="SET NULL")),
    #: the task this one took over (escalation or reassignment)
    sa.Column("replaces_id", sa.Integer),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    #: when it escalates (None: never), when to remind, when the reminder went
    sa.Column("due_at", sa.DateTime(timezone=True)),
    sa.Column("remind_at", sa.DateTime(timezone=True)),
    sa.Column("reminded_at", sa.DateTime(timezone=True)),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decided_by_id", sa.Integer, sa.ForeignKey(*_USER, ondelete="SET NULL")),
    sa.Column("comment", sa.Text),
    sa.Index("ix_sys_approval_task_open", "status", "assignee_id"),
    sa.Index("ix_sys_approval_task_approval", "approval_id", "step"),
)

approval_events = sa.Table(
    "sys_approval_event",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("approval_id", sa.Integer, sa.ForeignKey("sys_approval.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey(*_USER, ondelete="SET NULL")),
    #: submitted, step_started, step_skipped, approved, rejected, sent_back, step_approved,
    #: recalled, reassigned, delegated, escalated, reminded, commented, final_approved,
    #: final_rejected
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("step", sa.Integer),
    sa.Column("step_name", sa.String(63)),
    sa.Column("task_id", sa.Integer),
    sa.Column("comment", sa.Text),
    sa.Column("data", sa.JSON),
    sa.Index("ix_sys_approval_event_approval", "approval_id", "id"),
)

delegations = sa.Table(
    "sys_delegation",
    system_metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey(*_USER, ondelete="CASCADE"),
              primary_key=True),
    sa.Column("delegate_id", sa.Integer, sa.ForeignKey(*_USER, ondelete="CASCADE"),
              nullable=False),
    #: the delegation holds from `starts_at` (None: now) until `ends_at` (None: until removed)
    sa.Column("starts_at", sa.DateTime(timezone=True)),
    sa.Column("ends_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

escalations_fired = sa.Table(
    "sys_escalation_fired",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("rule", sa.String(63), nullable=False),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    #: "warn" or "breach"
    sa.Column("kind", sa.String(8), nullable=False),
    #: the deadline it fired for (a new deadline fires again)
    sa.Column("deadline", sa.String(40), nullable=False),
    sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("rule", "record_id", "kind", "deadline",
                        name="uq_sys_escalation_fired"),
)
