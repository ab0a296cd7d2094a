"""Tables of duplicate detection (app/dedupe): pairs of records a user said are not
duplicates, so detection stops offering them.

A pair is kept once, smaller id first (`low_id` < `high_id`). Merges themselves leave no row
here: they are in the audit trail (`sys_audit`, actions `merge` on the survivor and `merged` on
each record merged into it).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import system_metadata

dismissed = sa.Table(
    "sys_dedupe_dismissed",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("low_id", sa.Integer, nullable=False),
    sa.Column("high_id", sa.Integer, nullable=False),
    sa.Column("dismissed_by_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("entity", "low_id", "high_id", name="uq_sys_dedupe_dismissed_pair"),
    sa.Index("ix_sys_dedupe_dismissed_high", "entity", "high_id"),
)
