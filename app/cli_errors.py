"""Errors users can cause on the command line, turned into messages and exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click
import sqlalchemy as sa

from app.meta.errors import ConfigErrors
from app.migrate.publish import PublishError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CONFIG, EXIT_REFUSED, EXIT_DATABASE = 1, 2, 3


def friendly(fn: F) -> F:
    """Turn the errors users can cause into messages and exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigErrors as exc:
            for err in exc.errors:
                click.secho(str(err), fg="red", err=True)
            click.echo(f"{len(exc.errors)} error(s) in the config.", err=True)
            sys.exit(EXIT_CONFIG)
        except PublishError as exc:
            if exc.plan is not None:
                click.echo(exc.plan.render(), err=True)
            click.secho(f"Refused: {exc}", fg="red", err=True)
            sys.exit(EXIT_REFUSED)
        except sa.exc.OperationalError as exc:
            click.secho(f"Database error: {str(exc.orig).strip()}", fg="red", err=True)
            sys.exit(EXIT_DATABASE)
        except OSError as exc:
            click.secho(f"Cannot use {exc.filename or 'a file'}: {exc.strerror or exc}",
                        fg="red", err=True)
            sys.exit(EXIT_DATABASE)

    return wrapper  # type: ignore[return-value]


def refuse(exc: Any) -> NoReturn:
    """Print why the records service refused (each field's problems under it) and exit 2."""
    click.echo(f"Refused: {exc.message}", err=True)
    for field, problems in (getattr(exc, "errors", None) or {}).items():
        for problem in problems:
            click.echo(f"  {field}: {problem}", err=True)
    sys.exit(EXIT_REFUSED)


def actor_named(ctx: Any, username: str | None, *, system: bool = False) -> Any:
    """The active user `username` as an Actor (ClickException when there is none); with
    `system`, no username means the system."""
    from app.model.system import users
    from app.records import Actor
    from app.records.change import SYSTEM

    if username is None and system:
        return SYSTEM
    with ctx.engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.roles, users.c.active, users.c.locale)
                           .where(users.c.username == username)).first()
    if row is None or not row.active:
        raise click.ClickException(f"there is no active user '{username}'")
    return Actor(int(row.id), str(username), tuple(row.roles or ()), str(row.locale or "en"))
