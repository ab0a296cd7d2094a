"""Tables of archiving (app/archive): which records are archived, and the runs that did it.

A record is archived while `sys_archived` holds a row for (entity, record_id): the row stays in
its entity table, untouched (its version, audit trail and links are kept), and the records
service leaves it out of everyday reads (app/records/archived.py). A system table rather than a
column on every entity table: system columns of entity tables are not migrated on existing
databases, and one indexed table answers "does this entity have archived records at all?" in
one lookup.

`sys_archive_run` is one archiving run (or restore of one): who started it, on which entity,
for records older than what, its progress and outcome.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import system_metadata

#: statuses of a run
QUEUED, RUNNING, DONE, FAILED, RESTORED = "queued", "running", "done", "failed", "restored"
RUN_STATUSES = (QUEUED, RUNNING, DONE, FAILED, RESTORED)

archive_runs = sa.Table(
    "sys_archive_run",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(63), nullable=False),
    #: the age as given ("365d", "18m", "2y") and the moment it meant
    sa.Column("older_than", sa.String(20), nullable=False),
    sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(10), nullable=False, default=QUEUED),
    #: records to archive (counted when the run starts) and archived so far
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("done", sa.Integer, nullable=False, default=0),
    sa.Column("created_by_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("restored_at", sa.DateTime(timezone=True)),
    sa.Column("restored_by_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.Column("error", sa.Text),
    sa.Index("ix_sys_archive_run_entity", "entity", "id"),
)

archived = sa.Table(
    "sys_archived",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("archived_by_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("sys_archive_run.id", ondelete="SET NULL")),
    #: one row per record; the NOT EXISTS of everyday reads probes it by (entity, record_id)
    sa.Index("uq_sys_archived_record", "entity", "record_id", unique=True),
    sa.Index("ix_sys_archived_run", "run_id"),
)
