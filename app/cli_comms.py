"""`crm email send`, `crm reminders run` and `crm followups overdue`: the communication centre
(app/comms) on the command line, on the live config version, as a user."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
import sqlalchemy as sa

from app.cli_errors import actor_named, friendly, refuse
from app.context import Context
from app.model.system import users
from app.records import RecordError


@click.group("email")
def email_group() -> None:
    """Emails sent from the CRM (logged on records with their status)."""


@email_group.command("send")
@click.option("--entity", default=None, help="the entity of the record it is logged on")
@click.option("--id", "record_id", type=int, default=None, help="that record's id")
@click.option("--to", "to", multiple=True, required=True, help="a recipient (repeat for more)")
@click.option("--cc", "cc", multiple=True, help="a copy to (repeat for more)")
@click.option("--subject", required=True)
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="the text of the email (UTF-8; '-' is not accepted)")
@click.option("--attach", "attach", multiple=True, type=int,
              help="an attachment id of the record (repeat for more)")
@click.option("--as", "username", required=True, help="the user who sends it")
@click.pass_obj
@friendly
def send_command(ctx: Context, entity: str | None, record_id: int | None, to: tuple[str, ...],
                 cc: tuple[str, ...], subject: str, body_file: Path, attach: tuple[int, ...],
                 username: str) -> None:
    """Send an email now (through the task queue) and log it on the record."""
    from app.cli_privacy import live_records
    from app.comms.email import OutgoingEmail, send_and_queue

    try:
        body = body_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.BadParameter("the file is not UTF-8 text", param_hint="--body-file") \
            from None
    rs = live_records(ctx)
    who = actor_named(ctx, username)
    out = OutgoingEmail(to=to, cc=cc, subject=subject, body_text=body,
                        attachment_ids=attach, entity=entity, record_id=record_id)
    try:
        sent = send_and_queue(ctx, rs, who, out)
    except RecordError as exc:
        refuse(exc)
        return
    click.echo(json.dumps({"email_ids": list(sent.email_ids), "mail_ids": list(sent.mail_ids),
                           "blocked": dict(sent.blocked)}, ensure_ascii=False))


@click.group("reminders")
def reminders_group() -> None:
    """Follow-up reminders of activities (reminder_at)."""


@reminders_group.command("run")
@click.option("--at", "at", default=None, help="as if it were this time (ISO 8601, UTC)")
@click.pass_obj
@friendly
def run_command(ctx: Context, at: str | None) -> None:
    """Send the reminders whose time has come now (the worker does it every minute)."""
    from app.comms.reminders import run

    now = None
    if at:
        try:
            now = datetime.fromisoformat(at)
        except ValueError:
            raise click.BadParameter(f"'{at}' is not a time like 2026-03-01T09:00",
                                     param_hint="--at") from None
        now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    sent = run(ctx, now)
    names = _user_names(ctx, [int(r.user_id) for r in sent if r.user_id is not None])
    for r in sent:
        who = names.get(int(r.user_id), f"user #{r.user_id}") if r.user_id is not None \
            else "nobody"
        click.echo(f"activity #{r.record_id}: reminded {who} "
                   f"({r.reminder_at:%Y-%m-%d %H:%M} UTC)")
    click.echo(f"{len(sent)} reminder(s) sent.")


@click.group("followups")
def followups_group() -> None:
    """Follow-up activities past their due time."""


@followups_group.command("overdue")
@click.option("--as", "username", required=True, help="whose follow-ups")
@click.option("--team", is_flag=True, help="those of the people who report to them instead")
@click.option("--json", "as_json", is_flag=True, help="print them as JSON")
@click.pass_obj
@friendly
def overdue_command(ctx: Context, username: str, team: bool, as_json: bool) -> None:
    """The user's overdue follow-ups (or their reports'), oldest due first."""
    from app.cli_privacy import live_records
    from app.comms.followups import overdue

    rs = live_records(ctx)
    who = actor_named(ctx, username)
    rs.actor = who
    found = overdue(rs, int(who.id or 0), scope="team" if team else "mine")
    if found.shape is None:
        raise click.ClickException("this config has no activity entity with a status and a "
                                   "due time")
    shape = found.shape
    title = shape.entity.title or "id"
    rows = [{"id": r["id"], "title": r.get(title), "due": _iso(r.get(shape.due.name)),
             "status": r.get(shape.status.name), "user": uid}
            for uid, group in found.groups for r in group]
    if as_json:
        click.echo(json.dumps({"count": found.total, "data": rows}, ensure_ascii=False))
        return
    names = _user_names(ctx, [uid for uid, _ in found.groups if uid is not None])
    for uid, group in found.groups:
        click.echo(f"{names.get(uid, '(nobody)') if uid is not None else '(nobody)'}:")
        for r in group:
            click.echo(f"  #{r['id']} due {_iso(r.get(shape.due.name))} "
                       f"{r.get(shape.status.name)}: {r.get(title)}")
    click.echo(f"{found.total} overdue.")


def _user_names(ctx: Context, ids: list[int]) -> dict[int, str]:
    """User id -> "Full Name (username)"."""


    if not ids:
        return {}
    with ctx.engine.connect() as conn:
        found = conn.execute(sa.select(users.c.id, users.c.username, users.c.full_name)
                             .where(users.c.id.in_(ids))).all()
    return {int(u.id): f"{u.full_name} ({u.username})" if u.full_name else str(u.username)
            for u in found}


def _iso(value: object) -> str | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return None if value is None else str(value)
