"""Consent as a built-in plugin (`app.plugins.BUILTIN_PLUGINS`): `crm campaign email` and the
API route `POST /api/v1/campaign/<id>/email`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.plugins import hookimpl

if TYPE_CHECKING:
    import click
    from flask import Blueprint


@hookimpl
def crm_cli_commands() -> list[click.Command]:
    from app.cli_consent import campaign_group

    return [campaign_group]


@hookimpl
def crm_api_blueprints() -> list[Blueprint]:
    from app.api.campaign_mail import bp

    return [bp]
