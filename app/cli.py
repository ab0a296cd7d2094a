"""`crm`: validate, plan and migrate the schema, explain overlays, load demo data, manage users,
and serve the app. Every failure is a plain message and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
import sys

import click

from app.cli_errors import EXIT_CONFIG, EXIT_REFUSED, friendly
from app.cli_plugins import PluginGroup, deployment_context
from app.context import Context
from app.i18n import set_locale
from app.meta.errors import ConfigErrors
from app.migrate.publish import pending, plan_change, publish, replay
from app.plugins import PluginError

pass_ctx = click.make_pass_decorator(Context)


@click.group(cls=PluginGroup)
@click.option("--config", "config_file", envvar="CRM_CONFIG", default=None, is_eager=True,
              help="config.yaml to use (default: ./config.yaml, or $CRM_CONFIG)")
@click.pass_context
def main(click_ctx: click.Context, config_file: str | None) -> None:
    """YAML-configured CRM: schema, data and server commands."""
    try:
        click_ctx.obj = deployment_context(click_ctx)
    except ConfigErrors as exc:
        for err in exc.errors:
            click.secho(str(err), fg="red", err=True)
        sys.exit(EXIT_CONFIG)
    click_ctx.call_on_close(click_ctx.obj.dispose)
    try:  # every command knows the plugins' field types, functions and actions
        click_ctx.obj.plugins  # noqa: B018
    except PluginError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(EXIT_CONFIG)
    set_locale(click_ctx.obj.settings.locale)  # messages of commands in the deployment's language


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print errors as JSON")
@pass_ctx
def validate(ctx: Context, as_json: bool) -> None:
    """Check every schema file; exit 1 and list located, coded errors if any."""
    try:
        meta = ctx.yaml_meta()
    except ConfigErrors as exc:
        if as_json:
            click.echo(json.dumps([e.as_dict() for e in exc.errors], ensure_ascii=False,
                                  indent=2))
        else:
            for err in exc.errors:
                click.secho(str(err), fg="red")
            click.echo(f"{len(exc.errors)} error(s).")
        sys.exit(EXIT_CONFIG)
    fields = sum(len(e.fields) for e in meta)
    if as_json:
        click.echo(json.dumps([]))
    else:
        click.secho(f"OK: {len(meta.entities)} entities, {fields} fields, "
                    f"{len(meta.files)} files (config {meta.digest[:12]}).", fg="green")


@main.command()
@click.option("--purge", is_flag=True, help="also drop columns and tables of removed fields")
@click.option("--json", "as_json", is_flag=True, help="print the plan as JSON")
@pass_ctx
@friendly
def plan(ctx: Context, purge: bool, as_json: bool) -> None:
    """Show what `crm migrate` would do to the database and its data."""
    waiting = pending(ctx.engine, ctx.settings.migrations_dir)
    if waiting:
        click.echo(f"{len(waiting)} migration file(s) are not applied here yet; `crm migrate` "
                   "replays them first, so this plan may shrink: "
                   + ", ".join(mf.path.name for mf in waiting))
    result = plan_change(ctx.engine, ctx.yaml_meta(), purge=purge)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(result.render())
    if result.unsupported:
        sys.exit(EXIT_REFUSED)


@main.command()
@click.option("--purge", is_flag=True, help="drop columns and tables of removed fields "
              "(a backup copy is taken first)")
@click.option("--yes", is_flag=True, help="confirm destructive steps")
@click.option("-m", "--message", default=None, help="a note recorded with the version")
@click.option("--author", default=None, envvar="USER")
@click.option("--no-replay", is_flag=True, help="do not apply pending files in migrations/")
@pass_ctx
@friendly
def migrate(ctx: Context, purge: bool, yes: bool, message: str | None, author: str | None,
            no_replay: bool) -> None:
    """Replay pending migration files, then apply the YAML config to the database."""
    files = ctx.yaml_files()
    meta = ctx.yaml_meta(files)
    if not no_replay:
        for mid in replay(ctx.engine, ctx.settings.migrations_dir, author=author,
                          allow_destructive=yes):
            click.echo(f"Replayed {mid}")
    result = publish(ctx.engine, meta, author=author, message=message, purge=purge,
                     allow_destructive=yes,
                     migrations_dir=ctx.settings.writable_migrations_dir, files=files)
    click.echo(result.plan.render())
    for backup in result.backups:
        click.echo(f"Backup copy kept in table {backup}")
    if result.migration_file:
        click.echo(f"Recorded {result.migration_file}")
    click.secho(f"Config version {result.version} is live.", fg="green")


from app.cli_access import access  # noqa: E402  (sub-groups register on `main`)
from app.cli_backup import backup_group, restore_command  # noqa: E402
from app.cli_comms import email_group, followups_group, reminders_group  # noqa: E402
from app.cli_config import config  # noqa: E402
from app.cli_convert import convert_command  # noqa: E402
from app.cli_data import demo, serve, setup, user  # noqa: E402
from app.cli_documents import document_group  # noqa: E402
from app.cli_duplicates import duplicates_group  # noqa: E402
from app.cli_encryption import encryption  # noqa: E402
from app.cli_import import import_group  # noqa: E402
from app.cli_kb import kb_group  # noqa: E402
from app.cli_mail import mail  # noqa: E402
from app.cli_privacy import privacy_group  # noqa: E402
from app.cli_reports import report  # noqa: E402
from app.cli_seclog import security_log  # noqa: E402
from app.cli_targets import targets_group  # noqa: E402
from app.cli_tokens import token  # noqa: E402
from app.cli_webhooks import webhooks  # noqa: E402
from app.cli_worker import worker  # noqa: E402
from app.cli_workflow import workflow  # noqa: E402

for _command in (config, demo, user, setup, serve, token, webhooks, worker, security_log,
                 encryption, privacy_group, access, convert_command, mail, workflow,
                 backup_group, restore_command):
    main.add_command(_command)
main.add_command(report)
main.add_command(import_group)
main.add_command(duplicates_group)
main.add_command(email_group)
main.add_command(reminders_group)
main.add_command(followups_group)
main.add_command(document_group)
main.add_command(kb_group)
main.add_command(targets_group)
