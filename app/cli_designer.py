"""`crm config ...` for the designer: the version history, the differences between versions,
reverting to a version, and scripting a designer change without the browser (`change`, then
`draft show|preview|apply|discard|remove|rebase`), and purging hidden data. Registered on the
`config` group of app/cli_config.py.

The author of a draft (and of what it publishes) is `--author`, else $USER: the same drafts the
web designer keeps per admin username. Exit codes: 0 done; 1 refused or not applied (a change
that cannot be made, a draft with errors or that would lose data, hidden data not confirmed, an
unknown version); 2 the config changed since the draft began (review it, `draft rebase`,
apply again); 3 the database or a file cannot be used."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from app.cli_errors import friendly
from app.context import Context
from app.designer import history, serialize
from app.designer.changes import ChangeError
from app.designer.drafts import Draft
from app.designer.service import Conflict, Designer, Preview, Refused
from app.migrate.publish import PublishError, active_version
from app.migrate.steps import render_steps

#: not applied (refused, declined, unknown); the config changed since the draft began
EXIT_NOT_APPLIED, EXIT_CONFLICT = 1, 2

author_option = click.option(
    "--author", envvar="USER", default=None,
    help="whose draft; recorded as the version's author (default: $USER)")
#: on `draft`'s sub-commands: given, it wins over `draft --author` and $USER
sub_author_option = click.option("--author", default=None, help="whose draft (default: "
                                 "`draft --author`, else $USER)")
json_option = click.option("--json", "as_json", is_flag=True, help="print JSON")


# --- helpers ---------------------------------------------------------------------------------
def _designer(ctx: Context) -> Designer:
    """The designer of the deployment, running its config checks (config_tests/) on every
    candidate, as the web designer does."""
    return Designer.of(ctx)


def _who(author: str | None) -> str:
    if not author or not author.strip():
        raise click.UsageError("say whose draft this is: --author NAME (or set $USER)")
    return author.strip()


def _root(ctx: Context) -> Path:
    return Path(ctx.settings.config_file).parent


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _fail(message: str, code: int = EXIT_NOT_APPLIED) -> NoReturn:
    click.secho(message, fg="red", err=True)
    sys.exit(code)


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[:width - 3] + "..."


def _difference_lines(differences: list[history.Difference]) -> list[str]:
    marks = {"added": "+", "removed": "-", "changed": "~"}
    lines: list[str] = []
    for d in differences:
        lines.append(f"  {marks.get(d.kind, '?')} {d.where} ({d.kind})")
        for key, old, new in d.details:
            lines.append(f"      {key or 'value'}: {_short(old)} -> {_short(new)}")
    return lines


def _conflict_exit(conflict: Conflict, as_json: bool = False) -> NoReturn:
    if as_json:
        _echo_json({"applied": False, "conflict": serialize.conflict_json(conflict)})
    else:
        click.secho(f"Conflict: {conflict}.", fg="red", err=True)
        for v in conflict.newer:
            click.echo(f"  published since: version {v.id} by {v.author or '?'}"
                       f"{': ' + v.message if v.message else ''}", err=True)
        for line in _difference_lines(conflict.differences):
            click.echo(line, err=True)
        click.echo("Review it, then `crm config draft rebase` and apply again.", err=True)
    sys.exit(EXIT_CONFLICT)


def _draft_lines(draft: Draft, live: int | None) -> list[str]:
    if not draft.changes:
        return [f"{draft.author} has no draft changes (live version {live})."]
    on = f"version {draft.base_version}" + (
        f", live is {live}" if draft.base_version != live else "")
    lines = [f"Draft of {draft.author}: {len(draft.changes)} change(s) on {on}"]
    lines += [f"  {i}. {serialize.change_summary(c)}" for i, c in enumerate(draft.changes, 1)]
    return lines


def _live(ctx: Context) -> int | None:
    with ctx.engine.connect() as conn:
        return active_version(conn)[0]


def _print_preview(preview: Preview, root: Path, *, diffs: bool = True) -> None:
    for line in _draft_lines(preview.draft, preview.live_version):
        click.echo(line)
    if preview.diffs:
        click.echo("Files:")
        for d in preview.diffs:
            click.echo(f"  {d.kind} {serialize.relative(d.path, root)}")
        if diffs:
            for d in preview.diffs:
                click.echo(d.unified.rstrip("\n"))
    if preview.change_error:
        click.secho(f"The changes cannot be made: {preview.change_error}", fg="red")
    for err in preview.errors:
        click.secho(f"  {serialize.relative(err.source.file, root)}:{err.source.line}:"
                    f"{err.source.column}: {err.code} {err.message}", fg="red")
    if preview.plan is not None:
        click.echo(preview.plan.render())
    for step in preview.hides:
        click.secho(f"Hides (data kept until a purge; needs confirming): {step.summary}",
                    fg="yellow")
    if preview.checks:
        failed = preview.failed_checks
        click.secho(f"Config checks: {len(preview.checks) - len(failed)} passed, "
                    f"{len(failed)} failed.", fg="red" if failed else None)
        for check in failed:
            click.secho(f"  FAIL  {getattr(check, 'name', check)}: "
                        f"{getattr(check, 'message', '')}", fg="red")
    if preview.drift:
        click.secho("Edited on disk since the draft's version (not overwritten): "
                    + ", ".join(serialize.relative(p, root) for p in preview.drift),
                    fg="yellow")
    if preview.read_only:
        click.secho(f"Read-only: {preview.read_only}", fg="yellow")
    blockers = [b for b in preview.blockers if preview.conflict is None
                or b != str(preview.conflict)]
    for reason in blockers:
        click.secho(f"Cannot apply: {reason}", fg="red")


def _apply(ctx: Context, designer: Designer, who: str, preview: Preview, *, yes: bool,
           message: str | None, ask: bool, as_json: bool = False) -> None:
    """Apply the author's draft (whose preview was printed): conflicts exit 2, blockers exit
    1; data to hide or failing checks need --yes or a yes at the prompt (`ask`: always ask)."""
    if preview.conflict is not None:
        _conflict_exit(preview.conflict, as_json)
    if preview.blockers:
        if as_json:
            _echo_json({"applied": False, "blockers": preview.blockers})
        _fail("Refused: " + "; ".join(preview.blockers))
    needs = bool(preview.hides or preview.failed_checks)
    if as_json and needs and not yes:
        _echo_json({"applied": False, "needs_confirm": True,
                    "hides": [serialize.step_json(s) for s in preview.hides],
                    "failed_checks": len(preview.failed_checks)})
        _fail("Not applied: it hides data or a config check fails; confirm with --yes.")
    if not yes and (ask or needs):
        what = "Hide the data listed above and apply?" if preview.hides else (
            "Apply despite the failing config checks?" if preview.failed_checks else "Apply?")
        if not click.confirm(what, default=False):
            _fail("Not applied (the draft is kept).")
    try:
        applied = designer.apply(who, confirm=True, message=message)
    except Conflict as exc:
        _conflict_exit(exc, as_json)
    except (Refused, PublishError) as exc:
        plan = getattr(exc, "plan", None)
        if plan is not None:
            click.echo(plan.render(), err=True)
        _fail(f"Refused: {exc}")
    root = _root(ctx)
    if as_json:
        _echo_json({"applied": True, **serialize.applied_json(applied, root)})
        return
    for path in applied.written:
        click.echo(f"Wrote {serialize.relative(path, root)}")
    for path, why in applied.skipped:
        click.secho(f"Not written: {serialize.relative(path, root)}: {why}", fg="yellow")
    click.secho(f"Config version {applied.version} is live.", fg="green")


# --- history ---------------------------------------------------------------------------------
@click.command("history")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--offset", default=0, type=click.IntRange(0, None), help="skip the newest N")
@json_option
@click.pass_obj
@friendly
def history_cmd(ctx: Context, limit: int, offset: int, as_json: bool) -> None:
    """The published config versions, newest first (* marks the live one)."""
    with ctx.engine.connect() as conn:
        live = active_version(conn)[0]
        found = history.versions(conn, limit=limit, offset=offset)
    if as_json:
        _echo_json([serialize.version_json(v, live) for v in found])
        return
    if not found:
        click.echo("No config version is published yet: run `crm migrate`.")
        return
    for v in found:
        when = v.created_at.strftime("%Y-%m-%d %H:%M") if v.created_at else "?"
        files = "" if v.has_files else "  (no files: cannot be restored)"
        note = f"  {v.message}" if v.message else ""
        click.echo(f"{'*' if v.id == live else ' '} {v.id:>4}  {when}  "
                   f"{v.author or '?'}  {len(v.steps)} step(s){note}{files}")


@click.command("compare")
@click.argument("a", type=click.IntRange(1, None))
@click.argument("b", type=click.IntRange(1, None))
@click.option("--files", "with_files", is_flag=True, help="also the YAML files' unified diffs")
@json_option
@click.pass_obj
@friendly
def compare_cmd(ctx: Context, a: int, b: int, with_files: bool, as_json: bool) -> None:
    """What changed from version A to version B."""
    dirs = ctx.yaml_files().dirs
    with ctx.engine.connect() as conn:
        for v in (a, b):
            if history.version(conn, v) is None:
                _fail(f"There is no config version {v} (see `crm config history`).")
        differences = history.compare(history.snapshot(conn, a), history.snapshot(conn, b))
        files_a, files_b = history.files_of(conn, a, dirs), history.files_of(conn, b, dirs)
    recorded = files_a is not None and files_b is not None
    diffs = history.file_diffs(files_a, files_b, label_a=f"v{a}", label_b=f"v{b}") \
        if files_a is not None and files_b is not None else []
    if as_json:
        root = _root(ctx)
        _echo_json({"from": a, "to": b,
                    "differences": [serialize.difference_json(d) for d in differences],
                    "files_recorded": recorded,
                    "files": [serialize.file_diff_json(d, root) for d in diffs]})
        return
    if not differences:
        click.echo(f"Versions {a} and {b} describe the same config.")
    else:
        click.echo(f"From version {a} to {b}:")
        for line in _difference_lines(differences):
            click.echo(line)
    if with_files:
        if not recorded:
            click.echo("(One of the versions has no recorded YAML files: no file diff.)")
        for d in diffs:
            click.echo(d.unified.rstrip("\n"))


@click.command("revert")
@click.argument("version", type=click.IntRange(1, None))
@click.option("--yes", is_flag=True, help="apply without asking")
@click.option("-m", "--message", default=None, help="recorded with the new version")
@author_option
@click.pass_obj
@friendly
def revert_cmd(ctx: Context, version: int, yes: bool, message: str | None,
               author: str | None) -> None:
    """Bring back VERSION's config as a new version: prints what it does (the files, the plan),
    then applies it with --yes or after you confirm. Fields it removes are hidden with their
    data kept; reverting forward again brings the values back. Replaces your draft."""
    who = _who(author)
    designer = _designer(ctx)
    with ctx.engine.connect() as conn:
        if history.version(conn, version) is None:
            _fail(f"There is no config version {version} (see `crm config history`).")
        if history.files_of(conn, version, ctx.yaml_files().dirs) is None:
            _fail(f"Config version {version} has no recorded YAML files (it was published "
                  "before versions kept them): it cannot be restored.")
        live = active_version(conn)[0]
    if version == live:
        _fail(f"Version {version} is the live version already: nothing to revert.")
    mine = designer.draft(who)
    if mine.changes:
        click.secho(f"This replaces the draft of {who} ({len(mine.changes)} change(s)).",
                    fg="yellow")
    # shown before anything is saved: declining keeps the author's draft as it was
    candidate = Draft(who, live, [{"op": "restore", "version": version}])
    preview = designer.preview(who, candidate)
    _print_preview(preview, _root(ctx), diffs=False)
    if preview.blockers:
        _fail("Refused: " + "; ".join(preview.blockers))
    if not yes and not click.confirm(f"Revert to version {version}?", default=False):
        _fail("Not applied.")
    draft = designer.revert_to(who, version)
    if draft.base_version != live:  # published meanwhile: show it, the draft waits
        with ctx.engine.connect() as conn:
            _conflict_exit(designer.conflict(conn, live, draft.base_version))
    _apply(ctx, designer, who, designer.preview(who), yes=True,
           message=message or f"revert to version {version}", ask=False)


# --- scripting a change ----------------------------------------------------------------------
@click.command("change")
@click.argument("change")
@author_option
@json_option
@click.pass_obj
@friendly
def change_cmd(ctx: Context, change: str, author: str | None, as_json: bool) -> None:
    """Add CHANGE (one designer change as JSON, or - to read it from stdin) to your draft, e.g.
    '{"op": "field", "entity": "account", "field": "tier", "definition": {"type": "string"}}'.
    Then `crm config draft preview` and `crm config draft apply`."""
    who = _who(author)
    text = sys.stdin.read() if change == "-" else change
    try:
        data = json.loads(text)
    except ValueError as exc:
        _fail(f"The change is not JSON: {exc}")
    if not isinstance(data, dict) or not isinstance(data.get("op"), str):
        _fail('The change must be a JSON object with its "op", e.g. {"op": "remove_field", '
              '"entity": "account", "field": "fax"}.')
    designer = _designer(ctx)
    try:
        draft = designer.add(who, data)
    except ChangeError as exc:
        _fail(f"The change could not be made: {exc}")
    if as_json:
        _echo_json(serialize.draft_json(draft, _live(ctx)))
        return
    click.echo(f"Added: {serialize.change_summary(data)}.")
    for line in _draft_lines(draft, _live(ctx)):
        click.echo(line)


@click.group("draft", invoke_without_command=True)
@author_option
@click.pass_context
def draft_group(click_ctx: click.Context, author: str | None) -> None:
    """Your draft of designer changes (default: show it)."""
    click_ctx.meta["designer_author"] = author
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(show_cmd)


def _draft_author(author: str | None) -> str:
    """--author given on the sub-command, else on `draft`, else $USER."""
    parent = click.get_current_context().meta.get("designer_author")
    return _who(author or parent)


def _draft_command(name: str) -> Callable[[Callable[..., Any]], click.Command]:
    def wrap(fn: Callable[..., Any]) -> click.Command:
        return draft_group.command(name)(sub_author_option(click.pass_obj(friendly(fn))))
    return wrap


@_draft_command("show")
@json_option
def show_cmd(ctx: Context, author: str | None = None, as_json: bool = False) -> None:
    """The changes in your draft, numbered."""
    draft, live = _designer(ctx).draft(_draft_author(author)), _live(ctx)
    if as_json:
        _echo_json(serialize.draft_json(draft, live))
        return
    for line in _draft_lines(draft, live):
        click.echo(line)


@_draft_command("preview")
@json_option
@click.option("--no-diff", is_flag=True, help="list the changed files without their diffs")
def preview_cmd(ctx: Context, author: str | None, as_json: bool, no_diff: bool) -> None:
    """What applying your draft does: YAML diffs, errors, the plan, checks. Exit 0 when it can
    be applied, 1 when it cannot, 2 when the config changed since it began."""
    preview = _designer(ctx).preview(_draft_author(author))
    if as_json:
        _echo_json(serialize.preview_json(preview, _root(ctx)))
    else:
        _print_preview(preview, _root(ctx), diffs=not no_diff)
        if not preview.blockers:
            click.secho("Ready to apply: `crm config draft apply`"
                        + (" (needs --yes: it hides data or a check fails)."
                           if preview.hides or preview.failed_checks else "."), fg="green")
    if preview.conflict is not None:
        if not as_json:
            _conflict_exit(preview.conflict)
        sys.exit(EXIT_CONFLICT)
    if preview.blockers:
        sys.exit(EXIT_NOT_APPLIED)


@_draft_command("apply")
@click.option("--yes", is_flag=True, help="confirm hiding data or failing checks")
@click.option("-m", "--message", default=None, help="recorded with the new version")
@json_option
def apply_cmd(ctx: Context, author: str | None, yes: bool, message: str | None,
              as_json: bool) -> None:
    """Publish your draft as a new config version (data it would hide needs --yes or your
    confirmation)."""
    who = _draft_author(author)
    designer = _designer(ctx)
    preview = designer.preview(who)
    if not as_json:
        _print_preview(preview, _root(ctx), diffs=False)
    _apply(ctx, designer, who, preview, yes=yes, message=message, ask=False, as_json=as_json)


@_draft_command("discard")
def discard_cmd(ctx: Context, author: str | None) -> None:
    """Throw your draft away."""
    who = _draft_author(author)
    _designer(ctx).discard(who)
    click.echo(f"Discarded the draft of {who}.")


@_draft_command("remove")
@click.argument("number", type=click.IntRange(1, None))
def remove_cmd(ctx: Context, author: str | None, number: int) -> None:
    """Take change NUMBER (as `draft show` lists it) out of your draft."""
    who = _draft_author(author)
    designer = _designer(ctx)
    try:
        draft = designer.remove(who, number - 1)
    except ChangeError:
        _fail(f"The draft of {who} has no change number {number}.")
    for line in _draft_lines(draft, _live(ctx)):
        click.echo(line)


@_draft_command("rebase")
def rebase_cmd(ctx: Context, author: str | None) -> None:
    """Move your draft onto the live version (after reviewing what was published)."""
    who = _draft_author(author)
    draft = _designer(ctx).rebase(who)
    for line in _draft_lines(draft, _live(ctx)):
        click.echo(line)


# --- purge -----------------------------------------------------------------------------------
@click.command("purge")
@click.option("--yes", is_flag=True, help="drop them (a backup copy of each is kept)")
@author_option
@click.pass_obj
@friendly
def purge_cmd(ctx: Context, yes: bool, author: str | None) -> None:
    """List the columns and tables of removed fields and entities (hidden, data kept); drop
    them with --yes."""
    designer = _designer(ctx)
    try:
        plan = designer.purge_plan()
    except Refused as exc:
        _fail(f"Refused: {exc}")
    if not plan.steps:
        click.echo("Nothing is hidden: there is nothing to purge.")
        return
    click.echo(render_steps(plan.steps, plan.base_digest, plan.target_digest))
    if not yes:
        click.echo("Run again with --yes to drop them (a backup copy of each is kept).")
        return
    try:
        applied = designer.purge(_who(author), confirm=True)
    except (Refused, PublishError) as exc:
        _fail(f"Refused: {exc}")
    click.secho(f"Purged: config version {applied.version} is live.", fg="green")


COMMANDS: tuple[click.Command, ...] = (history_cmd, compare_cmd, revert_cmd, change_cmd,
                                       draft_group, purge_cmd)


def add_designer_commands(group: click.Group) -> None:
    """Register the designer's commands on `crm config`."""
    for command in COMMANDS:
        group.add_command(command)
