"""Tables of imports (data, not config; app/imports/ runs them): one `sys_import` per uploaded
file and its job, `sys_import_row` tags every record an import created or updated (so the
import can be undone), `sys_import_error` keeps the rows that failed and the duplicates found
(the first `MAX_ERRORS` of each, with a count on the import), and `sys_import_template` keeps
column mappings for reuse."""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import system_metadata

#: sys_import.status, in the order an import goes through them
UPLOADED, VALIDATING, VALIDATED, RUNNING, DONE, FAILED, UNDONE = (
    "uploaded", "validating", "validated", "running", "done", "failed", "undone")
STATUSES = (UPLOADED, VALIDATING, VALIDATED, RUNNING, DONE, FAILED, UNDONE)
#: sys_import_row.action
CREATED, UPDATED = "created", "updated"
#: sys_import_error.kind
ERROR, DUPLICATE = "error", "duplicate"
#: how many errors (and duplicates) an import keeps; the rest are only counted
MAX_ERRORS = 10_000

_USER = "sys_user.id"

imports = sa.Table(
    "sys_import",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    #: the uploaded bytes in the attachment store (sha256 key)
    sa.Column("file_key", sa.String(64), nullable=False),
    sa.Column("file_size", sa.Integer, nullable=False, default=0),
    #: csv or xlsx
    sa.Column("file_kind", sa.String(8), nullable=False),
    #: column header -> field, and per-field choices (lookup key fields)
    sa.Column("mapping", sa.JSON, nullable=False),
    #: sheet, header row, date order, duplicates, upsert key (app.imports.options)
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("status", sa.String(12), nullable=False, default=UPLOADED),
    #: dry_run or run: what the job doing or done last was
    sa.Column("mode", sa.String(8)),
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("processed", sa.Integer, nullable=False, default=0),
    sa.Column("created", sa.Integer, nullable=False, default=0),
    sa.Column("updated", sa.Integer, nullable=False, default=0),
    sa.Column("skipped", sa.Integer, nullable=False, default=0),
    sa.Column("failed", sa.Integer, nullable=False, default=0),
    sa.Column("duplicates", sa.Integer, nullable=False, default=0),
    #: counts of the error rows (all of them; sys_import_error keeps the first MAX_ERRORS)
    sa.Column("error_count", sa.Integer, nullable=False, default=0),
    #: a sentence when the whole job failed (a bad file, a config change), else null
    sa.Column("error_summary", sa.Text),
    #: what undo could not do (records changed since, refusals), as a list of sentences
    sa.Column("undo_report", sa.JSON),
    sa.Column("created_by_id", sa.Integer, sa.ForeignKey(_USER, ondelete="SET NULL")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("undone_at", sa.DateTime(timezone=True)),
    sa.Column("undone_by_id", sa.Integer, sa.ForeignKey(_USER, ondelete="SET NULL")),
    sa.Index("ix_sys_import_entity", "entity", "id"),
    sa.Index("ix_sys_import_user", "created_by_id", "id"),
)

import_rows = sa.Table(
    "sys_import_row",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("import_id", sa.Integer, sa.ForeignKey("sys_import.id", ondelete="CASCADE"),
              nullable=False),
    #: the row of the file (1 is the first row after the header)
    sa.Column("row_number", sa.Integer, nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    sa.Column("action", sa.String(8), nullable=False),
    #: for an update: the changed fields' values before the import (JSON-ready)
    sa.Column("before", sa.JSON),
    #: the record's version right after the import wrote it (undo leaves it alone when it
    #: changed since)
    sa.Column("version", sa.Integer),
    sa.Index("ix_sys_import_row_import", "import_id", "id"),
)

import_errors = sa.Table(
    "sys_import_error",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("import_id", sa.Integer, sa.ForeignKey("sys_import.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("kind", sa.String(10), nullable=False, default=ERROR),
    sa.Column("row_number", sa.Integer, nullable=False),
    #: the column's header (None: the row as a whole)
    sa.Column("column_name", sa.String(255)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("raw_value", sa.Text),
    sa.Index("ix_sys_import_error_import", "import_id", "kind", "row_number"),
)

import_templates = sa.Table(
    "sys_import_template",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("mapping", sa.JSON, nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey(_USER, ondelete="CASCADE")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("entity", "name", "owner_id", name="uq_sys_import_template_name"),
)
