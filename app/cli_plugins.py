"""The `crm` group with the commands of plugins (`crm_cli_commands`).

The plugins of a deployment are only known once its config.yaml is read, and `crm --help` must
list their commands, so the group loads them when click first asks for its commands: with the
`--config` given (an eager option, read before `--help`), `$CRM_CONFIG`, or ./config.yaml. Where
no config can be read, only installed plugins (entry points) add commands; the config error is
reported by the command that needs the config.
"""

from __future__ import annotations

import os

import click
import pluggy

from app.meta.errors import ConfigErrors
from app.plugins import PluginError, collect, plugin_manager_for
from app.settings import load_settings

PM_KEY = "crm.plugin_manager"


class PluginGroup(click.Group):
    """A click group whose commands are its own plus the plugins' of the deployment."""

    def plugin_manager(self, ctx: click.Context) -> pluggy.PluginManager:
        """The deployment's plugin manager, made once per invocation (registration hooks run
        then, so `crm validate` knows plugins' field types). A broken plugin is a plain error."""
        root = ctx.find_root()
        pm = root.meta.get(PM_KEY)
        if pm is None:
            config_file = root.params.get("config_file") or os.environ.get("CRM_CONFIG")
            try:
                settings = load_settings(config_file)
            except ConfigErrors:
                settings = None
            try:
                pm = plugin_manager_for(settings)
            except PluginError as exc:
                raise click.ClickException(str(exc)) from None
            root.meta[PM_KEY] = pm
        return pm

    def plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        commands: dict[str, click.Command] = {}
        pm = self.plugin_manager(ctx)
        try:
            found = collect(pm, "crm_cli_commands", click.Command)
        except PluginError as exc:
            raise click.ClickException(str(exc)) from None
        for plugin, command in found:
            name = command.name or ""
            if name in self.commands or name in commands:
                raise click.ClickException(f"plugin {plugin!r}: the command `crm {name}` "
                                           "exists already; rename the plugin's command")
            commands[name] = command
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.plugin_commands(ctx)])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self.plugin_commands(ctx).get(cmd_name)
