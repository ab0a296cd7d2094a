"""`crm campaign email CAMPAIGN_ID --subject S --body-file F [--dry-run] --as USER`: marketing
email to a campaign's members through the consent gate (app/consent/campaign.py), as that user;
the mails are then sent by the task queue (`crm worker`, or at once with `task_queue:
immediate`). Prints who was (or would be) sent the message and who was left out and why."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from app.cli_errors import actor_named, friendly, refuse
from app.context import Context
from app.records import RecordError


@click.group("campaign")
def campaign_group() -> None:
    """Campaigns: email their members (marketing, with consent)."""


@campaign_group.command("email")
@click.argument("campaign_id", type=int)
@click.option("--subject", required=True, help="the subject of the email")
@click.option("--body-file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="a UTF-8 text file with the text of the email ('-': standard input)")
@click.option("--dry-run", is_flag=True, help="only say who would receive it")
@click.option("--as", "username", required=True, help="the user who sends it")
@click.option("--json", "as_json", is_flag=True, help="print the outcome as JSON")
@click.pass_obj
@friendly
def email_command(ctx: Context, campaign_id: int, subject: str, body_file: Path,
                  dry_run: bool, username: str, as_json: bool) -> None:
    """Email the members of campaign CAMPAIGN_ID who consented to marketing email."""
    from app.cli_privacy import live_records
    from app.consent.campaign import send

    body = sys.stdin.read() if str(body_file) == "-" else body_file.read_text(encoding="utf-8")
    who = actor_named(ctx, username)
    rs = live_records(ctx)
    try:
        done = send(rs, who, campaign_id, subject, body, settings=ctx.settings,
                    dry_run=dry_run)
    except RecordError as exc:
        refuse(exc)
        return
    if done.sent and not dry_run:
        from app.notify import enqueue_pending

        enqueue_pending(ctx)
    if as_json:
        click.echo(json.dumps({
            "dry_run": dry_run,
            "sent": [{"member": r.member_id, "name": r.name, "address": r.address}
                     for r in done.sent],
            "blocked": [{"member": r.member_id, "name": r.name, "address": r.address,
                         "reason": r.reason} for r in done.blocked]}, ensure_ascii=False))
        return
    verb = "Would send" if dry_run else "Sent"
    click.echo(f"{verb}: {len(done.sent)}; blocked: {len(done.blocked)}.")
    for r in done.sent:
        click.echo(f"  {'would send' if dry_run else 'sent'}  {r.name} <{r.address}>")
    for r in done.blocked:
        click.echo(f"  blocked  {r.name}{f' <{r.address}>' if r.address else ''}: {r.reason}")
