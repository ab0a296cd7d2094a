"""`crm document`: documents made from templates (app/documents, docs/documents.md).

    crm document generate NAME --id ID [--as USER] [-o FILE]
    crm document list --entity ENTITY --id ID [--as USER] [--json]

`generate` renders document NAME (quote_pdf) for record ID of its entity on the live config
version, as USER (their permissions; without --as, as the system), stores it as the next
version and prints what was made; `-o` also writes the PDF to FILE. A refusal prints
"Refused: <why>" and exits 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import sqlalchemy as sa

from app.cli_errors import EXIT_REFUSED, friendly
from app.context import Context
from app.i18n import _, get_locale
from app.model.system import users
from app.records import SYSTEM, Actor, RecordError, Records


def _refused(message: str) -> NoReturn:
    click.secho(_("Refused: %(why)s", why=message), fg="red", err=True)
    sys.exit(EXIT_REFUSED)


def _actor(ctx: Context, username: str | None) -> Actor:
    if username is None:
        return Actor(SYSTEM.id, SYSTEM.username, SYSTEM.roles, get_locale())
    with ctx.engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.username, users.c.roles,
                                     users.c.locale, users.c.active)
                           .where(users.c.username == username)).first()
    if row is None or not row.active:
        raise click.ClickException(_("There is no active user '%(name)s'.", name=username))
    return Actor(int(row.id), row.username, tuple(row.roles or ()), row.locale or get_locale())


def _records(ctx: Context, who: Actor) -> Records:
    from app.cli_privacy import live_records

    rs = live_records(ctx)
    return Records(rs.engine, rs.models, plugins=rs.plugins, actor=who)


@click.group("document")
def document_group() -> None:
    """Documents made from templates: quote PDFs (docs/documents.md)."""


@document_group.command("generate")
@click.argument("name")
@click.option("--id", "record_id", type=click.IntRange(1), required=True,
              help="the record to make it for")
@click.option("--as", "username", default=None, help="generate as this user (their "
              "permissions; default: the system)")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the PDF to this file")
@click.pass_obj
@friendly
def generate_command(ctx: Context, name: str, record_id: int, username: str | None,
                     output: Path | None) -> None:
    """Generate document NAME for record --id (the next version, kept as an attachment)."""
    from app.documents import Setup, generate
    from app.records.attachments import AttachmentStore

    who = _actor(ctx, username)
    rs = _records(ctx, who)
    try:
        made = generate(rs, who, name, record_id, Setup.from_settings(ctx.settings))
    except RecordError as exc:
        _refused(exc.message)
    if output is not None:
        from app.documents import document

        store = AttachmentStore(ctx.engine, ctx.settings.attachments_dir)
        found = store.get(document(rs, name).entity, record_id, made.attachment_id)
        with store.open(found) as src:
            output.write_bytes(src.read())
    click.echo(json.dumps({"document": name, "id": record_id, "version": made.version,
                           "attachment_id": made.attachment_id, "filename": made.filename,
                           "size": made.size,
                           "output": str(output) if output is not None else None},
                          ensure_ascii=False))


@document_group.command("list")
@click.option("--entity", required=True, help="the record's entity (quote)")
@click.option("--id", "record_id", type=click.IntRange(1), required=True, help="the record")
@click.option("--as", "username", default=None, help="as this user (default: the system)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_obj
@friendly
def list_command(ctx: Context, entity: str, record_id: int, username: str | None,
                 as_json: bool) -> None:
    """The documents generated for a record, newest first."""
    from app.documents import versions

    who = _actor(ctx, username)
    rs = _records(ctx, who)
    try:
        rs.entity(entity)
        found = versions(rs, entity, record_id)
    except RecordError as exc:
        _refused(exc.message)
    rows: list[dict[str, Any]] = [
        {"document": v.document, "version": v.version, "filename": v.filename, "size": v.size,
         "attachment_id": v.attachment_id, "created_at": v.created_at.isoformat(),
         "created_by": v.created_by, "removed": v.removed} for v in found]
    if as_json:
        click.echo(json.dumps({"data": rows}, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(_("No documents were generated yet."))
        return
    for r in rows:
        gone = f"  ({_('removed')})" if r["removed"] else ""
        click.echo(f"{r['document']} v{r['version']}  {r['filename']}  {r['size']} B  "
                   f"{r['created_at'][:19]}  {r['created_by'] or '-'}  "
                   f"#{r['attachment_id']}{gone}")
