"""`crm backup [FILE]`, `crm backup verify FILE`, `crm backup list`, `crm restore FILE
[--force]`: the whole CRM (database and attachments) to one archive and back (app/backup/).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from app import seclog
from app.backup import (
    BackupError,
    backups_dir,
    create_backup,
    default_path,
    list_backups,
    peek,
    restore_backup,
    verify_backup,
)
from app.backup.manifest import Manifest
from app.cli_errors import EXIT_REFUSED, friendly
from app.context import Context
from app.fields.special import size_text
from app.i18n import _

ARCHIVE = click.Path(dir_okay=False, path_type=Path)


def _refused(exc: BackupError) -> None:
    click.secho(_("Refused: %(why)s", why=str(exc)), fg="red", err=True)
    sys.exit(EXIT_REFUSED)


def _made(manifest: Manifest) -> str:
    return _("made %(when)s on %(database)s by CRM %(app)s, config version %(version)s",
             when=manifest.created_at, database=manifest.dialect, app=manifest.app_version,
             version=manifest.config_version if manifest.config_version is not None else "-")


class _BackupGroup(click.Group):
    """`crm backup` makes a backup (its default command); `crm backup verify|list ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] != "--help"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


@click.group("backup", cls=_BackupGroup)
def backup_group() -> None:
    """Back the CRM up: `crm backup [FILE]` writes the database and the attachments into one
    archive (default instance/backups/crm-<time>.tar.gz); `crm backup verify FILE` checks an
    archive; `crm backup list` shows the backups in instance/backups. See docs/backup.md."""


@backup_group.command("create")
@click.argument("file", required=False, type=ARCHIVE)
@click.pass_obj
@friendly
def create(ctx: Context, file: Path | None) -> None:
    """Write a backup to FILE (default instance/backups/crm-<time>.tar.gz)."""
    path = file or default_path(backups_dir(ctx.settings.instance_dir))
    try:
        made = create_backup(ctx.engine, path, ctx.settings.attachments_dir,
                             who=seclog.cli_who())
    except BackupError as exc:
        _refused(exc)
        return
    click.echo(_("Backup written to %(path)s (%(size)s): %(tables)s tables, %(rows)s rows, "
                 "%(files)s attachments.", path=str(made.path), size=size_text(made.size),
                 tables=made.tables, rows=made.rows, files=made.attachments))
    missing = made.manifest.missing_attachments
    if missing:
        click.secho(_("%(count)s attachments are named in the database but their files are "
                      "not in %(folder)s: %(keys)s", count=len(missing),
                      folder=str(ctx.settings.attachments_dir), keys=", ".join(missing[:3])),
                    fg="yellow", err=True)


@backup_group.command("verify")
@click.argument("file", type=ARCHIVE)
@friendly
def verify(file: Path) -> None:
    """Check every checksum of the archive FILE without restoring it."""
    try:
        checked = verify_backup(file)
    except BackupError as exc:
        _refused(exc)
        return
    click.secho(_("OK: %(path)s holds %(tables)s tables, %(rows)s rows and %(files)s "
                  "attachments, all matching their checksums (%(made)s).", path=str(file),
                  tables=checked.tables, rows=checked.rows, files=checked.attachments,
                  made=_made(checked.manifest)), fg="green")


@backup_group.command("list")
@click.pass_obj
def list_command(ctx: Context) -> None:
    """The backups in instance/backups, newest first, with what each holds."""
    folder = backups_dir(ctx.settings.instance_dir)
    found = list_backups(folder)
    if not found:
        click.echo(_("No backups in %(folder)s.", folder=str(folder)))
    for path in found:
        stat = path.stat()
        try:
            manifest = peek(path)
        except BackupError:
            what = _("Not readable as a CRM backup")
        else:
            what = _("%(rows)s rows, %(files)s attachments, config version %(version)s",
                     rows=manifest.rows, files=len(manifest.attachments),
                     version=manifest.config_version if manifest.config_version is not None
                     else "-")
        when = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        click.echo(f"{when}  {size_text(stat.st_size):>10}  {path}  ({what})")


@click.command("restore")
@click.argument("file", type=ARCHIVE)
@click.option("--force", is_flag=True,
              help="DROP every table of the database first (its data is lost); without it "
                   "a restore goes only into an empty database")
@click.pass_obj
@friendly
def restore_command(ctx: Context, file: Path, force: bool) -> None:
    """Restore the backup FILE into this deployment's database and attachment folder."""
    try:
        done = restore_backup(ctx.engine, file, ctx.settings.attachments_dir, force=force,
                              who=seclog.cli_who())
    except BackupError as exc:
        _refused(exc)
        return
    if done.dropped:
        click.echo(_("Dropped first: %(count)s tables that were in the database.",
                     count=len(done.dropped)))
    click.secho(_("Restored %(tables)s tables, %(rows)s rows and %(files)s attachments from "
                  "%(path)s (%(made)s); every table matches its checksum.",
                  tables=done.tables, rows=done.rows, files=done.attachments, path=str(file),
                  made=_made(done.manifest)), fg="green")
    if done.counted_only:
        click.echo(_("Checked by row count only (restored into the other database): "
                     "%(tables)s", tables=", ".join(done.counted_only)))
    for warning in done.warnings:
        click.secho(warning, fg="yellow", err=True)
    click.echo(_("Restart the CRM's servers and workers so that they load the restored data."))
