"""`crm convert ENTITY ID --as USER`: convert a record (a qualified lead, an accepted quote, a
signed contract) into the records its conversion creates, with their lines, on the live config
version, as that user (app/workflow/convert.py)."""

from __future__ import annotations

import json

import click
import sqlalchemy as sa

from app.cli_errors import friendly, refuse
from app.context import Context
from app.model.system import users
from app.records import Actor, RecordError
from app.workflow.convert import conversions_of, run_conversion


@click.command("convert")
@click.argument("entity")
@click.argument("record_id", type=int)
@click.option("--name", "name", default=None,
              help="the conversion (default: the only one of ENTITY)")
@click.option("--no-opportunity", is_flag=True, help="leave the optional opportunity out")
@click.option("--without", "without", multiple=True, metavar="TARGET",
              help="leave this optional target out (repeatable)")
@click.option("--as", "username", required=True, help="the user who converts (and owns what "
              "is created)")
@click.pass_obj
@friendly
def convert_command(ctx: Context, entity: str, record_id: int, name: str | None,
                    no_opportunity: bool, without: tuple[str, ...], username: str) -> None:
    """Convert ENTITY #RECORD_ID (a qualified lead into an account, contact and opportunity;
    an accepted quote into a contract, a signed contract into an order, lines included).
    Prints the ids made and the lines copied as JSON."""
    from app.cli_privacy import live_records

    rs = live_records(ctx)
    with ctx.engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.roles, users.c.active)
                           .where(users.c.username == username)).first()
    if row is None or not row.active:
        raise click.ClickException(f"there is no active user '{username}'")
    if name is None:
        found = conversions_of(rs, entity)
        if len(found) != 1:
            names = ", ".join(c.name for c in found) or "none"
            raise click.ClickException(f"{entity} has {len(found)} conversions ({names}): "
                                       "name one with --name")
        name = found[0].name
    who = Actor(int(row.id), username, tuple(row.roles or ()))
    include = dict.fromkeys(("opportunity",) if no_opportunity else (), False)
    include.update(dict.fromkeys(without, False))
    try:
        done = run_conversion(rs, name, record_id, who, include=include, entity=entity)
    except RecordError as exc:
        refuse(exc)
    click.echo(json.dumps({"ids": done.ids, "lines": done.lines}))
