"""`crm duplicates`: duplicate detection and merge from the command line, on the live config
version (app/dedupe, docs/duplicates.md).

    crm duplicates find --entity contact [--rule contact_email] [--limit 50] [--as USER] [--json]
    crm duplicates merge --entity contact --survivor 5 --loser 7 [--loser 9]
                         [--take email=7 ...] --as USER [--json]
    crm duplicates dismiss --entity contact 5 7 --as USER

`find` runs as the system unless `--as` names a user; `merge` and `dismiss` always as a user
(whose permissions apply and whose name is in the audit trail). Exit code 2 when refused.
"""

from __future__ import annotations

import json
from typing import Any

import click

from app import dedupe
from app.cli_errors import actor_named, friendly, refuse
from app.context import Context
from app.records import RecordError, Records


def _live(ctx: Context) -> Records:
    from app.cli_privacy import live_records

    return live_records(ctx)






@click.group("duplicates")
def duplicates_group() -> None:
    """Find and merge duplicate records (the rules of workflows/*.yaml `duplicates:`)."""


@duplicates_group.command("find")
@click.option("--entity", required=True, help="the entity (account, contact ...)")
@click.option("--rule", default=None, help="one duplicate rule (default: every rule)")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True,
              help="most groups shown")
@click.option("--as", "username", default=None, help="as this user (their permissions)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_obj
@friendly
def find_command(ctx: Context, entity: str, rule: str | None, limit: int,
                 username: str | None, as_json: bool) -> None:
    """Groups of duplicates of ENTITY."""
    rs = _live(ctx)
    try:
        who = actor_named(ctx, username, system=True)
        groups = dedupe.find(rs, who, entity, rule=rule, limit=limit)
    except RecordError as exc:
        refuse(exc)
    e = rs.entity(entity)
    if as_json:
        click.echo(json.dumps([{"rule": g.rule, "key": [str(k) for k in g.key],
                                "ids": list(g.ids)} for g in groups], ensure_ascii=False))
        return
    if not groups:
        click.echo("No duplicates found.")
        return
    for g in groups:
        click.echo(f"{g.rule}: {' / '.join(str(k) for k in g.key)}")
        for r in g.records:
            title = r.get(e.title) if e.title else None
            click.echo(f"  #{r['id']}  {title if title not in (None, '') else ''}")
    click.echo(f"{len(groups)} group(s).")


def _takes(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit():
            raise click.BadParameter(f"'{pair}' is not FIELD=RECORD_ID", param_hint="--take")
        out[name.strip()] = int(value)
    return out


@duplicates_group.command("merge")
@click.option("--entity", required=True, help="the entity (account, contact ...)")
@click.option("--survivor", type=int, required=True, help="the id of the record that stays")
@click.option("--loser", "losers", type=int, multiple=True, required=True,
              help="the id of a record merged into it (repeat for several)")
@click.option("--take", "takes", multiple=True, metavar="FIELD=ID",
              help="keep FIELD's value of record ID (repeat); other fields keep the "
                   "survivor's value, or the first loser's where the survivor's is empty")
@click.option("--as", "username", required=True, help="the user who merges")
@click.option("--json", "as_json", is_flag=True, help="print what was done as JSON")
@click.pass_obj
@friendly
def merge_command(ctx: Context, entity: str, survivor: int, losers: tuple[int, ...],
                  takes: tuple[str, ...], username: str, as_json: bool) -> None:
    """Merge the --loser records of ENTITY into --survivor."""
    rs = _live(ctx)
    try:
        who = actor_named(ctx, username, system=True)
        done = dedupe.merge(rs, who, entity, survivor, list(losers), choices=_takes(takes))
    except RecordError as exc:
        refuse(exc)
    if as_json:
        click.echo(json.dumps(done.as_dict(), ensure_ascii=False))
        return
    moved = ", ".join(f"{n} {name}" for name, n in sorted(done.moved.items())) or "nothing"
    taken = ", ".join(f"{k} from #{v}" for k, v in sorted(done.taken.items())) or "none"
    click.echo(f"Merged {', '.join(f'#{i}' for i in done.merged)} into {entity} #{survivor}. "
               f"Values taken: {taken}. Moved: {moved}; attachments: {done.attachments}.")


@duplicates_group.command("dismiss")
@click.option("--entity", required=True, help="the entity (account, contact ...)")
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--as", "username", required=True, help="the user who says so")
@click.pass_obj
@friendly
def dismiss_command(ctx: Context, entity: str, ids: tuple[int, ...], username: str) -> None:
    """Mark the records IDS of ENTITY as not duplicates of each other."""
    rs = _live(ctx)
    try:
        made = dedupe.dismiss(rs, actor_named(ctx, username, system=True), entity, list(ids))
    except RecordError as exc:
        refuse(exc)
    click.echo(f"Marked {made} new pair(s) as not duplicates.")
