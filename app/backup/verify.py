"""`crm backup verify`: check an archive without restoring it.

Every member is read: the manifest must be one this code can restore, each table's file must
have the SHA-256, row count and row checksum the manifest gives (and every row its columns and
values that fit them), each attachment's bytes must match the SHA-256 that names it, and
nothing may be missing or extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.backup.columns import decoder
from app.backup.load import (
    TableCheck,
    check_attachment,
    damaged,
    lines,
    member_table,
    members,
    open_archive,
    read_manifest,
)
from app.backup.manifest import ATTACHMENTS_DIR, TABLES_DIR, Manifest
from app.i18n import _


@dataclass(frozen=True)
class VerifyResult:
    path: Path
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


def verify_backup(path: Path) -> VerifyResult:
    """Check the archive at `path`; BackupError naming the first problem found."""
    with open_archive(Path(path)) as tar:
        stream = members(tar)
        manifest = read_manifest(stream)
        seen_tables: set[str] = set()
        seen_files: set[str] = set()
        for member, fh in stream:
            if member.name.startswith(TABLES_DIR):
                entry = member_table(member.name, manifest)
                if entry.name in seen_tables:
                    raise damaged(_("table %(table)s appears twice", table=entry.name))
                seen_tables.add(entry.name)
                check = TableCheck(entry)
                decoders = [decoder(c.type, manifest.dialect) for c in entry.columns]
                for line in lines(fh):
                    row = check.row(line)
                    try:
                        for dec, value in zip(decoders, row, strict=True):
                            dec(value)
                    except (ValueError, TypeError) as exc:
                        raise damaged(_(
                            "row %(n)s of table %(table)s holds a value that does not fit its "
                            "column: %(why)s", n=check.rows.rows, table=entry.name,
                            why=str(exc)[:200])) from None
                check.finish()
            elif member.name.startswith(ATTACHMENTS_DIR):
                key = member.name[len(ATTACHMENTS_DIR):]
                if key in seen_files:
                    raise damaged(_("attachment %(key)s appears twice", key=key[:80]))
                check_attachment(key, fh, manifest, None)
                seen_files.add(key)
            else:
                raise damaged(_("it holds %(name)s, which a CRM backup does not",
                                name=member.name[:200]))
        missing = [t.name for t in manifest.tables if t.name not in seen_tables]
        missing += [k for k in manifest.attachments if k not in seen_files]
        if missing:
            raise damaged(_("it ends before %(what)s", what=", ".join(missing[:5])))
    return VerifyResult(path=Path(path), manifest=manifest)
