"""Every plugin hook of the CRM, grouped by the phase it runs in. Specs are docstring-only.

Plugins implement them with `@app.plugins.hookimpl`; `app.plugins.make_plugin_manager` loads
plugins from the `crm.plugins` entry point group. A test fails when a hook here lacks a docstring.

Record hooks run inside the operation's transaction (except `crm_record_after_commit`): an
exception raised by a hook rolls the whole operation back, so nothing is half-saved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from app.records.change import Change

hookspec = pluggy.HookspecMarker("crm")


# --- records: validation -------------------------------------------------------------------
@hookspec
def crm_record_validate(change: Change) -> list[tuple[str | None, str]] | None:
    """Extra validation of a create or update, after the field and YAML rule checks passed.

    `change.values` is the full record as it would be saved. Return a list of
    `(field name or None, message)` problems (messages in the user's language: use
    `app.i18n.gettext`); any problem refuses the write with a 422-style validation error.
    """


# --- records: writes ------------------------------------------------------------------------
@hookspec
def crm_record_before_write(change: Change) -> None:
    """Just before the row is inserted, updated, soft-deleted or restored, in the transaction.

    A hook may adjust `change.values` (create/update); values it sets are not validated again.
    Raise `app.records.errors.RecordError` (or a subclass) to refuse the operation.
    """


@hookspec
def crm_record_after_write(change: Change) -> None:
    """Just after the row was written and audited, still in the transaction: `change.record`
    is the saved record. Raising here rolls the whole operation back."""


@hookspec
def crm_record_after_commit(change: Change) -> None:
    """After the transaction committed: side effects that must only happen for saved data
    (notifications, webhooks, search indexing). Exceptions here are logged, not raised."""


# --- reads ----------------------------------------------------------------------------------
@hookspec
def crm_record_loaded(entity: str, record: dict[str, Any]) -> None:
    """A record was read for display (detail page, API get). A hook may add computed keys
    prefixed with `x_`; it must not change stored fields."""
