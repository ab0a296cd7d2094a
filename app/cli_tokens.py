"""`crm token`: API tokens for integrations (create, list, revoke)."""

from __future__ import annotations

import click
import sqlalchemy as sa

from app.cli_errors import friendly
from app.context import Context
from app.model.system import create_system_tables, users
from app.seclog import cli_who
from app.tokens import TokenError, create_token, list_tokens, revoke_token


@click.group()
def token() -> None:
    """API tokens (Authorization: Bearer <token>)."""


@token.command("create")
@click.argument("username")
@click.option("--name", required=True, help="what the token is for, e.g. 'ERP sync'")
@click.option("--read-only", is_flag=True, help="the token may only read")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None,
              help="the token stops working after this many days")
@click.pass_obj
@friendly
def token_create(ctx: Context, username: str, name: str, read_only: bool,
                 expires_days: int | None) -> None:
    """Make a token for USERNAME. It is printed once and stored only as a digest."""
    try:
        with ctx.engine.begin() as conn:
            create_system_tables(conn)
            uid = conn.execute(sa.select(users.c.id).where(users.c.username == username)
                               ).scalar_one_or_none()
            if uid is None:
                raise TokenError(f"There is no user '{username}'.")
            token_id, text = create_token(conn, int(uid), name,
                                          scope="read" if read_only else "write",
                                          expires_days=expires_days, by=cli_who())
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Token {token_id} for {username} ({'read only' if read_only else 'read and write'})"
               ". Copy it now, it is not shown again:", err=True)
    click.echo(text)


@token.command("list")
@click.argument("username", required=False)
@click.pass_obj
@friendly
def token_list(ctx: Context, username: str | None) -> None:
    """Tokens of everyone, or of USERNAME (never their text)."""
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        uid = None
        if username:
            uid = conn.execute(sa.select(users.c.id).where(users.c.username == username)
                               ).scalar_one_or_none()
            if uid is None:
                raise click.ClickException(f"There is no user '{username}'.")
        rows = list_tokens(conn, uid)
    for t in rows:
        state = "revoked" if t["revoked_at"] else "active"
        used = t["last_used_at"].isoformat(timespec="minutes") if t["last_used_at"] else "never"
        click.echo(f"{t['id']:>5}  {t['prefix']}…  {t['username']:<16} {t['scope']:<5} "
                   f"{state:<7} last used {used}  {t['name']}")
    if not rows:
        click.echo("No tokens.")


@token.command("revoke")
@click.argument("token_id", type=int)
@click.pass_obj
@friendly
def token_revoke(ctx: Context, token_id: int) -> None:
    """Revoke token TOKEN_ID: programs using it are refused from now on."""
    try:
        with ctx.engine.begin() as conn:
            revoke_token(conn, token_id, by=cli_who())
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Token {token_id} revoked.")
