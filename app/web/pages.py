"""The generated pages as a built-in plugin: lists, forms, detail pages, boards, search,
attachments and lookups, each a blueprint of its own module, registered through the same
`crm_web_blueprints` hook as a plugin's pages (listed in `app.plugins.BUILTIN_PLUGINS`)."""

from __future__ import annotations

from flask import Blueprint

from app.plugins import hookimpl

#: the modules of `app.web` whose `bp` is a page blueprint, in registration order
PAGE_MODULES: tuple[str, ...] = (
    "lists", "forms", "detail", "board", "search", "attachments", "lookups", "privacy",
    "sharing", "convert", "notifications", "approvals", "approvals_record", "approvals_admin",
    "designer_access", "designer_workflows", "designer_history", "designer_files", "designer",
    "designer_fields", "reports", "dashboards",
    "duplicates",
    "email", "comms",
    "consents", "campaign_mail", "archive",
    "documents",
    "targets",
    "kb", "surveys",
)


@hookimpl
def crm_web_blueprints() -> list[Blueprint]:
    import importlib

    return [importlib.import_module(f"app.web.{name}").bp for name in PAGE_MODULES]
