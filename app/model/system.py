"""System tables: users, roles, config versions, schema history, audit, the security log,
autonumber sequences.

They live in their own MetaData, fixed by the code (not by YAML). Each config version's model
gets a copy of `sys_user` so lookups of type `user` can reference it.
"""

from __future__ import annotations

import sqlalchemy as sa

system_metadata = sa.MetaData()


def _now() -> sa.sql.functions.current_timestamp:
    return sa.func.current_timestamp()


users = sa.Table(
    "sys_user",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(80), nullable=False, unique=True),
    sa.Column("email", sa.String(254)),
    sa.Column("full_name", sa.String(120)),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("roles", sa.JSON, nullable=False, default=list),
    sa.Column("locale", sa.String(10)),
    sa.Column("manager_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
)

roles = sa.Table(
    "sys_role",
    system_metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
)

config_versions = sa.Table(
    "sys_config_version",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("sys_config_version.id")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("author", sa.String(120)),
    sa.Column("message", sa.Text),
    sa.Column("migration_id", sa.String(200)),
    sa.Column("snapshot", sa.JSON, nullable=False),
)

schema_history = sa.Table(
    "sys_schema_history",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("migration_id", sa.String(200), nullable=False, unique=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("author", sa.String(120)),
    sa.Column("from_digest", sa.String(64)),
    sa.Column("to_digest", sa.String(64), nullable=False),
    sa.Column("steps", sa.JSON, nullable=False),
)

audit = sa.Table(
    "sys_audit",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.Column("entity", sa.String(63)),
    sa.Column("record_id", sa.Integer),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("changes", sa.JSON),
    #: the record's version after this change (optimistic-locking conflicts list what others
    #: changed since the version a writer started from)
    sa.Column("version", sa.Integer),
    sa.Index("ix_sys_audit_record", "entity", "record_id"),
)

#: saved list views: a user's own (user_id set) or shared with everyone (user_id NULL)
list_views = sa.Table(
    "sys_list_view",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="CASCADE")),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    #: columns, filters, sort and search as the list page's query string holds them
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.UniqueConstraint("user_id", "entity", "name", name="uq_sys_list_view_name"),
)

#: files attached to a record (the bytes live in the attachment store, keyed by sha256)
attachments = sa.Table(
    "sys_attachment",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(120), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("uploaded_by_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    sa.Index("ix_sys_attachment_record", "entity", "record_id"),
)

sequences = sa.Table(
    "sys_sequence",
    system_metadata,
    sa.Column("scope", sa.String(200), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False, default=0),
)

#: security events (sign-ins, tokens, user changes, exports, config publishes, denials):
#: append-only, enforced by triggers (`app.seclog.install_guards`); no foreign keys, so that
#: no cascade ever has to change a row
security_log = sa.Table(
    "sys_security_log",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("user_id", sa.Integer),
    sa.Column("username", sa.String(80)),
    sa.Column("ip", sa.String(45)),
    sa.Column("entity", sa.String(63)),
    sa.Column("record_id", sa.Integer),
    sa.Column("detail", sa.JSON),
    sa.Index("ix_sys_security_log_event", "event", "id"),
    sa.Index("ix_sys_security_log_username", "username", "id"),
    sa.Index("ix_sys_security_log_ip", "ip", "at"),
    sa.Index("ix_sys_security_log_at", "at"),
)

from app.model import system_events  # noqa: E402,F401  (the event outbox tables)

SYSTEM_TABLES = frozenset(system_metadata.tables)


def sequence_key(table: str, column: str, scope: str) -> str:
    """The `sys_sequence` row of one autonumber counter: per column and per date scope (a
    `QUO-{YYYY}-{0000}` number restarts each year)."""
    return f"{table}.{column}:{scope}"


def create_system_tables(conn: sa.Connection) -> None:
    import app.model.access
    import app.model.approvals
    import app.model.archive
    import app.model.comms
    import app.model.dedupe
    import app.model.designer
    import app.model.documents
    import app.model.imports
    import app.model.notify
    import app.model.reports
    import app.model.tokens  # noqa: F401

    system_metadata.create_all(conn, checkfirst=True)
    from app.seclog import install_guards

    install_guards(conn)  # sys_security_log refuses UPDATE and DELETE (existing tables too)
