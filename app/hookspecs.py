"""Every plugin hook of the CRM, grouped by the phase it runs in. Specs are docstring-only.

Plugins implement them with `@app.plugins.hookimpl` (see docs/plugins.md). They are loaded from
the `crm.plugins` entry point group (installed packages) and from the deployment's `plugins/`
directory; core features (the generated pages, the REST API, webhooks) are built-in plugins
implementing the same hooks. A test fails when a hook here lacks a docstring.

Phases:
1. registration — once, when the plugin manager is made: field types, expression functions,
   actions. What they return is added to process-wide registries.
2. app building — each time a config version's app is built: pages and API routes.
3. command line — when `crm` starts: extra commands.
4. records — inside the records service's transaction (except `crm_record_after_commit`): an
   exception raised by a hook rolls the whole operation back, so nothing is half-saved.
5. reads — when a record is read for display.
6. record pages — when a record's detail page is drawn: its extra buttons and side cards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Blueprint

    from app.actions import Action
    from app.expr.functions import FunctionRegistry
    from app.fields.base import FieldType
    from app.records.change import Change
    from app.web.recordext import RecordAction, RecordPanel

hookspec = pluggy.HookspecMarker("crm")


# --- 1. registration ---------------------------------------------------------------------
@hookspec
def crm_field_types() -> list[type[FieldType]] | None:
    """Field type classes this plugin adds (subclasses of `app.fields.base.FieldType` with a
    unique `name`). They become usable as `type:` in entity YAML."""


@hookspec
def crm_expr_functions(registry: FunctionRegistry) -> None:
    """Add functions to the expression language: call `registry.register(name, py_impl, ...)`.
    They are usable in formulas, defaults, rules and conditions."""


@hookspec
def crm_actions() -> list[Action] | None:
    """Actions (`app.actions.Action`) this plugin adds, usable by name in automations and
    workflow transitions in `workflows/*.yaml`."""


# --- 2. app building ---------------------------------------------------------------------
@hookspec
def crm_web_blueprints() -> list[Blueprint] | None:
    """Flask blueprints of pages to add to the web app. Each config version's app registers
    them again, so they must not keep per-app state in the blueprint."""


@hookspec
def crm_api_blueprints() -> list[Blueprint] | None:
    """Flask blueprints of API routes, mounted under `/api/v1/` (their own `url_prefix` is
    kept): they get the API's token or session sign-in and its JSON errors."""


# --- 3. command line ---------------------------------------------------------------------
@hookspec
def crm_cli_commands() -> list[click.Command] | None:
    """Click commands (or groups) added to the `crm` command line."""


# --- 4. records: validation --------------------------------------------------------------
@hookspec
def crm_record_before_validate(change: Change) -> None:
    """Before a create or update is checked: a hook may adjust `change.values` (normalise a
    phone number, fill a derived field); the values it sets are validated like the user's."""


@hookspec
def crm_record_validate(change: Change) -> list[tuple[str | None, str]] | None:
    """Extra validation of a create or update, after the field and YAML rule checks passed.

    `change.values` is the full record as it would be saved. Return a list of
    `(field name or None, message)` problems (messages in the user's language: use
    `app.i18n.gettext`); any problem refuses the write with a 422-style validation error.
    """


# --- 4. records: writes ------------------------------------------------------------------
@hookspec
def crm_record_before_save(change: Change) -> None:
    """Just before a create, update or restore (`change.action`) is written, after validation.

    A hook may adjust `change.values` (create/update); values it sets are not validated again.
    Raise `app.records.errors.RecordError` (or a subclass) to refuse the operation.
    """


@hookspec
def crm_record_after_save(change: Change) -> None:
    """Just after a create, update or restore was written and audited, still in the
    transaction: `change.record` is the saved record. Raising here rolls it all back."""


@hookspec
def crm_record_before_delete(change: Change) -> None:
    """Just before a record goes to the recycle bin (`change.old` is the record). Raise
    `app.records.errors.RecordError` to refuse."""


@hookspec
def crm_record_after_delete(change: Change) -> None:
    """Just after a record went to the recycle bin, still in the transaction."""


@hookspec
def crm_record_before_transition(change: Change, field: str, old: Any, new: Any) -> None:
    """A picklist (stage) field moves from `old` to `new` in a create (old is None) or an
    update, after `crm_record_before_save`. Raise `RecordError` to refuse the move."""


@hookspec
def crm_record_after_transition(change: Change, field: str, old: Any, new: Any) -> None:
    """A picklist (stage) field moved, after `crm_record_after_save`, in the transaction."""


@hookspec
def crm_record_after_commit(change: Change) -> None:
    """After the transaction committed: side effects that must only happen for saved data
    (notifications, webhooks, search indexing). Exceptions here are logged, not raised."""


@hookspec
def crm_records_merge(conn: Any, entity: str, survivor_id: int, loser_ids: list[int],
                      actor: Any) -> None:
    """Duplicates are being merged (app/dedupe/merge.py), inside the merge's transaction
    (`conn`): the related records and attachments of `loser_ids` moved to `survivor_id`, and
    the losers go to the recycle bin next. Move the feature's own rows that name a loser (a
    system table keyed by entity and record id) to the survivor. Raising rolls the merge
    back."""


# --- 5. reads ----------------------------------------------------------------------------
@hookspec
def crm_record_loaded(entity: str, record: dict[str, Any]) -> None:
    """A record was read for display (detail page, API get). A hook may add computed keys
    prefixed with `x_`; it must not change stored fields."""


# --- 6. record pages -------------------------------------------------------------------
@hookspec
def crm_record_actions(entity: str, record: dict[str, Any]) -> list[RecordAction] | None:
    """Buttons on a record's detail page, beside Edit (generate a PDF, send an email, merge
    ...): `app.web.recordext.RecordAction`s. Called in the request of a signed-in user; return
    only what that user may do (`records().permits(...)`). `record` is the record as shown."""


@hookspec
def crm_record_panels(entity: str, record: dict[str, Any]) -> list[RecordPanel] | None:
    """Cards in the side column of a record's detail page (documents, survey answers ...):
    `app.web.recordext.RecordPanel`s, each a template rendered with its own context."""
