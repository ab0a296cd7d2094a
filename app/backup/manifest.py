"""The archive's table of contents (`manifest.json`) and the checksums of its tables.

An archive is a gzip-compressed tar file:

    manifest.json             this file: what is in the archive, and how to check it
    tables/<table>.jsonl      one JSON array per row, in the order of the table's columns
    attachments/<sha256>      the attachment store's files, named by the SHA-256 of their bytes

Each table records its row count, the SHA-256 of its `.jsonl` member, and a checksum of its
rows that does not depend on their order or on the database they were read from (the sum of
the rows' SHA-256 digests over their canonical form, `columns.canonical`), so the restored
database can be checked against the manifest on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.backup.columns import (
    IDENTIFIER,
    ColumnSpec,
    Encoder,
    SpecError,
    canonical,
    identifier,
)

FORMAT = "yamlcrm-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TABLES_DIR = "tables/"
#: the longest line (one row) of a table member a restore reads
MAX_LINE = 64 * 1024 * 1024
ATTACHMENTS_DIR = "attachments/"
#: table kinds: created by the code (system), from the config (entity), or as found (other)
TABLE_KINDS = ("system", "entity", "other")
_MOD = 1 << 128


class BackupError(Exception):
    """A backup, restore or check that cannot go on; the message says why (in the user's
    language). Nothing was changed."""


@dataclass(frozen=True)
class IndexSpec:
    name: str
    columns: tuple[str, ...]
    unique: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "columns": list(self.columns), "unique": self.unique}

    @classmethod
    def from_dict(cls, data: Any) -> IndexSpec:
        if not isinstance(data, Mapping) or not isinstance(data.get("columns"), list) \
                or not data["columns"]:
            raise SpecError(f"bad index {data!r}")
        return cls(name=identifier(data.get("name"), "index"),
                   columns=tuple(identifier(c, "column") for c in data["columns"]),
                   unique=bool(data.get("unique")))


@dataclass
class TableEntry:
    name: str
    kind: str
    columns: list[ColumnSpec]
    indexes: list[IndexSpec] = field(default_factory=list)
    rows: int = 0
    checksum: str = ""
    sha256: str = ""
    size: int = 0
    #: PostgreSQL: the next value its id sequence would give (ids never go back)
    next_id: int | None = None

    @property
    def member(self) -> str:
        return f"{TABLES_DIR}{self.name}.jsonl"

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns if c.primary_key]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "kind": self.kind,
            "columns": [c.to_dict() for c in self.columns],
            "indexes": [i.to_dict() for i in self.indexes],
            "rows": self.rows, "checksum": self.checksum, "sha256": self.sha256,
            "bytes": self.size,
        }
        if self.next_id is not None:
            out["next_id"] = self.next_id
        return out

    @classmethod
    def from_dict(cls, data: Any) -> TableEntry:
        if not isinstance(data, Mapping):
            raise SpecError(f"bad table entry {data!r}")
        kind = data.get("kind")
        if kind not in TABLE_KINDS:
            raise SpecError(f"bad table kind {kind!r}")
        columns = data.get("columns")
        if not isinstance(columns, list) or not columns:
            raise SpecError(f"table {data.get('name')!r} has no columns")
        specs = [ColumnSpec.from_dict(c) for c in columns]
        if len({c.name for c in specs}) != len(specs):
            raise SpecError(f"table {data.get('name')!r} names a column twice")
        indexes = [IndexSpec.from_dict(i) for i in data.get("indexes") or []]
        rows, next_id = data.get("rows"), data.get("next_id")
        if not _count(rows) or (next_id is not None and not _count(next_id)):
            raise SpecError(f"bad row count of table {data.get('name')!r}")
        text = {k: data.get(k) for k in ("checksum", "sha256")}
        if not all(isinstance(v, str) and len(v) <= 64 for v in text.values()):
            raise SpecError(f"bad checksums of table {data.get('name')!r}")
        size = data.get("bytes", 0)
        return cls(name=identifier(data.get("name"), "table"), kind=str(kind), columns=specs,
                   indexes=indexes, rows=int(rows or 0), checksum=str(text["checksum"]),
                   sha256=str(text["sha256"]), size=int(size) if _count(size) else 0,
                   next_id=int(next_id) if next_id is not None else None)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass
class Manifest:
    app_version: str
    dialect: str
    created_at: str
    config_version: int | None
    config_digest: str | None
    tables: list[TableEntry]
    #: attachment key -> size in bytes
    attachments: dict[str, int] = field(default_factory=dict)
    #: keys `sys_attachment` names that were not in the attachment folder
    missing_attachments: list[str] = field(default_factory=list)
    format_version: int = FORMAT_VERSION

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def table(self, name: str) -> TableEntry | None:
        return next((t for t in self.tables if t.name == name), None)

    def to_json(self) -> bytes:
        data = {
            "format": FORMAT, "format_version": self.format_version,
            "app_version": self.app_version, "dialect": self.dialect,
            "created_at": self.created_at,
            "config": {"version": self.config_version, "digest": self.config_digest},
            "tables": [t.to_dict() for t in self.tables],
            "attachments": [{"key": k, "size": s} for k, s in sorted(self.attachments.items())],
            "missing_attachments": sorted(self.missing_attachments),
        }
        return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Parse and check a manifest; BackupError when it is not one this code can restore."""
        from app.i18n import _

        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BackupError(_("The archive's manifest.json is not valid JSON: the file is "
                                "damaged or is not a CRM backup.")) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BackupError(_("This archive is not a CRM backup (its manifest.json does not "
                                "describe one)."))
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise BackupError(_(
                "This backup has format version %(found)s; this CRM reads format version "
                "%(known)s. Restore it with the CRM version that made it (%(app)s).",
                found=str(version)[:20], known=FORMAT_VERSION,
                app=str(data.get("app_version"))[:40]))
        try:
            return cls._parse(data)
        except (SpecError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupError(_("The archive's manifest.json is damaged: %(why)s",
                                why=str(exc)[:300])) from None

    @classmethod
    def _parse(cls, data: dict[str, Any]) -> Manifest:
        dialect = data.get("dialect")
        if dialect not in ("sqlite", "postgresql"):
            raise SpecError(f"unknown database {dialect!r}")
        config = data.get("config") or {}
        if not isinstance(config, Mapping):
            raise SpecError(f"bad config {config!r}"[:200])
        tables = [TableEntry.from_dict(t) for t in data.get("tables") or []]
        if len({t.name for t in tables}) != len(tables):
            raise SpecError("a table is listed twice")
        attachments: dict[str, int] = {}
        for item in data.get("attachments") or []:
            if not isinstance(item, Mapping):
                raise SpecError(f"bad attachment {item!r}"[:200])
            key, size = item.get("key"), item.get("size")
            if not isinstance(key, str) or not is_key(key) or not _count(size):
                raise SpecError(f"bad attachment {item!r}")
            attachments[key] = int(size or 0)  # a count: checked above
        missing = [str(k) for k in data.get("missing_attachments") or [] if is_key(str(k))]
        version = config.get("version")
        return cls(app_version=str(data.get("app_version", "")), dialect=str(dialect),
                   created_at=str(data.get("created_at", "")),
                   config_version=version if isinstance(version, int) else None,
                   config_digest=str(config["digest"]) if config.get("digest") else None,
                   tables=tables, attachments=attachments, missing_attachments=missing)


def is_key(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def is_table_name(name: str) -> bool:
    return bool(IDENTIFIER.match(name))


class RowDigest:
    """Row count and checksum of a table's rows, fed encoded rows one at a time."""

    def __init__(self, columns: Sequence[ColumnSpec]) -> None:
        self.rows = 0
        self._sum = 0
        self._canon: list[tuple[int, Encoder]] = [
            (i, fn) for i, c in enumerate(columns) if (fn := canonical(c.type)) is not None]

    def add(self, row: list[Any]) -> None:
        if self._canon:
            row = list(row)
            for i, fn in self._canon:
                row[i] = fn(row[i])
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.sha256(line.encode("utf-8")).digest()
        self._sum = (self._sum + int.from_bytes(digest[:16], "big")) % _MOD
        self.rows += 1

    @property
    def checksum(self) -> str:
        return f"{self._sum:032x}"


def encode_line(row: list[Any]) -> bytes:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
