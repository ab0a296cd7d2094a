"""Documents made from templates (`documents:` in workflows/*.yaml, app/meta/documents.py):
a record (an approved quote) rendered to a PDF, stored as a versioned attachment. No Flask:
the web pages (app/web/documents.py), the API (app/api/documents.py) and `crm document`
(app/cli_documents.py) call these."""

from app.documents.render import RenderFailed
from app.documents.service import (
    ConditionFails,
    DocumentVersion,
    GeneratedDocument,
    Setup,
    document,
    document_label,
    documents_of,
    generate,
    holds,
    refusal,
    versions,
)

__all__ = ["ConditionFails", "DocumentVersion", "GeneratedDocument", "RenderFailed", "Setup",
           "document", "document_label", "documents_of", "generate", "holds", "refusal",
           "versions"]
