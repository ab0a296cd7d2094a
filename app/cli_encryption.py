"""`crm encryption`: make a key, check that the key reads the encrypted fields, rotate keys."""

from __future__ import annotations

import sys

import click

from app import crypto
from app.cli_errors import EXIT_REFUSED, friendly
from app.context import Context
from app.migrate.publish import active_version


@click.group()
def encryption() -> None:
    """Encrypted fields: keys, checks and rotation (docs/records.md)."""


@encryption.command("new-key")
def new_key() -> None:
    """Print a new key for CRM_ENCRYPTION_KEY."""
    click.echo(crypto.new_key())


def _keys(ctx: Context) -> crypto.KeyRing:
    return crypto.keys_of(ctx.engine)


@encryption.command("check")
@click.pass_obj
@friendly
def check(ctx: Context) -> None:
    """Say where the key comes from and whether it decrypts a sample value of every encrypted
    field (exit code 2 when one does not)."""
    keys = _keys(ctx)
    try:
        source = keys.source
    except crypto.EncryptionError as exc:
        click.secho(exc.message, fg="red", err=True)
        sys.exit(EXIT_REFUSED)
    if source == crypto.ENV_KEY:
        click.echo(f"Key: {crypto.ENV_KEY}" + (" (with old keys for rotation)"
                                               if ctx.settings.encryption_old_keys else ""))
    elif source:
        click.secho(f"Key: the development key in {source}; set {crypto.ENV_KEY} in "
                    "production", fg="yellow")
    else:
        click.secho(f"Key: none ({crypto.ENV_KEY} is not set and no development key was "
                    "made yet)", fg="yellow")
    with ctx.engine.connect() as conn:
        _, meta = active_version(conn)
        results = crypto.check(conn, meta, keys) if meta is not None else []
    if not results:
        click.echo("No encrypted fields in the live config.")
    failed = False
    for r in results:
        mark = "ok " if r.ok else "BAD"
        click.secho(f"  {mark} {r.field}: {r.values} values; {r.detail}",
                    fg=None if r.ok else "red")
        failed = failed or not r.ok
    if failed:
        sys.exit(EXIT_REFUSED)


@encryption.command("rotate")
@click.pass_obj
@friendly
def rotate(ctx: Context) -> None:
    """Re-encrypt every encrypted value with the first key (CRM_ENCRYPTION_KEY), reading with
    it or any of CRM_ENCRYPTION_OLD_KEYS; all or nothing, in one transaction."""
    keys = _keys(ctx)
    try:
        with ctx.engine.begin() as conn:
            _, meta = active_version(conn)
            done = crypto.rotate(conn, meta, keys) if meta is not None else {}
    except crypto.EncryptionError as exc:
        click.secho(f"Refused: {exc.message} Nothing was changed.", fg="red", err=True)
        sys.exit(EXIT_REFUSED)
    for name, count in done.items():
        click.echo(f"{name}: {count} values re-encrypted")
    click.secho(f"Re-encrypted {sum(done.values())} values with the current key; the old keys "
                f"can now be removed from {crypto.ENV_OLD_KEYS}.", fg="green")
