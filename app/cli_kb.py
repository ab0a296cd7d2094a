"""`crm kb`: the knowledge base from the command line (docs/service.md).

    crm kb search TEXT [--category ID] [--as USER] [--limit N] [--json]
    crm kb categories [--as USER]

`search` lists the published articles matching TEXT, best first (title hits first), as the user
named by `--as` may read them (without it, as the system: every published article). A refusal
prints "Refused: <why>" and exits 2.
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from app.cli_errors import EXIT_REFUSED, friendly
from app.cli_reports import _as, _clean, _live
from app.context import Context
from app.i18n import _
from app.kb import search as kb
from app.records import RecordError


def _refused(message: str) -> NoReturn:
    click.secho(_("Refused: %(why)s", why=message), fg="red", err=True)
    sys.exit(EXIT_REFUSED)


@click.group("kb")
def kb_group() -> None:
    """The knowledge base: search published articles, list categories."""


@kb_group.command("search")
@click.argument("text")
@click.option("--category", type=click.IntRange(1, 2**31 - 1), default=None,
              help="only this category (and its sub-categories)")
@click.option("--as", "username", default=None, help="search as this user (default: system)")
@click.option("--limit", type=click.IntRange(1, kb.MAX_LIMIT), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_obj
@friendly
def search_command(ctx: Context, text: str, category: int | None, username: str | None,
                   limit: int, as_json: bool) -> None:
    """Published articles matching TEXT (every word somewhere), best first."""
    rs = _as(ctx, _live(ctx), username)
    try:
        found = kb.search(rs, text, category=category, limit=limit)
    except RecordError as exc:
        _refused(exc.message)
    if as_json:
        click.echo(json.dumps({"data": [h.as_json() for h in found.hits],
                               "count": found.total}, ensure_ascii=False, indent=2))
        return
    if not found.hits:
        click.echo(_("No article matches."))
        return
    for hit in found.hits:
        where = f" [{_clean(hit.category_name)}]" if hit.category_name else ""
        click.echo(f"#{hit.id} {_clean(hit.title)}{where}")
        if hit.summary:
            click.echo(f"    {_clean(hit.summary)}")
    click.echo(_("%(shown)s of %(total)s article(s).", shown=len(found.hits),
                 total=found.total))


@kb_group.command("categories")
@click.option("--as", "username", default=None, help="as this user (default: system)")
@click.pass_obj
@friendly
def categories_command(ctx: Context, username: str | None) -> None:
    """The category tree, with the number of published articles in each."""
    rs = _as(ctx, _live(ctx), username)
    for node in kb.flatten(kb.category_tree(rs)):
        click.echo(f"{'  ' * node.depth}#{node.id} {_clean(node.name)} ({node.published})")
