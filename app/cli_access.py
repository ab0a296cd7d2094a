"""`crm access`: why a user can or cannot do something (explain), and what every role may do
on every entity (matrix). See app/access/explain.py and docs/access.md."""

from __future__ import annotations

import json
from pathlib import Path

import click

from app.access.explain import ExplainError, Explanation, Verdict, explain, matrix
from app.cli_errors import friendly
from app.context import Context
from app.i18n import _
from app.meta.access import ACTIONS
from app.meta.errors import ConfigErrors
from app.meta.types import Meta
from app.plugins import PluginError


@click.group("access")
def access() -> None:
    """Access control: explain a user's access, print the role x entity matrix."""


def _sources(ctx: Context) -> tuple[Meta | None, str | None]:
    """The config as the YAML files say (for file names and lines), or why there is none."""
    try:
        return ctx.yaml_meta(), None
    except (ConfigErrors, PluginError, OSError):
        return None, _("The YAML files do not load (run `crm validate`): places are named "
                       "in the live config version.")


def _block(verdict: Verdict, width: int) -> list[str]:
    head = f"  {verdict.subject:<{width}}  {verdict.verdict:<12}"
    if verdict.via:
        head += f" [{verdict.via}]"
    out = [head.rstrip()]
    pad = " " * (width + 4)
    for reason in verdict.reasons:
        out.append(f"{pad}- {reason.text}")
        if reason.origin is not None:
            out.append(f"{pad}    {_('at')} {reason.origin}")
    return out


def render(ex: Explanation) -> list[str]:
    """The explanation as aligned text, one block per action, field and record action."""
    lines = [_("User %(user)s (#%(id)s): roles %(roles)s; teams %(teams)s",
               user=ex.user, id=ex.user_id, roles=", ".join(ex.roles) or "-",
               teams=", ".join(ex.teams) or "-")]
    lines += [f"  ! {note}" for note in ex.notes]
    width = max(len(a) for a in ACTIONS)
    lines.append(_("Actions on %(entity)s:", entity=ex.entity))
    for v in ex.actions:
        lines += _block(v, width)
    if ex.field_verdict is not None:
        lines.append(_("Field %(entity)s.%(field)s:", entity=ex.entity, field=ex.field))
        lines += _block(ex.field_verdict, max(width, len(ex.field_verdict.subject)))
    if ex.record_id is not None:
        lines.append(_("Record %(entity)s #%(id)s (owner: %(owner)s):", entity=ex.entity,
                       id=ex.record_id, owner=ex.record_owner or "-"))
        for v in ex.record:
            lines += _block(v, width)
    return lines


@access.command("explain")
@click.argument("username")
@click.argument("target", metavar="ENTITY[.FIELD]")
@click.argument("record_id", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="print the explanation as JSON")
@click.pass_obj
@friendly
def explain_command(ctx: Context, username: str, target: str, record_id: int | None,
                    as_json: bool) -> None:
    """Why USERNAME may or may not create, read, edit, delete, export and import ENTITY
    (and see or change FIELD, and read, edit or delete record RECORD_ID), naming the role
    and the file and line that grant it."""
    from app.cli_privacy import live_records

    entity, _dot, field_name = target.partition(".")
    sources, problem = _sources(ctx)
    try:
        ex = explain(live_records(ctx), username, entity, field_name or None, record_id,
                     sources=sources, base=Path(ctx.settings.config_file).parent)
    except ExplainError as exc:
        raise click.ClickException(str(exc)) from None
    if problem:
        ex.notes.append(problem)
    if as_json:
        click.echo(json.dumps(ex.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(render(ex)))


@access.command("matrix")
@click.option("--role", "roles", multiple=True, help="only this role (repeat for more)")
@click.option("--from-yaml", is_flag=True, help="the YAML files as they are now, not the live "
              "config version")
@click.option("--json", "as_json", is_flag=True, help="print rows as JSON")
@click.pass_obj
@friendly
def matrix_command(ctx: Context, roles: tuple[str, ...], from_yaml: bool, as_json: bool
                   ) -> None:
    """What a user with only one role may do: role x entity x action -> a scope (none, own,
    team, subordinates, all) or yes / no."""
    if from_yaml:
        meta = ctx.yaml_meta()
    else:
        from app.cli_privacy import live_records

        meta = live_records(ctx).meta
    try:
        rows = matrix(meta, list(roles) or None)
    except ExplainError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2))
        return
    rw = max([len("role"), *(len(r.role) for r in rows)])
    ew = max([len("entity"), *(len(r.entity) for r in rows)])
    aw = {a: max([len(a), *(len(r.values[a]) for r in rows)]) for a in ACTIONS}
    click.echo(f"{'role':<{rw}}  {'entity':<{ew}}  "
               + "  ".join(f"{a:<{aw[a]}}" for a in ACTIONS).rstrip())
    for r in rows:
        click.echo(f"{r.role:<{rw}}  {r.entity:<{ew}}  "
                   + "  ".join(f"{r.values[a]:<{aw[a]}}" for a in ACTIONS).rstrip())
