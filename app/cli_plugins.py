"""The `crm` group with the commands of plugins (`crm_cli_commands`).

The plugins of a deployment are only known once its config.yaml is read, and `crm --help` must
list their commands, so the group reads the config when click first asks for its commands: the
`--config` given (an eager option, read before `--help`), `$CRM_CONFIG`, or ./config.yaml. The
`Context` made then is the one every command runs with (`deployment_context`), so one plugin
manager (`Context.plugins`) serves the whole invocation. Where no config can be read, only
installed plugins (entry points) add commands; the config error is reported by the command that
needs the config.
"""

from __future__ import annotations

import os

import click
import pluggy

from app.context import Context
from app.meta.errors import ConfigErrors
from app.plugins import PluginError, collect, plugin_manager_for

CTX_KEY = "crm.context"
PM_KEY = "crm.plugin_manager"


def deployment_context(ctx: click.Context) -> Context:
    """The Context of this invocation's deployment, made once (raises ConfigErrors)."""
    root = ctx.find_root()
    found = root.meta.get(CTX_KEY)
    if isinstance(found, ConfigErrors):
        raise found
    if found is None:
        config_file = root.params.get("config_file") or os.environ.get("CRM_CONFIG")
        try:
            found = Context.from_env(config_file)
        except ConfigErrors as exc:
            root.meta[CTX_KEY] = exc
            raise
        root.meta[CTX_KEY] = found
    return found


class PluginGroup(click.Group):
    """A click group whose commands are its own plus the plugins' of the deployment."""

    def plugin_manager(self, ctx: click.Context) -> pluggy.PluginManager:
        """The deployment's plugin manager (`Context.plugins`), or the installed plugins' when
        no config can be read. A broken plugin is a plain error."""
        root = ctx.find_root()
        pm = root.meta.get(PM_KEY)
        if pm is None:
            try:
                try:
                    pm = deployment_context(ctx).plugins
                except ConfigErrors:
                    pm = plugin_manager_for(None)
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
