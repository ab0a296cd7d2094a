"""System tables of the event outbox: webhook deliveries and automation runs.

Rows are inserted inside the record's transaction (so a rollback leaves none, and a crash after
commit loses none), then handed to the task queue after commit. A sweep re-enqueues pending rows
whose `next_attempt_at` has passed. `claimed_until` keeps two workers from sending one row at
the same time, and `claim` (a token per claim) lets only the holder record the outcome.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import system_metadata

#: statuses of a delivery or run: waiting (first try or a retry), done, given up
PENDING, DONE, FAILED = "pending", "delivered", "failed"


def _outbox_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("event", sa.String(80), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("record_id", sa.Integer),
        sa.Column("status", sa.String(20), nullable=False, default=PENDING),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        #: the token of the worker holding the row (its outcome is recorded only with it)
        sa.Column("claim", sa.String(32)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    ]


webhook_deliveries = sa.Table(
    "sys_webhook_delivery",
    system_metadata,
    *_outbox_columns(),
    sa.Column("webhook", sa.String(63), nullable=False),
    #: the JSON body as sent (without the signature, which is made per attempt)
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("last_status_code", sa.Integer),
    sa.Index("ix_sys_webhook_delivery_due", "status", "next_attempt_at"),
)

automation_runs = sa.Table(
    "sys_automation_run",
    system_metadata,
    *_outbox_columns(),
    sa.Column("automation", sa.String(63), nullable=False),
    #: what the actions get: the record as saved, the changes, who made them
    sa.Column("context", sa.JSON, nullable=False),
    #: actions already done (a retry continues with the next one)
    sa.Column("steps_done", sa.Integer, nullable=False, default=0),
    sa.Index("ix_sys_automation_run_due", "status", "next_attempt_at"),
)
