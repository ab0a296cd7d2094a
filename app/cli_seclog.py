"""`crm security-log`: the security log (`app.seclog`), newest first, with filters."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, timedelta
from typing import Any

import click

from app import seclog
from app.cli_errors import friendly
from app.context import Context

#: control characters (an attacker types the username of a failed sign-in: no terminal escapes)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _day(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date like 2025-01-31",
                                 param_hint=option) from None


def _line(row: dict[str, Any]) -> str:
    at = row["at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if row["at"] else "?"
    target = f"{row['entity'] or ''}#{row['record_id']}" if row["record_id"] is not None \
        else (row["entity"] or "")
    detail = json.dumps(row["detail"], ensure_ascii=False, sort_keys=True) \
        if row["detail"] else ""
    line = (f"{row['id']:>6}  {at}  {row['event']:<16} {row['username'] or '-':<16} "
            f"{row['ip'] or '-':<15} {target:<18} {detail}").rstrip()
    return _CONTROL.sub("?", line)


@click.command("security-log")
@click.option("--event", default=None, help="only this event, e.g. login.failed")
@click.option("--user", default=None, help="only events of this username")
@click.option("--since", default=None, metavar="YYYY-MM-DD", help="from this day on (UTC)")
@click.option("--until", default=None, metavar="YYYY-MM-DD",
              help="up to and including this day (UTC)")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, seclog.MAX_LIMIT),
              help="at most this many events")
@click.option("--json", "as_json", is_flag=True, help="print the events as JSON")
@click.pass_obj
@friendly
def security_log(ctx: Context, event: str | None, user: str | None, since: str | None,
                 until: str | None, limit: int, as_json: bool) -> None:
    """Security events (sign-ins, tokens, user changes, exports, config versions, denials),
    newest first."""
    if event and not seclog.EVENT_CODE.match(event):
        raise click.BadParameter(f"'{event}' is not an event code; the events are: "
                                 + ", ".join(seclog.EVENTS), param_hint="--event")
    start, end = _day(since, "--since"), _day(until, "--until")
    with ctx.engine.connect() as conn:
        rows = seclog.query(conn, event=event, user=user, since=start,
                            until=end + timedelta(days=1) if end else None, limit=limit)
    if as_json:
        click.echo(json.dumps([{**r, "at": r["at"].isoformat() if r["at"] else None}
                               for r in rows], ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(_line(row))
    if not rows:
        click.echo("No security events" + (" match." if event or user or since or until
                                           else "."))

