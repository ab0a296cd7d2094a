"""Test kit for backups: a deployment of the default pack holding a bit of everything a backup
must carry, and an exact comparison of two databases, table by table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.context import Context
from app.demo import load_demo
from app.migrate.apply import Applier
from app.migrate.publish import active_version, publish
from app.model.build import build_models
from app.notify.service import Notice, notify
from app.records import Actor, Records
from app.records.attachments import AttachmentStore
from app.settings import load_settings
from tests.webkit import deployment, user_id

#: a field of the default pack removed from the YAML: hidden, its column and values kept
HIDDEN = ("contact", "department")
#: a hidden lookup (to its own entity): its column keeps its foreign key
HIDDEN_LOOKUP = ("contact", "reports_to")
#: an entity removed from the YAML: its table is kept with its rows
HIDDEN_ENTITY = "note"
ATTACHMENT = b"%PDF-1.4 quote for Acme \xe6\x8a\xa5\xe4\xbb\xb7\n" * 50
KEY = "B" * 43 + "="  # a Fernet key for encrypted fields (contact.id_number)


def full_deployment(folder: Path, database_url: str) -> Context:
    """The default pack with demo data (smallest scale), two config versions with their YAML
    files (the second hides two fields that hold data and an entity), an edited record (audit
    rows), a notification, an attachment, an encrypted value and a purge's backup copy."""
    deployment(folder, database_url).dispose()
    ctx = context(folder, database_url)
    admin = user_id(ctx, "admin")
    with ctx.engine.begin() as conn:
        _, meta = active_version(conn)
        assert meta is not None
        models = build_models(meta, orm_classes=False)
        load_demo(conn, meta, models.tables, scale=1, owner_id=admin, formulas=models.formulas)
        conn.execute(models.table("contact").update().where(
            models.table("contact").c.id == 2).values(reports_to_id=1))
    contact = folder / "schemas" / "contact.yaml"
    text = contact.read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines()
                     if not line.startswith(("  department:", "  reports_to:")))
    contact.write_text(text.replace(", department, reports_to,", ",") + "\n", encoding="utf-8")
    (folder / "schemas" / f"{HIDDEN_ENTITY}.yaml").unlink()  # its table and rows are kept
    files = ctx.yaml_files()
    publish(ctx.engine, ctx.yaml_meta(files), author="admin", message="hide two fields",
            files=files)
    live = live_records(ctx)
    actor = Actor(admin, "admin", ("admin",))
    account = live.create("account", {"name": "Acme 上海"}, actor)
    live.update("account", account["id"], {"name": "Acme 上海 Ltd"}, actor,
                version=account["version"])
    live.create("contact", {"last_name": "王", "account": account["id"],
                            "id_number": "110101199003074258"}, actor)
    with ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [admin], Notice(
            kind="test.notice", compose=lambda: ("报价已批准", "Quote approved"),
            link=f"/account/{account['id']}", entity="account", record_id=account["id"]))
        Applier(conn, live.meta, live.models).backup("ent_account", ["name"])
    AttachmentStore(ctx.engine, ctx.settings.attachments_dir).save(
        "account", account["id"], "报价单.pdf", ATTACHMENT, user_id=admin)
    return ctx


def live_records(ctx: Context) -> Records:
    with ctx.engine.connect() as conn:
        _, meta = active_version(conn)
    assert meta is not None
    return Records(ctx.engine, build_models(meta), plugins=ctx.plugins)


def context(folder: Path, database_url: str) -> Context:
    """The deployment in `folder` (its config.yaml) on `database_url`, with the key of its
    encrypted fields."""
    return Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret",
        "CRM_ENCRYPTION_KEY": KEY}))


# --- comparing databases -----------------------------------------------------------------------
def _rows(conn: sa.Connection, table: sa.Table) -> list[tuple[Any, ...]]:
    """Every row, every column, sorted by primary key; JSON columns as their stored text (so
    a JSON null and an SQL NULL differ)."""
    cols = [sa.cast(c, sa.Text) if isinstance(c.type, sa.JSON) else c for c in table.c]
    pk = list(table.primary_key.columns) or list(table.c)
    return [tuple(r) for r in conn.execute(sa.select(*cols).order_by(*pk))]


def tables_of(engine: sa.Engine) -> dict[str, sa.Table]:
    md = sa.MetaData()
    md.reflect(engine)
    return dict(md.tables)


def snapshot(engine: sa.Engine) -> dict[str, Any]:
    """Tables -> (columns with types and nullability, index names, rows)."""
    out: dict[str, Any] = {}
    insp = sa.inspect(engine)
    all_indexes = {t: i for (_s, t), i in insp.get_multi_indexes().items()}
    all_fks = {t: f for (_s, t), f in insp.get_multi_foreign_keys().items()}
    with engine.connect() as conn:
        for name, table in sorted(tables_of(engine).items()):
            columns = [(c.name, str(c.type.compile(dialect=engine.dialect)), c.nullable,
                        c.primary_key) for c in table.c]
            indexes = sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                             for i in all_indexes.get(name, []))
            fks = sorted((tuple(f["constrained_columns"]), f["referred_table"],
                          (f.get("options") or {}).get("ondelete"))
                         for f in all_fks.get(name, []))
            out[name] = {"columns": columns, "indexes": indexes, "foreign_keys": fks,
                         "rows": _rows(conn, table)}
    return out


def differences(before: dict[str, Any], after: dict[str, Any]) -> Iterator[str]:
    if set(before) != set(after):
        yield f"tables differ: {sorted(set(before) ^ set(after))}"
    for name in sorted(set(before) & set(after)):
        for part in ("columns", "indexes", "foreign_keys"):
            if before[name][part] != after[name][part]:
                yield f"{name} {part}: {before[name][part]} != {after[name][part]}"
        rows_a, rows_b = before[name]["rows"], after[name]["rows"]
        if rows_a != rows_b:
            first = next((i for i, (a, b) in enumerate(zip(rows_a, rows_b, strict=False))
                          if a != b), min(len(rows_a), len(rows_b)))
            yield (f"{name} rows: {len(rows_a)} != {len(rows_b)}; first difference at {first}: "
                   f"{rows_a[first:first + 1]} != {rows_b[first:first + 1]}")


def folder_bytes(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def portable(snap: dict[str, Any]) -> dict[str, Any]:
    """A snapshot as both databases can agree on it: column names, nullability and keys (not
    the SQL types' spelling), the indexes the CRM names (not those of constraints), foreign
    keys, and rows with times in UTC and JSON documents parsed."""
    import json
    from datetime import UTC, datetime

    def value(v: Any) -> Any:
        if isinstance(v, datetime):
            return (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC)
        if isinstance(v, str) and v[:1] in ('[', '{', '"', 'n'):
            try:
                return json.loads(v)
            except ValueError:
                return v
        return v

    return {name: {
        "columns": [(c[0], c[2], c[3]) for c in t["columns"]],
        "indexes": [i for i in t["indexes"] if i[0].startswith(("ix_", "uq_ent_"))],
        "foreign_keys": t["foreign_keys"],
        "rows": [tuple(value(v) for v in row) for row in t["rows"]],
    } for name, t in snap.items()}


def small_backup(folder: Path, database_url: str) -> tuple[Context, Path]:
    """The small pack (account, contact) with a record and an attachment, backed up."""
    from app.backup import create_backup

    ctx = deployment(folder / "source", database_url, pack="small")
    records = live_records(ctx)
    account = records.create("account", {"name": "Acme 上海"})
    AttachmentStore(ctx.engine, ctx.settings.attachments_dir).save(
        "account", account["id"], "a.txt", ATTACHMENT)
    made = create_backup(ctx.engine, folder / "crm.tar.gz", ctx.settings.attachments_dir)
    return ctx, made.path


def rewrite(archive: Path, target: Path, change: Any) -> Path:
    """A copy of `archive` with its members passed through `change(name, bytes)` (return
    None to leave a member out)."""
    import tarfile

    with tarfile.open(archive, "r:gz") as tar:
        found = [(m.name, tar.extractfile(m).read()) for m in tar]  # type: ignore[union-attr]
    changed = {name: change(name, data) for name, data in found}
    return rewrite_members(target, {k: v for k, v in changed.items() if v is not None})


def reseal(archive: Path, target: Path, change: Any) -> Path:
    """A copy of `archive` changed by `change(manifest dict, members dict)` (in place), with
    the tables' row counts and checksums computed again: a consistent archive as another CRM
    version could have written it."""
    import hashlib
    import json

    from app.backup.columns import ColumnSpec
    from app.backup.manifest import RowDigest

    found: dict[str, bytes] = {}

    def keep(name: str, data: bytes) -> bytes:
        found[name] = data
        return data

    rewrite(archive, target, keep)
    manifest = json.loads(found.pop("manifest.json"))
    change(manifest, found)
    for table in manifest["tables"]:
        data = found[f"tables/{table['name']}.jsonl"]
        digest = RowDigest([ColumnSpec.from_dict(c) for c in table["columns"]])
        for line in data.splitlines():
            digest.add(json.loads(line))
        table.update(rows=digest.rows, checksum=digest.checksum,
                     sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    members = {"manifest.json": json.dumps(manifest).encode(), **found}
    return rewrite_members(target, members)


def rewrite_members(target: Path, members: dict[str, bytes]) -> Path:
    import io
    import tarfile

    with tarfile.open(target, "w:gz") as out:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return target
