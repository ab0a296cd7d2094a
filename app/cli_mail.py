"""`crm mail`: send a test mail through the configured SMTP server, and read the mail log
(`sys_mail`: notification mails and test mails, app/notify)."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click
import sqlalchemy as sa

from app.cli_errors import friendly
from app.context import Context
from app.i18n import _
from app.model.notify import MAIL_STATUSES, SENT, mails

#: control characters (addresses and subjects come from users: no terminal escapes)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@click.group()
def mail() -> None:
    """Notification mails: a test mail and the mail log."""


@mail.command("test")
@click.argument("address")
@click.pass_obj
@friendly
def test_mail(ctx: Context, address: str) -> None:
    """Send one mail to ADDRESS now, through mail_url, and say whether the server took it."""
    from app.fields.text import is_email
    from app.notify import mail as mailer

    if not is_email(address.strip()):
        raise click.BadParameter(_("'%(value)s' is not an email address like "
                                   "name@example.com.", value=address[:80]),
                                 param_hint="ADDRESS")
    settings = ctx.settings
    server = settings.mail_server
    name = settings.name
    mail_id = mailer.new_mail(
        ctx.engine, settings, address.strip(),
        _("Test mail from %(name)s", name=name),
        _("This is a test mail from %(name)s (%(url)s). If you can read it, notification "
          "mails work.", name=name, url=settings.base_url) + "\n")
    if server is None:
        click.secho(_("Not sent: no mail server is configured. Set mail_url in config.yaml "
                      "(or CRM_MAIL_URL), e.g. smtp://mail.example.com:25."), fg="red", err=True)
        sys.exit(1)
    click.echo(_("Sending mail #%(id)s to %(to)s through %(server)s ...", id=mail_id,
                 to=address.strip(), server=server.label))
    outcome = mailer.send_one(ctx.engine, settings, mail_id, force=True, max_attempts=1)
    if outcome is not None and outcome.status == SENT:
        click.secho(_("Sent: the mail server accepted the mail."), fg="green")
        return
    error = outcome.error if outcome is not None else _("another worker is sending it")
    click.secho(_("Not sent: %(error)s", error=error), fg="red", err=True)
    sys.exit(1)


def _line(row: dict[str, Any]) -> str:
    at = f"{row['created_at']:%Y-%m-%d %H:%M:%S}" if row["created_at"] else "?"
    error = f"  {' '.join(str(row['last_error']).split())[:120]}" if row["last_error"] else ""
    tries = _("%(n)s attempt(s)", n=row["attempts"])
    line = (f"#{row['id']} {at} {row['status']:<8} {row['kind']} -> {row['to_address']}: "
            f"{row['subject']} ({tries}){error}")
    return _CONTROL.sub("?", line)


@mail.command("log")
@click.option("--status", type=click.Choice(MAIL_STATUSES), default=None,
              help="only mails with this status")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000),
              help="at most this many mails")
@click.option("--json", "as_json", is_flag=True, help="print the mails as JSON")
@click.pass_obj
@friendly
def log(ctx: Context, status: str | None, limit: int, as_json: bool) -> None:
    """Recent mails, newest first, with their status and the last error."""
    c = mails.c
    stmt = sa.select(c.id, c.created_at, c.status, c.kind, c.to_address, c.to_user_id,
                     c.subject, c.attempts, c.last_error, c.next_attempt_at, c.sent_at,
                     c.notification_id).order_by(c.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(c.status == status)
    with ctx.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    if as_json:
        click.echo(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(_line(row))
    if not rows:
        click.echo(_("No mails."))
