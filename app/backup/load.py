"""Restore a backup archive into an empty database, all or nothing.

The archive is read as a stream (manifest first). Everything happens in ONE transaction
(SQLite and PostgreSQL both make tables transactionally; SQLite through the recipe of
app/db.py): the tables are created (system tables from the code, entity and other tables
from the manifest's descriptions), rows are inserted in batches, then indexes and foreign keys
are made (PostgreSQL checks every foreign key when it is added; SQLite loads with foreign keys
off and runs `PRAGMA foreign_key_check`), PostgreSQL id sequences are moved past the largest id
(and past where they stood when the backup was made), the security log's append-only triggers
are installed, and every table is read back and checked against the manifest's row counts and
checksums. Any failure rolls all of it back.

Attachments are written to a folder beside the attachment folder while the archive is read,
checked against their SHA-256 names, and moved into the attachment folder just before the
commit; if the commit fails, the files that were added are removed again.

`force` drops every table of the target database first, in the same transaction (so a restore
that fails leaves the old tables as they were). Files already in the attachment folder are
kept: they are named by their content, so none of them can clash with a restored one (one
whose bytes no longer match its name is replaced by the archive's copy).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from app.backup import manifest as manifest_module
from app.backup.columns import bind_expression, decoder
from app.backup.dump import read_table
from app.backup.manifest import (
    ATTACHMENTS_DIR,
    MANIFEST,
    TABLES_DIR,
    BackupError,
    Manifest,
    RowDigest,
    TableEntry,
    is_key,
    is_table_name,
)
from app.backup.schema import restore_metadata
from app.i18n import _

BATCH = 1000
MAX_MANIFEST = 256 * 1024 * 1024
RESTORED = "backup.restored"


@dataclass
class RestoreResult:
    manifest: Manifest
    #: tables dropped first (--force)
    dropped: list[str] = field(default_factory=list)
    #: system columns the archive has and this code does not (kept as plain columns)
    extra_columns: list[str] = field(default_factory=list)
    #: tables checked by row count only (raw columns restored into the other database)
    counted_only: list[str] = field(default_factory=list)
    #: things the admin must act on (encrypted fields the key does not read)
    warnings: list[str] = field(default_factory=list)

    @property
    def tables(self) -> int:
        return len(self.manifest.tables)

    @property
    def rows(self) -> int:
        return self.manifest.rows

    @property
    def attachments(self) -> int:
        return len(self.manifest.attachments)


def damaged(why: str) -> BackupError:
    return BackupError(_("The archive is damaged or is not a CRM backup: %(why)s", why=why))


@contextmanager
def open_archive(path: Path) -> Iterator[tarfile.TarFile]:
    """The archive as a stream of members; BackupError when it cannot be read."""
    if not Path(path).is_file():
        raise BackupError(_("There is no backup file %(path)s.", path=str(path)))
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            yield tar
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, tarfile.TarError) and \
                exc.filename is not None:
            raise
        raise damaged(str(exc) or type(exc).__name__) from None


def members(tar: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    """Regular-file members with their content (anything else is refused)."""
    for member in tar:
        if not member.isfile():
            raise damaged(_("it holds %(name)s, which is not a plain file",
                            name=member.name[:200]))
        fh = tar.extractfile(member)
        if fh is None:
            raise damaged(member.name[:200])
        yield member, fh


def read_manifest(stream: Iterator[tuple[tarfile.TarInfo, IO[bytes]]]) -> Manifest:
    first = next(stream, None)
    if first is None or first[0].name != MANIFEST:
        raise BackupError(_("This archive is not a CRM backup: it does not start with "
                            "manifest.json."))
    if first[0].size > MAX_MANIFEST:
        raise damaged(_("manifest.json is too large"))
    return Manifest.from_json(first[1].read())


def member_table(name: str, manifest: Manifest) -> TableEntry:
    table = name[len(TABLES_DIR):].removesuffix(".jsonl")
    entry = manifest.table(table) if is_table_name(table) and name.endswith(".jsonl") else None
    if entry is None:
        raise damaged(_("%(name)s is not listed in its manifest", name=name[:200]))
    return entry


def lines(fh: IO[bytes]) -> Iterator[bytes]:
    while True:
        line = fh.readline(manifest_module.MAX_LINE)
        if not line:
            return
        if not line.endswith(b"\n"):
            raise damaged(_("a line does not end where it should"))
        yield line


class TableCheck:
    """Follows one table member: its bytes' SHA-256, row count and checksum."""

    def __init__(self, entry: TableEntry) -> None:
        self.entry = entry
        self.file = hashlib.sha256()
        self.rows = RowDigest(entry.columns)

    def row(self, line: bytes) -> list[Any]:
        self.file.update(line)
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            raise damaged(_("row %(n)s of table %(table)s is not valid JSON",
                            n=self.rows.rows + 1, table=self.entry.name)) from None
        if not isinstance(row, list) or len(row) != len(self.entry.columns):
            raise damaged(_("row %(n)s of table %(table)s does not have its %(count)s columns",
                            n=self.rows.rows + 1, table=self.entry.name,
                            count=len(self.entry.columns)))
        if self.rows.rows >= self.entry.rows:
            raise damaged(_("table %(table)s has more rows than its manifest says",
                            table=self.entry.name))
        self.rows.add(row)
        return row

    def finish(self) -> None:
        e = self.entry
        if self.rows.rows != e.rows:
            raise damaged(_("table %(table)s has %(found)s rows; its manifest says %(expected)s",
                            table=e.name, found=self.rows.rows, expected=e.rows))
        if self.file.hexdigest() != e.sha256 or self.rows.checksum != e.checksum:
            raise damaged(_("the rows of table %(table)s do not match their checksums (they "
                            "changed after the backup was made)", table=e.name))


def check_attachment(key: str, fh: IO[bytes], manifest: Manifest, out: IO[bytes] | None
                     ) -> None:
    """Read one attachment member (copying it to `out`); its bytes must match its name."""
    if not is_key(key) or key not in manifest.attachments:
        raise damaged(_("attachment %(key)s is not listed in its manifest", key=key[:80]))
    digest, size = hashlib.sha256(), 0
    while chunk := fh.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
        if out is not None:
            out.write(chunk)
    if digest.hexdigest() != key or size != manifest.attachments[key]:
        raise damaged(_("attachment %(key)s does not match its checksum", key=key[:80]))


def restore_backup(engine: sa.Engine, path: Path, attachments_dir: Path | None, *,
                   force: bool = False, who: Any = None) -> RestoreResult:
    """Restore the archive at `path` into the (empty) database behind `engine` and its files
    into `attachments_dir`. BackupError when refused or when the archive is damaged or
    foreign; nothing is restored then."""
    staging: Path | None = None
    added: list[Path] = []
    with open_archive(Path(path)) as tar, engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        raw = conn.connection.driver_connection
        if sqlite and raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")  # outside the transaction, as SQLite needs
        try:
            stream = members(tar)
            manifest = read_manifest(stream)
            if manifest.attachments and attachments_dir is not None:
                attachments_dir.parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(dir=attachments_dir.parent,
                                                prefix=".restore-"))
            with conn.begin():
                result = RestoreResult(manifest=manifest)
                result.dropped = _empty(conn, force)
                loader = _Loader(conn, manifest, result)
                for member, fh in stream:
                    if member.name.startswith(TABLES_DIR):
                        loader.load(member_table(member.name, manifest), fh)
                    elif member.name.startswith(ATTACHMENTS_DIR):
                        loader.attachment(member.name[len(ATTACHMENTS_DIR):], fh, staging)
                    else:
                        raise damaged(_("it holds %(name)s, which a CRM backup does not",
                                        name=member.name[:200]))
                loader.finish()
                _record(conn, manifest, who)
                if staging is not None and attachments_dir is not None:
                    added = _move_in(staging, attachments_dir)
        except sa.exc.DBAPIError as exc:
            for file in added:
                file.unlink(missing_ok=True)
            raise BackupError(_("The database refused the restore, so nothing was restored: "
                                "%(why)s", why=str(exc.orig).strip()[:300])) from None
        except BaseException:
            for file in added:
                file.unlink(missing_ok=True)
            raise
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            if sqlite and raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")
    return result


def _empty(conn: sa.Connection, force: bool) -> list[str]:
    names = sorted(sa.inspect(conn).get_table_names())
    if names and not force:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise BackupError(_(
            "The database is not empty (%(count)s tables: %(names)s). Restore into an empty "
            "database, or use --force to DROP every table in it first (their data is lost).",
            count=len(names), names=shown))
    quote = conn.dialect.identifier_preparer.quote
    cascade = " CASCADE" if conn.dialect.name == "postgresql" else ""
    for name in names:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}{cascade}")
    return names


class _Loader:
    """The restore's work on its connection, member by member."""

    def __init__(self, conn: sa.Connection, manifest: Manifest, result: RestoreResult) -> None:
        self.conn, self.manifest, self.result = conn, manifest, result
        self.dialect = conn.dialect.name
        try:
            self.md, self.tables, result.extra_columns = restore_metadata(
                manifest.tables, self.dialect)
        except ValueError as exc:
            raise damaged(str(exc)[:300]) from None
        self.loaded: set[str] = set()
        self.files: set[str] = set()
        pg = self.dialect == "postgresql"
        for table in self._tables():  # foreign keys come after the rows on PostgreSQL
            conn.execute(sa.schema.CreateTable(
                table, include_foreign_key_constraints=[] if pg else None))

    def _tables(self) -> list[sa.Table]:
        """Every table by name: lookups may form cycles (quote <-> contract), and neither
        database needs an order here (PostgreSQL gets its foreign keys after the rows, SQLite
        checks them at the end)."""
        return sorted(self.md.tables.values(), key=lambda t: t.name)

    def load(self, entry: TableEntry, fh: IO[bytes]) -> None:
        if entry.name in self.loaded:
            raise damaged(_("table %(table)s appears twice", table=entry.name))
        self.loaded.add(entry.name)
        check = TableCheck(entry)
        decoders = [decoder(c.type, self.dialect) for c in entry.columns]
        stmt = sa.insert(self.tables[entry.name]).values({
            c.name: bind_expression(f"p{i}", c.type, self.dialect)
            for i, c in enumerate(entry.columns)})
        batch: list[dict[str, Any]] = []
        for line in lines(fh):
            row = check.row(line)
            try:
                batch.append({f"p{i}": dec(v) for i, (dec, v) in
                              enumerate(zip(decoders, row, strict=True))})
            except (ValueError, TypeError) as exc:
                raise damaged(_("row %(n)s of table %(table)s holds a value that does not fit "
                                "its column: %(why)s", n=check.rows.rows, table=entry.name,
                                why=str(exc)[:200])) from None
            if len(batch) >= BATCH:
                self.conn.execute(stmt, batch)
                batch = []
        if batch:
            self.conn.execute(stmt, batch)
        check.finish()

    def attachment(self, key: str, fh: IO[bytes], staging: Path | None) -> None:
        if key in self.files:
            raise damaged(_("attachment %(key)s appears twice", key=key[:80]))
        if staging is None:  # nowhere to put files: still check them
            check_attachment(key, fh, self.manifest, None)
        else:
            with open(staging / (key if is_key(key) else "bad"), "wb") as out:
                check_attachment(key, fh, self.manifest, out)
        self.files.add(key)

    def finish(self) -> None:
        missing = [t.name for t in self.manifest.tables if t.name not in self.loaded]
        missing += [k for k in self.manifest.attachments if k not in self.files]
        if missing:
            raise damaged(_("it ends before %(what)s", what=", ".join(missing[:5])))
        conn = self.conn
        for table in self._tables():
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                conn.execute(sa.schema.CreateIndex(index))
        if self.dialect == "postgresql":
            for table in self._tables():
                for fk in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
                    conn.execute(sa.schema.AddConstraint(fk))
            self._sequences()
        else:
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise damaged(_("%(count)s rows point at records that are not in it (first: "
                                "table %(table)s)", count=len(broken), table=str(broken[0][0])))
        from app.model.system import create_system_tables

        create_system_tables(conn)  # the security log's append-only triggers
        self._verify()
        self._encryption()

    def _sequences(self) -> None:
        conn = self.conn
        quote = conn.dialect.identifier_preparer.quote
        entries = {t.name: t for t in self.manifest.tables}
        for table in self._tables():
            col = table.autoincrement_column
            if col is None:
                continue
            seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": quote(table.name), "c": col.name}).scalar()
            if not seq:
                continue
            top = conn.execute(sa.select(sa.func.max(table.c[col.name]))).scalar() or 0
            entry = entries.get(table.name)
            nxt = max(int(top) + 1, entry.next_id or 1 if entry else 1)
            conn.execute(sa.text("SELECT setval(CAST(:s AS regclass), :v, false)"),
                         {"s": seq, "v": nxt})

    def _verify(self) -> None:
        """Read every table back: its rows must give the manifest's count and checksum."""
        cross = self.manifest.dialect != self.dialect
        for entry in self.manifest.tables:
            digest = RowDigest(entry.columns)
            for row in read_table(self.conn, entry):
                digest.add(row)
            if cross and any(c.type.kind == "raw" for c in entry.columns):
                self.result.counted_only.append(entry.name)
                same = digest.rows == entry.rows
            else:
                same = digest.rows == entry.rows and digest.checksum == entry.checksum
            if not same:
                raise BackupError(_(
                    "After the restore, table %(table)s does not hold what the archive holds "
                    "(%(found)s rows, %(expected)s expected, or different values); nothing was "
                    "restored.", table=entry.name, found=digest.rows, expected=entry.rows))

    def _encryption(self) -> None:
        from app import crypto
        from app.migrate.publish import active_version

        _vid, meta = active_version(self.conn)
        if meta is None:
            return
        for check in crypto.check(self.conn, meta, crypto.keys_of(self.conn.engine)):
            if not check.ok:
                self.result.warnings.append(_(
                    "Encrypted field %(field)s cannot be read here: %(detail)s",
                    field=check.field, detail=check.detail))


def _record(conn: sa.Connection, manifest: Manifest, who: Any) -> None:
    from app import seclog

    seclog.record(conn, RESTORED, who=who, detail={
        "created_at": manifest.created_at, "from": manifest.dialect,
        "config_version": manifest.config_version, "tables": len(manifest.tables),
        "rows": manifest.rows, "attachments": len(manifest.attachments)})


def _intact(path: Path) -> bool:
    """Whether the attachment file `path` holds the bytes its name (their SHA-256) says."""
    if path.is_symlink() or not path.is_file():
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest() == path.name


def _move_in(staging: Path, folder: Path) -> list[Path]:
    """Move the checked files into the attachment folder; the ones that were not there. A
    file of the same name that does not hold its bytes (damaged, or changed by hand) is
    replaced by the archive's copy: the same name must be the same bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    added: list[Path] = []
    try:
        for file in sorted(staging.iterdir()):
            target = folder / file.name
            if target.exists() or target.is_symlink():
                if not _intact(target) and not target.is_dir():
                    os.replace(file, target)  # a good copy: kept even if the restore fails
                continue
            os.replace(file, target)
            added.append(target)
    except OSError:
        for file in added:
            file.unlink(missing_ok=True)
        raise
    return added


def peek(path: Path) -> Manifest:
    """The manifest of the archive at `path` (its first member; the rest is not read)."""
    with open_archive(Path(path)) as tar:
        return read_manifest(members(tar))
