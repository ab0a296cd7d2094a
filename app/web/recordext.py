"""Extra buttons and side cards on a record's detail page, contributed by features and plugins
through the `crm_record_actions` / `crm_record_panels` hooks (app/hookspecs.py).

    @hookimpl
    def crm_record_actions(entity, record):
        if entity != "quote" or not records().permits("quote", record["id"], "read"):
            return None
        return [RecordAction("quote-pdf", _("Generate PDF"), f"/quote/{record['id']}/pdf",
                             method="post")]

A `post` action is drawn as a small form with the CSRF token (and `confirm` text, when given,
asked first). A panel names a template and the context it is rendered with. A hook that fails
is logged and left out: one broken extension must not take the record page down.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.web.state import state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordAction:
    """A button: `id` (the element id, for tests and CSS), its label, where it goes."""

    id: str
    label: str
    url: str
    #: "get": a link; "post": a form posting the CSRF token
    method: str = "get"
    #: Bootstrap button style without "btn-": "outline-secondary", "success" ...
    style: str = "outline-secondary"
    #: asked before a post is sent (data-confirm)
    confirm: str | None = None


@dataclass(frozen=True)
class RecordPanel:
    """A side card: rendered from `template` with `context` (plus the page's own names)."""

    id: str
    title: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    #: smaller first
    order: int = 100


def _collect(hook_name: str, entity: str, record: dict[str, Any]) -> list[Any]:
    hook = getattr(state().plugins.hook, hook_name)
    out: list[Any] = []
    for impl in hook.get_hookimpls():
        try:
            found = impl.function(entity=entity, record=record)
        except Exception:  # one broken extension must not take the page down
            log.exception("%s of %s failed for %s %s", hook_name, impl.plugin_name, entity,
                          record.get("id"))
            continue
        out.extend(found or ())
    return out


def record_actions(entity: str, record: dict[str, Any]) -> list[RecordAction]:
    """The extra buttons of this record's page, in plugin registration order."""
    return list(_collect("crm_record_actions", entity, record))


def record_panels(entity: str, record: dict[str, Any]) -> list[RecordPanel]:
    """The extra side cards of this record's page, by `order`."""
    return sorted(_collect("crm_record_panels", entity, record), key=lambda p: p.order)
