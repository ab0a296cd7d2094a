"""`crm cn-ids check NUMBER...`: check numbers on the command line (exit 1 if one is invalid)."""

from __future__ import annotations

import json
import sys

import click

from .web import result


@click.group("cn-ids")
def cn_ids() -> None:
    """Chinese resident IDs and unified social credit codes (plugin cn_ids)."""


@cn_ids.command("check")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="print the results as JSON")
def check_command(numbers: tuple[str, ...], as_json: bool) -> None:
    """Check each NUMBER as a resident ID and as a unified social credit code."""
    results = [result(n) for n in numbers]
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for found in results:
            kinds = [k for k, c in found["checks"].items() if c["valid"]]
            if kinds:
                born = f", born {found['birth_date']}" if found["birth_date"] else ""
                click.secho(f"{found['value']}: valid {' and '.join(kinds)}{born}", fg="green")
            else:
                click.secho(f"{found['value']}: invalid", fg="red")
                for kind, c in found["checks"].items():
                    click.echo(f"  {kind}: {c['problem']}")
    if not all(found["valid"] for found in results):
        sys.exit(1)
