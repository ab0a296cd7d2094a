"""The API token table: tokens are stored as SHA-256 digests, never in clear."""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import system_metadata

api_tokens = sa.Table(
    "sys_api_token",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("name", sa.String(80), nullable=False),
    #: the first characters of the token, shown to tell tokens apart
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    #: "read" (GET only) or "write"
    sa.Column("scope", sa.String(10), nullable=False, server_default="write"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)
