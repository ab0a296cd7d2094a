"""Tables of the config history and the designer: the YAML files each config version was built
from (stored once per content, by SHA-256) and each admin's unpublished draft of changes."""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import _now, system_metadata

config_blobs = sa.Table(
    "sys_config_blob",
    system_metadata,
    sa.Column("sha", sa.String(64), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
)

#: which file texts (key -> blob sha) a config version was built from
config_sources = sa.Table(
    "sys_config_source",
    system_metadata,
    sa.Column("version_id", sa.Integer, sa.ForeignKey("sys_config_version.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("files", sa.JSON, nullable=False),
)

#: one open draft per admin: the changes they made in the designer, on top of `base_version`
config_drafts = sa.Table(
    "sys_config_draft",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("author", sa.String(120), nullable=False, unique=True),
    sa.Column("base_version", sa.Integer),
    sa.Column("changes", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
)
