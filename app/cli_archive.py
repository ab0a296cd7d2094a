"""`crm archive`: archive closed records older than an age, list the runs, restore them
(app/archive). Runs as the system (an administrator's work), logged in the security log with
the operating-system user.

    crm archive run --entity case --older-than 365d [--dry-run]
    crm archive list
    crm archive restore RUN_ID | --entity case --id 5
"""

from __future__ import annotations

import click

from app import seclog
from app.cli_errors import friendly, refuse
from app.context import Context
from app.records import RecordError
from app.records.change import SYSTEM


@click.group("archive")
def archive_group() -> None:
    """Archive closed records older than an age (kept, out of everyday lists), or restore."""




@archive_group.command("run")
@click.option("--entity", required=True, help="an entity the config's `archiving:` names")
@click.option("--older-than", "older_than", required=True,
              help="the age: 365d, 8w, 18m, 2y (days, weeks, months, years)")
@click.option("--dry-run", is_flag=True, help="only count what would be archived")
@click.pass_obj
@friendly
def run_command(ctx: Context, entity: str, older_than: str, dry_run: bool) -> None:
    """Archive the ENTITY records matching its `when` older than the age."""
    from app.archive import parse_age, preview, start
    from app.cli_privacy import live_records

    rs = live_records(ctx)
    try:
        age = parse_age(older_than)
        p = preview(rs, SYSTEM, entity, age)
        if dry_run or p.count == 0:
            click.echo(f"{p.count} {entity} record(s) older than {age.text} "
                       f"(before {p.cutoff:%Y-%m-%d %H:%M} UTC) "
                       f"{'would be archived' if dry_run else 'to archive: nothing to do'}.")
            for rid, title, _age in p.sample:
                click.echo(f"  #{rid} {title}")
            return
        run_id = start(rs, SYSTEM, entity, age, who=seclog.cli_who())
    except RecordError as exc:
        refuse(exc)
        return
    from app.archive import run_of

    run = run_of(ctx.engine, run_id)
    click.echo(f"Run #{run_id}: archived {run['done']} {entity} record(s) older than "
               f"{age.text}. Restore with `crm archive restore {run_id}`.")


@archive_group.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.pass_obj
@friendly
def list_command(ctx: Context, limit: int) -> None:
    """The latest archiving runs."""
    from app.archive import runs

    found = runs(ctx.engine, limit)
    if not found:
        click.echo("No archiving run yet.")
        return
    for r in found:
        click.echo(f"#{r['id']}  {r['created_at']:%Y-%m-%d %H:%M}  {r['entity']:<14} "
                   f"older than {r['older_than']:<6} {r['status']:<9} "
                   f"{r['done']}/{r['total']}")


@archive_group.command("restore")
@click.argument("run_id", type=int, required=False)
@click.option("--entity", default=None, help="with --id: one record")
@click.option("--id", "record_id", type=int, default=None, help="the record's id")
@click.pass_obj
@friendly
def restore_command(ctx: Context, run_id: int | None, entity: str | None,
                    record_id: int | None) -> None:
    """Bring back the records of run RUN_ID, or one record (--entity E --id N)."""
    from app.archive import restore_record, restore_run
    from app.cli_privacy import live_records

    if (run_id is None) == (entity is None or record_id is None):
        raise click.UsageError("give a RUN_ID, or --entity and --id (not both)")
    rs = live_records(ctx)
    try:
        if run_id is not None:
            n = restore_run(rs, SYSTEM, run_id, who=seclog.cli_who())
            click.echo(f"Run #{run_id}: {n} record(s) restored.")
        else:
            assert entity is not None and record_id is not None
            restore_record(rs, SYSTEM, entity, record_id, who=seclog.cli_who())
            click.echo(f"{entity} #{record_id} restored.")
    except RecordError as exc:
        refuse(exc)
