"""`crm webhooks`: the declared webhooks, the delivery log, redelivery and a test ping."""

from __future__ import annotations

import json

import click
import sqlalchemy as sa

from app.cli_errors import friendly
from app.context import Context


@click.group()
def webhooks() -> None:
    """Outbound webhooks declared in workflows/*.yaml and their delivery log."""


@webhooks.command("list")
@click.pass_obj
@friendly
def list_(ctx: Context) -> None:
    """The webhooks of the YAML config, with their events and target."""
    meta = ctx.yaml_meta()
    if not meta.webhooks:
        click.echo("No webhooks declared (workflows/*.yaml, `webhooks:`).")
    for hook in meta.webhooks.values():
        target = hook.url or f"${hook.url_env}"
        signed = f"signed with ${hook.secret_env}" if hook.secret_env else "unsigned"
        state = "" if hook.active else " (inactive)"
        click.echo(f"{hook.name}{state}: {', '.join(hook.events)} -> {target} ({signed})")


@webhooks.command()
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]), default=None)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@friendly
def log(ctx: Context, status: str | None, limit: int, as_json: bool) -> None:
    """Recent deliveries, newest first."""
    from app.model.system_events import webhook_deliveries as t

    stmt = sa.select(t.c.id, t.c.webhook, t.c.event, t.c.record_id, t.c.status, t.c.attempts,
                     t.c.last_status_code, t.c.last_error, t.c.created_at,
                     t.c.next_attempt_at).order_by(t.c.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(t.c.status == status)
    with ctx.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        click.echo("No deliveries.")
    for r in rows:
        code = r["last_status_code"] or "-"
        error = f"  {r['last_error'][:80]}" if r["last_error"] else ""
        click.echo(f"#{r['id']} {r['created_at']:%Y-%m-%d %H:%M:%S} {r['webhook']} "
                   f"{r['event']} record {r['record_id'] or '-'}: {r['status']} "
                   f"({r['attempts']} attempt(s), last {code}){error}")


@webhooks.command()
@click.argument("delivery_id", type=int)
@click.pass_obj
@friendly
def redeliver(ctx: Context, delivery_id: int) -> None:
    """Send a delivery again now (one more attempt) and print the answer."""
    from app.events import outbox
    from app.events.tasks import deliver

    if not outbox.redeliver(ctx.engine, delivery_id):
        raise click.ClickException(f"there is no delivery #{delivery_id}")
    _report(deliver(ctx, delivery_id), delivery_id)


@webhooks.command()
@click.argument("name")
@click.pass_obj
@friendly
def test(ctx: Context, name: str) -> None:
    """Send a `ping` event to the webhook NAME of the live config."""
    from app.events import outbox
    from app.events.tasks import _subs, deliver

    known = _subs(ctx).webhooks
    if name not in known:
        raise click.ClickException(f"the live config has no webhook '{name}' (known: "
                                   f"{', '.join(known) or 'none'}; publish with crm migrate)")
    delivery_id = outbox.new_ping(ctx.engine, name)
    _report(deliver(ctx, delivery_id), delivery_id)


def _report(answer: object, delivery_id: int) -> None:
    from app.events.http import Answer

    if not isinstance(answer, Answer):
        raise click.ClickException(f"delivery #{delivery_id} is busy or not due")
    if answer.ok:
        click.secho(f"Delivery #{delivery_id}: HTTP {answer.status}", fg="green")
    else:
        click.secho(f"Delivery #{delivery_id} failed: {answer.error}", fg="red")
        raise SystemExit(1)
