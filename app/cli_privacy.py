"""`crm privacy`: personal data requests from the command line (export, erase), on the live
config version, as the system (see app/records/privacy.py and docs/privacy.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from app import seclog
from app.cli_errors import EXIT_REFUSED, friendly
from app.context import Context
from app.migrate.publish import active_version
from app.model.build import build_models
from app.records import SYSTEM, RecordError, Records, privacy
from app.records.attachments import AttachmentStore


def live_records(ctx: Context) -> Records:
    with ctx.engine.connect() as conn:
        _, meta = active_version(conn)
    if meta is None:
        raise click.ClickException("no config version is live: run `crm migrate` first")
    return Records(ctx.engine, build_models(meta, orm_classes=False), plugins=ctx.plugins)


@click.group()
def privacy_group() -> None:
    """Personal data requests: export or erase what the CRM holds about one person."""


@privacy_group.command("export")
@click.argument("entity")
@click.argument("record_id", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write to this file (.zip: with the attachments' files); default: stdout")
@click.pass_obj
@friendly
def export(ctx: Context, entity: str, record_id: int, output: Path | None) -> None:
    """Everything held about ENTITY #RECORD_ID (a contact, a lead ...), as JSON."""
    rs = live_records(ctx)
    files = AttachmentStore(ctx.engine, ctx.settings.attachments_dir)
    try:
        data = privacy.personal_data(rs, entity, record_id, store=files)
    except RecordError as exc:
        _refuse(exc)
    privacy.record_export(rs, entity, record_id, SYSTEM, who=seclog.cli_who())
    if output is None:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if output.suffix.lower() == ".zip":
        with output.open("wb") as out:
            privacy.write_zip(data, files, out)
    else:
        output.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n",
                          encoding="utf-8")
    click.echo(f"Wrote the personal data of {entity} #{record_id} to {output}", err=True)


@privacy_group.command("erase")
@click.argument("entity")
@click.argument("record_id", type=int)
@click.option("--mode", type=click.Choice(privacy.MODES), default="erase", show_default=True,
              help="anonymise keeps categories (country, salutation) and the birth year")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.pass_obj
@friendly
def erase(ctx: Context, entity: str, record_id: int, mode: str, yes: bool) -> None:
    """Erase the personal data of ENTITY #RECORD_ID, keeping its business records."""
    rs = live_records(ctx)
    files = AttachmentStore(ctx.engine, ctx.settings.attachments_dir)
    try:
        plan = privacy.erase_plan(rs, entity, record_id, mode)
        click.echo(f"{entity} #{record_id} {plan.target.title}:")
        click.echo("  erase: " + (", ".join(plan.target.values) or "nothing (already empty)"))
        for t in plan.cascade:
            click.echo(f"  also erase {t.entity.name} #{t.id}: "
                       + (", ".join(t.values) or "nothing"))
        if plan.attachments:
            click.echo(f"  delete {len(plan.attachments)} attachment(s)")
        for child, n in plan.kept:
            click.echo(f"  keep {n} {child.name} record(s)")
        if not yes and not click.confirm("Erase? This cannot be undone", default=False):
            click.echo("Nothing was erased.")
            sys.exit(EXIT_REFUSED)
        done = privacy.erase(rs, entity, record_id, SYSTEM, mode, store=files,
                             who=seclog.cli_who())
    except RecordError as exc:
        _refuse(exc)
    click.echo(f"Erased {len(done.fields)} field(s) of {entity} #{record_id}, "
               f"{len(done.cascaded)} linked record(s), {done.attachments} attachment(s); "
               f"{done.audit_rows} audit entries scrubbed.")


def _refuse(exc: RecordError) -> None:
    click.secho(f"Refused: {exc.message}", fg="red", err=True)
    sys.exit(EXIT_REFUSED)


privacy_group.name = "privacy"
