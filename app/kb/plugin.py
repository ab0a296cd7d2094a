"""The knowledge base's built-in plugin (listed in `app.plugins.BUILTIN_PLUGINS`): each time an
article enters Published (the `kb_publish` approval's `on_approve`), its `revision` goes up by
one, in the same save."""

from __future__ import annotations

from app.kb.search import ARTICLE, PUBLISHED
from app.plugins import hookimpl
from app.records.change import Change

REVISION = "revision"


@hookimpl
def crm_record_before_validate(change: Change) -> None:
    if change.entity.name != ARTICLE or REVISION not in change.entity.fields:
        return
    status = change.values.get("status")
    if status != PUBLISHED or change.old.get("status") == PUBLISHED:
        return
    change.values[REVISION] = int(change.old.get(REVISION) or 0) + 1
