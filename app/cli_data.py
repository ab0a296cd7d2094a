"""`crm demo`, `crm user`, `crm setup` and `crm serve`."""

from __future__ import annotations

import secrets
import sys

import click
import sqlalchemy as sa

from app.cli_errors import friendly
from app.context import Context
from app.demo_users import create_demo_users, spread_ownership
from app.migrate.publish import active_version, publish, replay
from app.model.build import build_models
from app.model.system import create_system_tables, users
from app.seclog import cli_who
from app.targets.demo import load_demo_targets
from app.users import UserError, create_user, set_password, set_teams, teams_of


@click.group()
def demo() -> None:
    """Demo data."""


def load_demo_data(ctx: Context, scale: int, seed: int, owner: int | None) -> dict[str, int]:
    from app.demo import load_demo

    with ctx.engine.begin() as conn:
        _, meta = active_version(conn)
        if meta is None:
            raise click.ClickException("no config version is live: run `crm migrate` first")
        models = build_models(meta, orm_classes=False)
        if any(conn.execute(sa.select(models.table(e.name).c.id).limit(1)).first()
               for e in meta):
            raise click.ClickException("the database already holds records; demo data is only "
                                       "loaded into an empty CRM")
        return load_demo(conn, meta, models.tables, seed=seed, scale=scale, owner_id=owner,
                         formulas=models.formulas)


@demo.command("load")
@click.option("--scale", default=1, show_default=True, help="multiply the number of records")
@click.option("--seed", default=42, show_default=True)
@click.pass_obj
@friendly
def demo_load(ctx: Context, scale: int, seed: int) -> None:
    """Insert realistic English and Chinese demo records."""
    counts = load_demo_data(ctx, scale, seed, None)
    click.echo(", ".join(f"{n} {e}" for e, n in counts.items()))


@click.group()
def user() -> None:
    """Users and passwords."""


@user.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="a role (repeatable)")
@click.option("--email", default=None)
@click.option("--password", default=None, help="omit to be asked (not echoed)")
@click.option("--team", "teams", multiple=True, help="a team of the access config (repeatable)")
@click.pass_obj
@friendly
def user_create(ctx: Context, username: str, roles: tuple[str, ...], email: str | None,
                password: str | None, teams: tuple[str, ...]) -> None:
    """Create a user with roles from config.yaml (and teams from the access config)."""
    known = _known_teams(ctx)
    password = password or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with ctx.engine.begin() as conn:
            create_system_tables(conn)
            uid = create_user(conn, username, password, roles, ctx.settings.roles, email=email,
                              by=cli_who())
            set_teams(conn, uid, teams, known, by=cli_who())
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    in_teams = f" in teams {', '.join(teams)}" if teams else ""
    click.echo(f"Created user {username} (id {uid}) with roles {', '.join(roles)}{in_teams}.")


def _known_teams(ctx: Context) -> list[str]:
    access = ctx.yaml_meta().access
    return list(access.teams) if access is not None else []


@user.command("teams")
@click.argument("username")
@click.argument("teams", nargs=-1)
@click.option("--clear", is_flag=True, help="take the user out of every team")
@click.pass_obj
@friendly
def user_teams_cmd(ctx: Context, username: str, teams: tuple[str, ...], clear: bool) -> None:
    """Show a user's teams, or put them in exactly TEAMS (or none with --clear)."""
    from app.model.system import users

    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        uid = conn.execute(sa.select(users.c.id).where(users.c.username == username)
                           ).scalar_one_or_none()
        if uid is None:
            raise click.ClickException(f"There is no user '{username}'.")
        if teams or clear:
            try:
                set_teams(conn, int(uid), teams, _known_teams(ctx), by=cli_who())
            except UserError as exc:
                raise click.ClickException(str(exc)) from None
        now = teams_of(conn, int(uid))
    click.echo(f"{username}: {', '.join(now) if now else '(no team)'}")


@user.command("passwd")
@click.argument("username")
@click.option("--password", default=None, help="omit to be asked (not echoed)")
@click.pass_obj
@friendly
def user_passwd(ctx: Context, username: str, password: str | None) -> None:
    """Set a user's password."""
    password = password or click.prompt("New password", hide_input=True,
                                        confirmation_prompt=True)
    try:
        with ctx.engine.begin() as conn:
            set_password(conn, username, password, by=cli_who())
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Password of {username} changed.")


@click.command()
@click.option("--demo/--no-demo", default=True, help="load demo data into an empty database")
@click.pass_obj
def setup(ctx: Context, demo: bool) -> None:
    """Bring a database up to the YAML config; on first run create an admin and demo data."""
    @friendly
    def run() -> None:
        files = ctx.yaml_files()
        meta = ctx.yaml_meta(files)
        replay(ctx.engine, ctx.settings.migrations_dir)
        result = publish(ctx.engine, meta, author="setup", message="setup",
                         migrations_dir=ctx.settings.writable_migrations_dir, files=files)
        if result.plan.steps:
            click.echo(result.plan.render())
        with ctx.engine.begin() as conn:
            has_user = conn.execute(sa.select(users.c.id).limit(1)).first() is not None
            password = None
            admin_id = None
            if not has_user:
                password = secrets.token_urlsafe(12)
                admin_id = create_user(conn, "admin", password, ["admin"], ctx.settings.roles,
                                       full_name="Administrator", by=cli_who())
        demo_users: list[tuple[str, str]] = []
        if demo and admin_id is not None:
            counts = load_demo_data(ctx, 1, 42, admin_id)
            assert password is not None
            with ctx.engine.begin() as conn:
                demo_users = create_demo_users(conn, meta, ctx.settings.roles, password)
                spread_ownership(conn, meta)
                made = load_demo_targets(conn, meta)  # per demo rep: after the users
            if made or "sales_target" in counts:
                counts["sales_target"] = made
            click.echo("Demo data: " + ", ".join(f"{n} {e}" for e, n in counts.items()))
        if password:
            click.secho(f"Admin login: username 'admin', password '{password}' "
                        "(shown once; change it with `crm user passwd admin`)", fg="yellow")
        if demo_users:
            click.echo("Demo users (same password, one per role, owning part of the demo "
                       "records): " + ", ".join(f"{u} ({r})" for u, r in demo_users))

    run()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes; more than 1 serves with gunicorn")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="threads per gunicorn worker (1: sync workers)")
@click.option("--gunicorn", "use_gunicorn", is_flag=True,
              help="serve with gunicorn even with one worker")
@click.pass_obj
@friendly
def serve(ctx: Context, host: str, port: int, workers: int, threads: int,
          use_gunicorn: bool) -> None:
    """Serve the CRM: werkzeug's development server, or gunicorn with --workers N (see
    docs/deploy.md). Both run the task worker in this process when the queue is sqlite, and
    serve a published config change on the next request."""
    if workers > 1 or use_gunicorn:
        from app.serve_gunicorn import run

        click.echo(f"Serving {ctx.settings.name} on http://{host}:{port}/ with gunicorn "
                   f"({workers} workers, {threads} threads each)")
        status = run(ctx, host, port, workers=workers, threads=threads)
        if status:
            click.secho(f"gunicorn stopped with exit status {status} (its log above says why)",
                        fg="red", err=True)
        sys.exit(status)
    from werkzeug.serving import run_simple

    from app.runtime import Runtime

    runtime = Runtime(ctx)
    runtime.current()  # build the live version's app before the first request
    click.echo(f"Serving {ctx.settings.name} on http://{host}:{port}/")
    from app.tasks.worker import embedded_worker

    with embedded_worker(ctx):  # task worker threads when the queue is sqlite (app/tasks)
        run_simple(host, port, runtime, threaded=True, use_reloader=False, use_debugger=False)
    sys.exit(0)
