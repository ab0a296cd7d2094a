"""Files attached to records: the bytes in a content-addressed folder, the facts in
`sys_attachment`.

The bytes of an upload are stored once under `<attachments dir>/<sha256>` (two uploads of the same
file share one copy; a file is written to a temporary name and renamed into place, so a reader
never sees half a file). Each attachment is a `sys_attachment` row naming the record it belongs
to, the original (sanitised) file name, its guessed content type, size and uploader. Removing an
attachment soft-deletes its row; the bytes stay (another row may share them).

Engine level: no Flask. The web layer checks that the record exists before it calls `save`.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from app.fields.special import size_text
from app.i18n import _
from app.model.system import attachments as table
from app.records.errors import NotFound, RecordError

#: the largest attachment accepted, in bytes
MAX_SIZE = 20 * 1024 * 1024
#: how much is read from an upload at a time
CHUNK = 1024 * 1024
KEY = re.compile(r"^[0-9a-f]{64}$")
#: characters a file name may not keep: path separators, control characters and the ones
#: Windows refuses
UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
MAX_NAME = 255


class TooLarge(RecordError):
    """An upload over the size limit: nothing was stored."""

    status = 413


@dataclass(frozen=True)
class Attachment:
    id: int
    entity: str
    record_id: int
    name: str
    content_type: str
    size: int
    key: str
    uploaded_by_id: int | None
    uploaded_at: datetime
    deleted_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Attachment:
        m = row._mapping
        return cls(id=m["id"], entity=m["entity"], record_id=m["record_id"], name=m["name"],
                   content_type=m["content_type"], size=m["size"], key=m["key"],
                   uploaded_by_id=m["uploaded_by_id"], uploaded_at=aware(m["uploaded_at"]),
                   deleted_at=aware(m["deleted_at"]) if m["deleted_at"] else None)


def aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: they are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def safe_name(name: str | None) -> str:
    """A file name fit to store and send back: no folders, control or reserved characters,
    no leading dots, at most 255 characters (keeping the extension); Chinese stays."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = UNSAFE.sub("_", text)
    text = " ".join(text.split()).strip(" .")
    if not text:
        return "file"
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            text = stem[: MAX_NAME - len(ext) - 1] + "." + ext
        else:
            text = text[:MAX_NAME]
    return text


def guess_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


class AttachmentStore:
    """Save, list, open and remove the attachments of records."""

    def __init__(self, engine: sa.Engine, folder: Path, *, max_size: int = MAX_SIZE) -> None:
        self.engine = engine
        self.folder = Path(folder)
        self.max_size = max_size

    # --- bytes -------------------------------------------------------------------------------
    def path(self, key: str) -> Path:
        if not KEY.match(key):
            raise NotFound(_("This file does not exist."))
        return self.folder / key

    def put(self, stream: IO[bytes] | bytes) -> tuple[str, int]:
        """Store bytes (or a stream, read in chunks); returns (sha256 key, size). Refuses more
        than `max_size` bytes without keeping any of them."""
        self.folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _chunks(stream):
                    size += len(chunk)
                    if size > self.max_size:
                        raise TooLarge(_("The file is larger than the limit of %(limit)s.",
                                         limit=size_text(self.max_size)))
                    digest.update(chunk)
                    out.write(chunk)
            key = digest.hexdigest()
            target = self.folder / key
            if target.exists():
                os.unlink(tmp)
            else:
                os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return key, size

    def open_key(self, key: str) -> IO[bytes]:
        path = self.path(key)
        if not path.is_file():
            raise NotFound(_("This file does not exist."))
        return path.open("rb")

    # --- attachments -------------------------------------------------------------------------
    def save(self, entity: str, record_id: int, name: str | None,
             stream: IO[bytes] | bytes, *, user_id: int | None = None) -> Attachment:
        """Attach a file to a record (the caller checked the record exists)."""
        clean = safe_name(name)
        key, size = self.put(stream)
        with self.engine.begin() as conn:
            new_id = conn.execute(table.insert().values(
                entity=entity, record_id=record_id, name=clean, content_type=guess_type(clean),
                size=size, key=key, uploaded_by_id=user_id, uploaded_at=datetime.now(UTC),
            ).returning(table.c.id)).scalar_one()
        return self.get(entity, record_id, int(new_id))

    def list(self, entity: str, record_id: int, *, deleted: bool = False) -> list[Attachment]:
        """A record's attachments, newest first (with the removed ones when `deleted`)."""
        stmt = (sa.select(table).where(table.c.entity == entity, table.c.record_id == record_id)
                .order_by(table.c.uploaded_at.desc(), table.c.id.desc()))
        if not deleted:
            stmt = stmt.where(table.c.deleted_at.is_(None))
        with self.engine.connect() as conn:
            return [Attachment.from_row(r) for r in conn.execute(stmt)]

    def get(self, entity: str, record_id: int, attachment_id: int) -> Attachment:
        """One live attachment of this record; NotFound for another record's or a removed one."""
        stmt = sa.select(table).where(table.c.id == attachment_id, table.c.entity == entity,
                                      table.c.record_id == record_id,
                                      table.c.deleted_at.is_(None))
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound(_("This attachment does not exist or was removed."))
        return Attachment.from_row(row)

    def open(self, attachment: Attachment) -> IO[bytes]:
        return self.open_key(attachment.key)

    def delete(self, entity: str, record_id: int, attachment_id: int) -> Attachment:
        """Remove an attachment (its row is kept, marked deleted; the bytes stay)."""
        found = self.get(entity, record_id, attachment_id)
        with self.engine.begin() as conn:
            conn.execute(table.update().where(table.c.id == found.id)
                         .values(deleted_at=datetime.now(UTC)))
        return found

    def count(self, entity: str, record_ids: Iterable[int]) -> dict[int, int]:
        """record id -> number of live attachments."""
        ids = sorted(set(record_ids))
        if not ids:
            return {}
        stmt = (sa.select(table.c.record_id, sa.func.count())
                .where(table.c.entity == entity, table.c.record_id.in_(ids),
                       table.c.deleted_at.is_(None)).group_by(table.c.record_id))
        with self.engine.connect() as conn:
            return {int(r[0]): int(r[1]) for r in conn.execute(stmt)}


def _chunks(stream: IO[bytes] | bytes) -> Iterable[bytes]:
    if isinstance(stream, bytes | bytearray | memoryview):
        data = bytes(stream)
        for start in range(0, len(data), CHUNK):
            yield data[start:start + CHUNK]
        return
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        yield chunk
