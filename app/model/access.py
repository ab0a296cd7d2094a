"""Tables of access control that hold data, not config: who is in which team, and records
shared by hand with a user or a team. (Roles, teams' names and grants are config.)"""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import system_metadata

user_teams = sa.Table(
    "sys_user_team",
    system_metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("team", sa.String(63), primary_key=True),
)

shares = sa.Table(
    "sys_share",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    #: exactly one of user_id and team is set
    sa.Column("user_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="CASCADE")),
    sa.Column("team", sa.String(63)),
    #: "read" or "edit"
    sa.Column("access", sa.String(10), nullable=False),
    sa.Column("created_by_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_sys_share_record", "entity", "record_id"),
)
