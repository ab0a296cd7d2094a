"""Archiving as a built-in plugin (`app.plugins.BUILTIN_PLUGINS`): `crm archive`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.plugins import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def crm_cli_commands() -> list[click.Command]:
    from app.cli_archive import archive_group

    return [archive_group]
