"""`crm import`: import a CSV or XLSX file into an entity, on the live config version, with a
progress bar and a summary; `crm import list`, `show ID` and `undo ID`. Thin: the work is in
app/imports (docs/imports.md).

    crm import customers.xlsx --entity contact --map "手机号=mobile" --dedupe email,mobile \\
        --on-duplicate update --date-order dmy --errors errors.csv
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import sqlalchemy as sa

from app.cli_errors import EXIT_REFUSED, friendly
from app.context import Context
from app.fields.dates import DATE_ORDERS
from app.i18n import _, get_locale
from app.imports import ImportOptions, configure, start, store_of, undo, upload
from app.imports import jobs as import_jobs
from app.imports import mapping as import_mapping
from app.imports.options import ON_DUPLICATE
from app.model.system import users
from app.records import SYSTEM, Actor, RecordError, Records

#: commands of the group; anything else first is the file to import
SUBCOMMANDS = ("list", "show", "undo")


class ImportGroup(click.Group):
    """`crm import FILE ...` runs the import; `crm import list|show|undo` the others."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("import", cls=ImportGroup)
def import_group() -> None:
    """Import a CSV or XLSX file (crm import FILE --entity NAME ...), list, show and undo
    imports."""


def _records(ctx: Context, who: Actor) -> Records:
    """The live version's records service, reading as `who`."""
    from app.cli_privacy import live_records

    ctx.queue  # noqa: B018  (saves enqueue their webhooks and automations at once)
    rs = live_records(ctx)
    return Records(rs.engine, rs.models, plugins=rs.plugins, actor=who)


def _actor(ctx: Context, username: str | None) -> Actor:
    """The user the import runs as (their permissions; default: the system)."""
    if username is None:
        return SYSTEM
    with ctx.engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.username, users.c.roles,
                                     users.c.active).where(users.c.username == username)).first()
    if row is None or not row.active:
        raise click.ClickException(_("There is no active user '%(name)s'.", name=username))
    return Actor(int(row.id), row.username, tuple(row.roles or ()), get_locale())


def _refused(exc: RecordError) -> NoReturn:
    click.secho(f"Refused: {exc.message}", fg="red", err=True)
    sys.exit(EXIT_REFUSED)


def _mapping(columns: list[str], fields: dict[str, Any], pairs: tuple[str, ...]
             ) -> dict[str, Any]:
    """The mapping with `--map "Column=field"` applied (`"Column="` leaves a column out)."""
    out = dict(fields)
    for pair in pairs:
        column, sep, field = pair.rpartition("=")
        if not sep or not column:
            raise click.BadParameter(f"{pair!r}: write it as \"Column=field\"", param_hint="--map")
        if column not in columns:
            raise click.BadParameter(f"the file has no column {column!r} (it has: "
                                     f"{', '.join(columns)})", param_hint="--map")
        out[column] = field.strip() or None
    return out


@import_group.command("run", hidden=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--entity", required=True, help="the entity to import into (contact, account ...)")
@click.option("--map", "pairs", multiple=True, metavar='"COLUMN=field"',
              help="map a column to a field (repeatable; COLUMN= leaves it out)")
@click.option("--template", default=None, help="use a saved mapping template")
@click.option("--save-template", default=None, help="save the mapping and options under a name")
@click.option("--dedupe", default=None, metavar="FIELDS",
              help="comma-separated fields that find duplicates (email,mobile)")
@click.option("--dedupe-match", type=click.Choice(["any", "all"]), default="any",
              show_default=True, help="a duplicate matches any of the fields, or all of them")
@click.option("--exact", is_flag=True, help="compare duplicates exactly (not ignoring case, "
              "spaces and phone formats)")
@click.option("--on-duplicate", type=click.Choice(ON_DUPLICATE), default="skip",
              show_default=True)
@click.option("--upsert-key", default=None, metavar="FIELD",
              help="update the record whose FIELD has the row's value, else create one")
@click.option("--date-order", type=click.Choice(DATE_ORDERS), default=None,
              help="how 05/03/2024 is read: day first (dmy) or month first (mdy)")
@click.option("--lookup", "lookups", multiple=True, metavar='"FIELD=key"',
              help="match a lookup's cells by this field of its entity (account=name, "
                   "owner=email, account=id)")
@click.option("--sheet", default=None, help="the XLSX sheet to read (default: the first)")
@click.option("--header-row", type=click.IntRange(1), default=None,
              help="the row holding the column names (default: the first non-blank one)")
@click.option("--dry-run", is_flag=True, help="check every row and report; write nothing")
@click.option("--errors", "errors_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="write every error and duplicate to this CSV file")
@click.option("--as", "username", default=None, help="run as this user (their permissions)")
@click.pass_obj
@friendly
def run_import(ctx: Context, file: Path, entity: str, pairs: tuple[str, ...],
               template: str | None, save_template: str | None, dedupe: str | None,
               dedupe_match: str, exact: bool, on_duplicate: str, upsert_key: str | None,
               date_order: str | None, lookups: tuple[str, ...], sheet: str | None,
               header_row: int | None, dry_run: bool, errors_file: Path | None,
               username: str | None) -> None:
    """Import FILE (CSV or XLSX) into ENTITY: columns are matched to fields by name and label
    (English or Chinese), every row is checked like a form save, and the import can be undone
    (crm import undo ID)."""
    who = _actor(ctx, username)
    rs = _records(ctx, who)
    files = store_of(ctx.engine, ctx.settings.attachments_dir)
    try:
        saved = None
        if template:
            with ctx.engine.connect() as conn:
                saved = import_mapping.load_template(conn, entity, template, who.id)
        base = dict((saved or {}).get("options") or {})
        base.update({"sheet": sheet or base.get("sheet"),
                     "header_row": header_row or base.get("header_row")})
        with file.open("rb") as fh:
            job = upload(rs, files, who, entity, file.name, fh,
                         template={"mapping": (saved or {}).get("mapping") or {},
                                   "options": base} if saved or sheet or header_row else None)
        keys = dict(job.options_obj.lookup_keys)
        for pair in lookups:
            name, sep, key = pair.partition("=")
            if not sep:
                raise click.BadParameter(f"{pair!r}: write it as \"field=key\"",
                                         param_hint="--lookup")
            keys[name.strip()] = key.strip()
        options = ImportOptions.from_json({
            **job.options,
            "date_order": date_order or job.options.get("date_order"),
            "dedupe": dedupe if dedupe is not None else job.options.get("dedupe") or [],
            "dedupe_match": dedupe_match, "on_duplicate": on_duplicate
            if dedupe or not saved else job.options.get("on_duplicate", on_duplicate),
            "dedupe_mode": "exact" if exact else job.options.get("dedupe_mode", "normalised"),
            "upsert_key": upsert_key or job.options.get("upsert_key"), "lookup_keys": keys})
        fields = _mapping(job.columns, job.fields, pairs)
        job = configure(rs, files, who, job.id, fields, options)
        for column, field in job.fields.items():
            click.echo(f"  {column} -> {field or '(not imported)'}", err=True)
        if save_template:
            with ctx.engine.begin() as conn:
                import_mapping.save_template(conn, save_template, entity, job.fields,
                                             job.options_obj, who.id)
            click.echo(_("Saved the mapping as template %(name)s.", name=repr(save_template)),
                       err=True)
        label = _("Checking %(file)s", file=file.name) if dry_run \
            else _("Importing %(file)s", file=file.name)
        with click.progressbar(length=max(job.total, 1), label=label,
                               file=sys.stderr) as bar:
            last = [0]

            def moved(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - last[0])
                last[0] = done

            job = start(rs, files, who, job.id, dry_run=dry_run, progress=moved)
    except RecordError as exc:
        _refused(exc)
    _summary(ctx, job, errors_file)
    if job.status == "failed" or job.failed:
        sys.exit(EXIT_REFUSED)


def _summary(ctx: Context, job: import_jobs.ImportJob, errors_file: Path | None) -> None:
    if job.status == "failed":
        click.secho(_("Import #%(id)s failed: %(reason)s", id=job.id,
                      reason=job.error_summary or ""), fg="red", err=True)
    counts = {"id": job.id, "entity": job.entity, "file": job.file_name, "status": job.status,
              "rows": job.processed, "created": job.created, "updated": job.updated,
              "skipped": job.skipped, "failed": job.failed, "duplicates": job.duplicates}
    if job.mode == "dry_run":
        click.echo(_("Import #%(id)s (%(entity)s, %(file)s): %(status)s. %(rows)s rows: "
                     "%(created)s would be created, %(updated)s updated, %(skipped)s skipped, "
                     "%(failed)s failed; %(duplicates)s duplicate(s).", **counts))
    else:
        click.echo(_("Import #%(id)s (%(entity)s, %(file)s): %(status)s. %(rows)s rows: "
                     "%(created)s created, %(updated)s updated, %(skipped)s skipped, "
                     "%(failed)s failed; %(duplicates)s duplicate(s).", **counts))
    for problem in import_jobs.problems(ctx.engine, job.id, limit=20):
        where = _("row %(row)s", row=problem["row_number"])
        if problem["column_name"]:
            where += f", {problem['column_name']}"
        click.echo(f"  {where}: {problem['message']}", err=True)
    if job.error_count > 20:
        click.echo("  " + _("... and %(count)s more.", count=job.error_count - 20), err=True)
    if errors_file is not None:
        with errors_file.open("w", encoding="utf-8", newline="") as out:
            for chunk in import_jobs.report_csv(ctx.engine, job.id):
                out.write(chunk)
        click.echo(_("Errors and duplicates written to %(file)s", file=str(errors_file)),
                   err=True)
    if job.mode == "run" and job.status == "done":
        click.echo(_("Undo with: crm import undo %(id)s", id=job.id), err=True)


@import_group.command("list")
@click.option("--entity", default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.pass_obj
@friendly
def list_imports(ctx: Context, entity: str | None, limit: int) -> None:
    """The imports, newest first."""
    found = import_jobs.history(ctx.engine, SYSTEM, limit=limit, entity=entity)
    if not found:
        click.echo(_("No imports."))
    for job, user in found:
        click.echo(f"#{job.id:<5} {job.created_at:%Y-%m-%d %H:%M}  {job.entity:<16} "
                   f"{job.status:<10} {job.created:>7} created {job.updated:>6} updated "
                   f"{job.failed:>6} failed  {job.file_name}  ({user or 'system'})")


@import_group.command("show")
@click.argument("import_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--errors", "errors_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="write every error and duplicate to this CSV file")
@click.pass_obj
@friendly
def show_import(ctx: Context, import_id: int, errors_file: Path | None) -> None:
    """An import's status, counts and first errors."""
    try:
        job = import_jobs.get(ctx.engine, import_id, SYSTEM)
    except RecordError as exc:
        _refused(exc)
    _summary(ctx, job, errors_file)
    for line in job.undo_report or []:
        click.echo(f"  {line}")


@import_group.command("undo")
@click.argument("import_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--as", "username", default=None, help="undo as this user")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.pass_obj
@friendly
def undo_import(ctx: Context, import_id: int, username: str | None, yes: bool) -> None:
    """Undo an import: its new records go to the recycle bin, records it updated get their
    earlier values back (unless changed since)."""
    who = _actor(ctx, username)
    rs = _records(ctx, who)
    try:
        job = import_jobs.get(ctx.engine, import_id, who)
        if not yes:
            click.confirm(_("Undo import #%(id)s (%(file)s): delete %(created)s record(s) and "
                            "restore %(updated)s?", id=job.id, file=job.file_name,
                            created=job.created, updated=job.updated), abort=True)
        job = undo(rs, who, import_id)
    except RecordError as exc:
        _refused(exc)
    for line in job.undo_report or []:
        click.echo(line)
