"""Errors users can cause on the command line, turned into messages and exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

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
