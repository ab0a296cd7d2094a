"""`crm config ...`: explain how overlays merged, export the live version, show drift, run the
config tests, and regenerate the shipped JSON Schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import sqlalchemy as sa
import yaml

from app.cli_errors import friendly
from app.context import Context
from app.fields import registry
from app.meta import jsonschema
from app.meta.errors import ConfigError, ConfigErrors
from app.meta.snapshot import entity_to_dict, field_to_dict, meta_to_dict
from app.meta.types import Meta, Source
from app.migrate.publish import active_version
from app.model.system import users


def _sources(meta: Meta, key: str) -> tuple[Source, ...]:
    return tuple(meta.provenance.get(key, ()))


def explain_lines(meta: Meta, target: str) -> list[str]:
    """How `entity` or `entity.field` came to be, property by property."""
    entity_name, _, field_name = target.partition(".")
    if entity_name not in meta.entities:
        raise click.UsageError(f"no entity '{entity_name}' (entities: "
                               f"{', '.join(sorted(meta.entities))})")
    e = meta.entities[entity_name]
    lines: list[str] = []
    if not field_name:
        srcs = _sources(meta, e.name)
        lines.append(f"entity {e.name}: defined in {srcs[0] if srcs else '?'}"
                     + "".join(f", changed in {s}" for s in srcs[1:]))
        for key in ("label", "plural", "title", "icon", "permissions", "layout"):
            for i, src in enumerate(_sources(meta, f"{e.name}/{key}")):
                lines.append(f"  {key}: {'set' if i == 0 else 'overridden'} in {src}")
        for f in e:
            srcs = _sources(meta, f"{e.name}.{f.name}")
            origin = f"{srcs[0]}" if srcs else str(f.source)
            more = "".join(f", changed in {s}" for s in srcs[1:])
            lines.append(f"  field {f.name} ({f.type}): from {origin}{more}")
        for name in e.removed_fields:
            srcs = _sources(meta, f"{e.name}.{name}")
            lines.append(f"  field {name}: REMOVED in {srcs[-1] if srcs else '?'} "
                         "(column and data kept until purge)")
        for r in e.rules:
            lines.append(f"  rule {r.name}: {r.source}")
        return lines
    if field_name not in e.fields:
        if field_name in e.removed_fields:
            srcs = _sources(meta, f"{e.name}.{field_name}")
            return [f"{target}: removed in {srcs[-1] if srcs else '?'}; its column and data are "
                    "kept until `crm migrate --purge`"]
        raise click.UsageError(f"entity '{entity_name}' has no field '{field_name}'")
    f = e.fields[field_name]
    srcs = _sources(meta, f"{e.name}.{f.name}")
    lines.append(f"field {target} ({f.type}): from {srcs[0] if srcs else f.source}")
    values = field_to_dict(f)
    flat = {**{k: v for k, v in values.items() if k != "options"}, **values.get("options", {})}
    for key, value in flat.items():
        history = _sources(meta, f"{e.name}.{f.name}/{key}")
        where = f"{history[-1]}" if history else "default or preset"
        earlier = "".join(f" (overrides {s})" for s in reversed(history[:-1]))
        shown = json.dumps(value, ensure_ascii=False, default=str)
        if len(shown) > 70:
            shown = shown[:67] + "..."
        lines.append(f"  {key} = {shown}  <- {where}{earlier}")
    return lines


@click.group()
def config() -> None:
    """Inspect the config: explain overlays, export, diff, JSON Schema."""


@config.command()
@click.argument("target")
@click.pass_obj
def explain(ctx: Context, target: str) -> None:
    """Which file set each property of ENTITY or ENTITY.FIELD."""
    @friendly
    def run() -> None:
        meta = ctx.yaml_meta()
        click.echo("Files merged, in order: " + ", ".join(meta.files))
        for line in explain_lines(meta, target):
            click.echo(line)

    run()


@config.command()
@click.pass_obj
@friendly
def export(ctx: Context) -> None:
    """Print the live config version (from the database) as YAML."""
    with ctx.engine.connect() as conn:
        version, meta = active_version(conn)
    if meta is None:
        click.echo("No config version is live yet: run `crm migrate`.", err=True)
        sys.exit(1)
    click.echo(f"# config version {version}, digest {meta.digest}")
    click.echo(yaml.safe_dump(meta_to_dict(meta), allow_unicode=True, sort_keys=False))


@config.command()
@click.pass_obj
def diff(ctx: Context) -> None:
    """Show where the YAML files and the live version differ (drift). Exit 1 if they do."""
    @friendly
    def run() -> None:
        meta = ctx.yaml_meta()
        with ctx.engine.connect() as conn:
            version, live = active_version(conn)
        if live is None:
            click.echo("No config version is live yet: everything in the YAML is new.")
            sys.exit(1)
        if live.digest == meta.digest:
            click.secho(f"No drift: the YAML matches live version {version}.", fg="green")
            return
        for name in sorted(set(meta.entities) | set(live.entities)):
            a = entity_to_dict(live.entities[name]) if name in live.entities else None
            b = entity_to_dict(meta.entities[name]) if name in meta.entities else None
            if a == b:
                continue
            if a is None or b is None:
                click.echo(f"{name}: {'only in YAML' if a is None else 'only live'}")
                continue
            for key in sorted(set(a["fields"]) | set(b["fields"])):
                fa, fb = a["fields"].get(key), b["fields"].get(key)
                if fa != fb:
                    state = ("added in YAML" if fa is None else "removed in YAML"
                             if fb is None else "changed")
                    click.echo(f"{name}.{key}: {state}")
            for key in ("label", "plural", "title", "rules", "permissions", "layout"):
                if a.get(key) != b.get(key):
                    click.echo(f"{name} {key}: changed")
        sys.exit(1)

    run()


@config.command("jsonschema")
@click.option("--write", is_flag=True, help=f"write {jsonschema.SHIPPED.name} in the package")
def jsonschema_cmd(write: bool) -> None:
    """Print (or write) the JSON Schema editors use to validate entity YAML."""
    # the shipped file lists the built-in types; printed, it adds the deployment's plugin types
    text = jsonschema.render(registry.builtin() if write else registry)
    if write:
        from app.meta import access

        jsonschema.SHIPPED.write_text(text, encoding="utf-8")
        access.SHIPPED.write_text(access.render(), encoding="utf-8")
        click.echo(f"Wrote {jsonschema.SHIPPED} and {access.SHIPPED}")
    else:
        click.echo(text, nl=False)


#: `crm config test` exit codes: a check failed; a check file or the config cannot be used
EXIT_FAILED, EXIT_BROKEN = 1, 2


@config.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--live", is_flag=True, help="test the published version (default: the YAML)")
@click.option("--json", "as_json", is_flag=True, help="print the results as JSON")
@click.pass_obj
@friendly
def test_cmd(ctx: Context, paths: tuple[Path, ...], live: bool, as_json: bool) -> None:
    """Run the config tests (the `config_tests:` folders, or PATHS: folders or files) against
    the YAML config, or with --live against the published version. Exit 1 when a check
    fails, 2 when a check file or the config cannot be used."""
    from app.configtests import load_checks, run_checks

    folders = list(paths) or ctx.settings.config_test_dirs
    checks, errors = load_checks(folders)
    if errors:
        _broken(as_json, errors, "error(s) in the config test files; no check was run.")
    version: int | None = None
    meta: Meta | None
    if live:
        with ctx.engine.connect() as conn:
            version, meta = active_version(conn)
        if meta is None:
            _broken(as_json, [], "No config version is live yet: run `crm migrate`.")
        engine: sa.Engine | None = ctx.engine
    else:
        try:
            meta = ctx.yaml_meta()
        except ConfigErrors as exc:
            _broken(as_json, exc.errors, "error(s) in the config; no check was run.")
        engine = _users_database(ctx) if any(
            c.kind == "approval" and "approvers" in c.spec for c in checks) else None
    assert meta is not None
    results = run_checks(meta, checks, engine)
    failed = sum(not r.passed for r in results)
    what = f"live version {version}" if live else "the YAML config"
    if as_json:
        click.echo(json.dumps({
            "config": "live" if live else "yaml", "version": version, "digest": meta.digest,
            "checks": len(results), "passed": len(results) - failed, "failed": failed,
            "results": [r.as_dict() for r in results], "errors": []},
            ensure_ascii=False, indent=2))
    else:
        shown = ", ".join(_relative(f) for f in folders) or "no folder"
        click.echo(f"Testing {what} (config {meta.digest[:12]}) with {len(results)} check(s) "
                   f"from {shown}")
        for r in results:
            click.secho(f"{'PASS' if r.passed else 'FAIL'}  {r.name}: {r.message}",
                        fg=None if r.passed else "red")
            if not r.passed:
                click.echo(f"      at {r.source}")
            for note in r.notes:
                click.echo(f"      note: {note}")
        summary = f"{len(results)} check(s): {len(results) - failed} passed, {failed} failed."
        click.secho(summary, fg="red" if failed else "green")
    if failed:
        sys.exit(EXIT_FAILED)


def _broken(as_json: bool, errors: list[ConfigError], message: str) -> NoReturn:
    """Say why the checks cannot run and exit 2."""
    if as_json:
        body: dict[str, Any] = {"results": [], "errors": [e.as_dict() for e in errors],
                                "message": message}
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        for err in errors:
            click.secho(str(err), fg="red", err=True)
        click.echo(f"{len(errors)} {message}" if errors else message, err=True)
    sys.exit(EXIT_BROKEN)


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _users_database(ctx: Context) -> sa.Engine | None:
    """The deployment's database when it has users to route approvals to (None: not set up,
    so the approvers of approval checks are skipped with a note)."""
    url = ctx.settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None  # (not made here: a test run must not create a database)
    try:
        with ctx.engine.connect() as conn:
            ready = sa.inspect(conn).has_table(users.name)
    except sa.exc.OperationalError:
        return None
    return ctx.engine if ready else None


from app.cli_designer import add_designer_commands  # noqa: E402  (history, revert, draft ...)

add_designer_commands(config)
