"""The table of generated documents (app/documents): each version of a document made from a
template (`documents:` in workflows/*.yaml) for one record.

The PDF itself is an attachment of the record (`sys_attachment`, its bytes in the attachment
store); a `sys_document` row says which document and version it is, which version of the record
it shows and who made it. Generating the same document again for the same record makes the next
version; older versions stay (the unique key keeps two generators from taking one number).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import system_metadata

documents = sa.Table(
    "sys_document",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    #: the name of the document in `documents:` (quote_pdf)
    sa.Column("document", sa.String(63), nullable=False),
    #: 1, 2, ... per (entity, record_id, document)
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("attachment_id", sa.Integer,
              sa.ForeignKey("sys_attachment.id", ondelete="CASCADE"), nullable=False),
    #: the record's version (optimistic locking counter) the document shows
    sa.Column("record_version", sa.Integer),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("entity", "record_id", "document", "version",
                        name="uq_sys_document_version"),
    sa.Index("ix_sys_document_record", "entity", "record_id"),
)
