"""Back the whole CRM up into one archive, check an archive, restore one (no Flask).

- `create_backup(engine, path, attachments_dir)`: every table of the database (records of every
  entity with the columns of hidden fields, config versions and their YAML files, users,
  access, audit, approvals, notifications, the security log, every `sys_*` table, purge
  copies) read in one consistent snapshot, and the attachment store's files, into a
  `.tar.gz` (app/backup/manifest.py describes the format);
- `verify_backup(path)`: every checksum of an archive, without restoring it;
- `restore_backup(engine, path, attachments_dir, force=False)`: into an empty database (or
  one emptied first with `force`), in one transaction, checked against the manifest after;
  on SQLite or PostgreSQL, whichever made the archive.

Encrypted fields stay encrypted in the archive: the restored CRM needs the same
CRM_ENCRYPTION_KEY (a restore warns when the key does not read them).
"""

from app.backup.dump import BackupResult, backups_dir, create_backup, default_path, list_backups
from app.backup.load import RestoreResult, peek, restore_backup
from app.backup.manifest import FORMAT_VERSION, BackupError, Manifest
from app.backup.verify import VerifyResult, verify_backup

__all__ = [
    "FORMAT_VERSION",
    "BackupError",
    "BackupResult",
    "Manifest",
    "RestoreResult",
    "VerifyResult",
    "backups_dir",
    "create_backup",
    "default_path",
    "list_backups",
    "peek",
    "restore_backup",
    "verify_backup",
]
