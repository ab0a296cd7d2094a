"""Write a backup archive: every table in one consistent snapshot, then the attachments.

The database is read in ONE transaction: on PostgreSQL a REPEATABLE READ, read-only one (every
query sees the same snapshot, and writers are not blocked); on SQLite one read transaction,
which in WAL mode sees the database as it was at its first read while others go on writing (the
`.db` file alone is never copied: in WAL mode recent commits live in the `-wal` file). Rows are
streamed in batches into temporary `.jsonl` files next to the archive, so memory stays flat on
big tables; the archive is then assembled (manifest first) under a temporary name and renamed
into place, readable only by its owner.

The attachment folder is listed after the tables were read: attachment bytes are written
before the row that names them is committed and are never removed, so every file the snapshot
refers to is there.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from app.backup import manifest as manifest_module
from app.backup.columns import SpecError, encoder, read_expression
from app.backup.manifest import (
    ATTACHMENTS_DIR,
    MANIFEST,
    BackupError,
    Manifest,
    RowDigest,
    TableEntry,
    encode_line,
    is_key,
)
from app.backup.schema import describe, next_ids
from app.i18n import _

BATCH = 1000
#: the security log's event of a backup (app/seclog.py)
CREATED = "backup.created"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    manifest: Manifest

    @property
    def tables(self) -> int:
        return len(self.manifest.tables)

    @property
    def rows(self) -> int:
        return self.manifest.rows

    @property
    def attachments(self) -> int:
        return len(self.manifest.attachments)


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yamlcrm")
    except PackageNotFoundError:
        return "unknown"


def backups_dir(instance_dir: Path) -> Path:
    """Where backups go unless told otherwise: instance/backups."""
    return Path(instance_dir) / "backups"


def list_backups(folder: Path) -> list[Path]:
    """The archives in `folder`, newest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob("*.tar.gz") if p.is_file() and not p.is_symlink()]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def default_path(folder: Path, now: datetime | None = None) -> Path:
    """instance/backups/crm-<UTC time>.tar.gz (a suffix when that name is taken)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    path = folder / f"crm-{stamp}.tar.gz"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"crm-{stamp}-{n}.tar.gz"
    return path


@contextmanager
def snapshot(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One read-only transaction that sees one state of the whole database."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                          postgresql_readonly=True)
        with conn.begin() as trans:
            yield conn
            trans.rollback()  # it only read


def select_rows(conn: sa.Connection, entry: TableEntry) -> sa.Select[Any]:
    dialect = conn.dialect.name
    t = sa.table(entry.name, *(sa.column(c.name) for c in entry.columns))
    stmt = sa.select(*(read_expression(t.c[c.name], c.type, dialect) for c in entry.columns))
    pk = entry.primary_key
    return stmt.order_by(*(t.c[c] for c in pk)) if pk else stmt


def read_table(conn: sa.Connection, entry: TableEntry) -> Iterator[list[Any]]:
    """The rows of a table, encoded, streamed in batches."""
    encoders = [encoder(c.type) for c in entry.columns]
    result = conn.execute(select_rows(conn, entry),
                          execution_options={"stream_results": True, "yield_per": BATCH})
    for partition in result.partitions():
        for row in partition:
            try:
                yield [enc(value) for enc, value in zip(encoders, row, strict=True)]
            except (TypeError, ValueError, AttributeError) as exc:
                raise BackupError(_("A value in table %(table)s cannot be read: %(why)s",
                                    table=entry.name, why=str(exc)[:200])) from None


def create_backup(engine: sa.Engine, path: Path, attachments_dir: Path | None, *,
                  who: Any = None) -> BackupResult:
    """Back the database behind `engine` and the files in `attachments_dir` up into the new
    archive `path` (refused when it exists). BackupError on failure; no file is left then.
    The security log records the backup (`backup.created`, by `who`: an `app.seclog.Who`)."""
    path = Path(path)
    if path.exists():
        raise BackupError(_("%(path)s already exists; choose another file name.",
                            path=str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=path.parent, prefix=".backup-"))
    try:
        try:
            manifest, referenced = _dump_tables(engine, work)
        except SpecError as exc:
            raise BackupError(_("The database holds something a backup cannot describe: "
                                "%(why)s", why=str(exc))) from None
        files = _attachment_files(attachments_dir)
        manifest.attachments = {k: p.stat().st_size for k, p in files.items()}
        manifest.missing_attachments = sorted(referenced - set(files))
        partial = work / "archive.partial"
        _write_archive(partial, manifest, work, files)
        _put(partial, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = BackupResult(path=path, size=path.stat().st_size, manifest=manifest)
    _record(engine, result, who)
    return result


def _put(partial: Path, path: Path) -> None:
    """Move the finished archive to `path`, which must still not exist."""
    try:
        os.link(partial, path)  # fails when the name was taken meanwhile
    except FileExistsError:
        raise BackupError(_("%(path)s already exists; choose another file name.",
                            path=str(path))) from None
    except OSError:  # a file system without hard links
        if path.exists():
            raise BackupError(_("%(path)s already exists; choose another file name.",
                                path=str(path))) from None
        os.replace(partial, path)


def _record(engine: sa.Engine, result: BackupResult, who: Any) -> None:
    from app import seclog

    with engine.begin() as conn:
        seclog.record(conn, CREATED, who=who, detail={
            "file": result.path.name, "bytes": result.size, "tables": result.tables,
            "rows": result.rows, "attachments": result.attachments})


def _dump_tables(engine: sa.Engine, work: Path) -> tuple[Manifest, set[str]]:
    """The tables' files and the manifest, and the attachment keys `sys_attachment` names."""
    from app.migrate.publish import active_version
    from app.model.system import attachments

    created = datetime.now(UTC).replace(microsecond=0).isoformat()
    limit = manifest_module.MAX_LINE  # the longest row a restore reads
    with snapshot(engine) as conn:
        live = active_version(conn)
        entries = describe(conn, live)
        next_ids(conn, entries)
        referenced: set[str] = set()
        for entry in entries:
            digest, file_hash = RowDigest(entry.columns), hashlib.sha256()
            names = [c.name for c in entry.columns]
            key_at = names.index("key") if entry.name == attachments.name and "key" in names \
                else None
            with open(work / f"{entry.name}.jsonl", "wb") as fh:
                for row in read_table(conn, entry):
                    if key_at is not None and isinstance(row[key_at], str):
                        referenced.add(row[key_at])
                    digest.add(row)
                    line = encode_line(row)
                    if len(line) > limit:  # a restore would refuse the archive
                        raise BackupError(_(
                            "Row %(n)s of table %(table)s takes %(size)s MB, more than a "
                            "restore reads (%(max)s MB); the backup was not written.",
                            n=digest.rows, table=entry.name, size=len(line) // 2**20,
                            max=limit // 2**20))
                    file_hash.update(line)
                    fh.write(line)
                entry.size = fh.tell()
            entry.rows, entry.checksum, entry.sha256 = (digest.rows, digest.checksum,
                                                        file_hash.hexdigest())
        version, meta = live
        return Manifest(app_version=app_version(), dialect=conn.dialect.name,
                        created_at=created, config_version=version,
                        config_digest=meta.digest if meta else None, tables=entries), referenced


def _attachment_files(folder: Path | None) -> dict[str, Path]:
    if folder is None or not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir())
            if is_key(p.name) and p.is_file() and not p.is_symlink()}


def _tar_info(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class _Hashing(io.RawIOBase):
    """Read a file while hashing it (an attachment's bytes must match its name)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.hash = fh, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.hash.update(data)
        return data


def _write_archive(partial: Path, manifest: Manifest, work: Path,
                   files: dict[str, Path]) -> None:
    now = time.time()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6,
                                                  format=tarfile.PAX_FORMAT) as tar:
        body = manifest.to_json()
        tar.addfile(_tar_info(MANIFEST, len(body), now), io.BytesIO(body))
        for entry in manifest.tables:
            with open(work / f"{entry.name}.jsonl", "rb") as fh:
                tar.addfile(_tar_info(entry.member, entry.size, now), fh)
        for key, source in files.items():
            size = manifest.attachments[key]
            with open(source, "rb") as fh:
                reader = _Hashing(fh)
                tar.addfile(_tar_info(ATTACHMENTS_DIR + key, size, now), reader)
                if reader.hash.hexdigest() != key:
                    raise BackupError(_(
                        "The attachment file %(file)s does not hold the bytes its name says "
                        "(damaged on disk, or changed by hand); the backup was not written.",
                        file=str(source)))
