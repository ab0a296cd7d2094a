"""Encrypted fields (`encrypted: true`): values encrypted at rest with Fernet keys.

Keys come from the environment only (`app.settings`): `CRM_ENCRYPTION_KEY` is the key new values
are encrypted with; `CRM_ENCRYPTION_OLD_KEYS` (comma-separated) are keys that still decrypt, for
rotation (`crm encryption rotate` re-encrypts every value with the first key). Without
`CRM_ENCRYPTION_KEY` a development key is generated once into `instance/encryption.key` (0600)
and used from then on, with a loud warning: data encrypted with a key that died at a restart
would be lost, so a generated key is never thrown away.

A deployment's `KeyRing` is attached to its database engine (`attach`, done by
`app.context.Context.engine`); the records service and the migration applier find it with
`keys_of(engine)`. The records service encrypts in its write path (`seal`) and decrypts in its
SELECTs (`decrypting`: a column typed `EncryptedText`), so every surface reading through it sees
the clear value and the tables hold only ciphertext. A value that does not decrypt raises
`EncryptionError` naming the field: an error page, never a traceback.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.i18n import _, get_locale
from app.meta.types import EntityDef, FieldDef, Meta, label_text
from app.records.errors import RecordError

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)

#: what the audit trail holds instead of an encrypted field's values
MASK = "•••"
#: the field types `encrypted: true` applies to (text kept as a string)
ENCRYPTABLE: frozenset[str] = frozenset({"string", "text", "email", "phone"})
#: the only filters an encrypted field offers
ENCRYPTED_OPS: tuple[str, ...] = ("empty", "not_empty")
KEY_FILE = "encryption.key"
ENV_KEY = "CRM_ENCRYPTION_KEY"
ENV_OLD_KEYS = "CRM_ENCRYPTION_OLD_KEYS"
BATCH = 500
_WARNED: set[str] = set()


class EncryptionError(RecordError):
    """An encrypted value that cannot be read or written (wrong or missing key). The server
    is misconfigured, not the request: 503 with a sentence naming the field."""

    status = 503


def new_key() -> str:
    """A fresh Fernet key (what CRM_ENCRYPTION_KEY holds)."""
    return Fernet.generate_key().decode("ascii")


class KeyRing:
    """The keys of one deployment: the first encrypts, all decrypt. Loaded on first use."""

    def __init__(self, primary: str | None = None, old: Sequence[str] = (),
                 key_file: Path | None = None) -> None:
        self._primary = primary
        self._old = tuple(old)
        self.key_file = key_file
        self._fernet: MultiFernet | None = None
        self._source: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        return cls(settings.encryption_key, settings.encryption_old_keys,
                   settings.instance_dir / KEY_FILE)

    @property
    def source(self) -> str | None:
        """Where the key comes from: the environment, the generated file, or None (no key)."""
        self._load(create=False)
        return self._source

    @property
    def generated(self) -> bool:
        return self.source is not None and self.source != ENV_KEY

    def _load(self, create: bool) -> MultiFernet | None:
        if self._fernet is not None:
            return self._fernet
        with self._lock:
            if self._fernet is not None:
                return self._fernet
            keys: list[str] = []
            if self._primary:
                keys, self._source = [self._primary, *self._old], ENV_KEY
            elif self.key_file is not None:
                text = self._read_or_make(self.key_file, create)
                if text:
                    keys, self._source = [text, *self._old], str(self.key_file)
            if not keys:
                return None
            fernets = []
            for i, key in enumerate(keys):
                try:
                    fernets.append(Fernet(key.encode("ascii")))
                except (ValueError, UnicodeEncodeError):
                    where = (self._source if i == 0 else f"{ENV_OLD_KEYS} (key {i})") or ""
                    raise EncryptionError(_(
                        "The encryption key in %(where)s is not a valid Fernet key (44 "
                        "characters of URL-safe base64); make one with `crm encryption "
                        "new-key`.", where=where)) from None
            self._fernet = MultiFernet(fernets)
            return self._fernet

    @staticmethod
    def _read_or_make(path: Path, create: bool) -> str | None:
        if not path.exists():
            if not create:
                return None
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first: use theirs
                pass
            else:
                with os.fdopen(fd, "w", encoding="ascii") as out:
                    out.write(new_key() + "\n")
        text = path.read_text(encoding="ascii").strip()
        if str(path) not in _WARNED:
            _WARNED.add(str(path))
            log.warning(
                "%s is not set: encrypted fields use the development key in %s. Keep that "
                "file (data encrypted with it is unreadable without it) and set %s in "
                "production.", ENV_KEY, path, ENV_KEY)
        return text or None

    def _need(self, create: bool, where: str) -> MultiFernet:
        fernet = self._load(create)
        if fernet is None:
            raise EncryptionError(_(
                "%(field)s is encrypted, but no encryption key is set: set %(env)s.",
                field=where, env=ENV_KEY))
        return fernet

    def encrypt(self, text: str, where: str = "") -> str:
        return self._need(True, where).encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, where: str = "") -> str:
        fernet = self._need(False, where)
        try:
            return fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise EncryptionError(_(
                "%(field)s cannot be decrypted: the encryption key (%(env)s) is not the one it "
                "was encrypted with. Set that key, or list it in %(old)s.",
                field=where, env=ENV_KEY, old=ENV_OLD_KEYS)) from None

    def rotate(self, token: str, where: str = "") -> str:
        """The value encrypted again with the first key (decrypted with any)."""
        fernet = self._need(False, where)
        try:
            return fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise EncryptionError(_(
                "%(field)s cannot be decrypted with any of the keys in %(env)s and %(old)s.",
                field=where, env=ENV_KEY, old=ENV_OLD_KEYS)) from None


#: the key ring of an engine that has none attached: every use says no key is set
NO_KEYS = KeyRing()
_BY_ENGINE: weakref.WeakKeyDictionary[sa.Engine, KeyRing] = weakref.WeakKeyDictionary()


def _root(engine: sa.Engine) -> sa.Engine:
    while True:  # engine.execution_options() makes a proxy of the deployment's engine
        inner = getattr(engine, "_proxied", None)
        if not isinstance(inner, sa.Engine):
            return engine
        engine = inner


def attach(engine: sa.Engine, keys: KeyRing) -> sa.Engine:
    """Make `keys` the key ring of everything using `engine` (records service, migrations)."""
    _BY_ENGINE[_root(engine)] = keys
    return engine


def keys_of(engine: sa.Engine) -> KeyRing:
    return _BY_ENGINE.get(_root(engine), NO_KEYS)


# --- metadata -----------------------------------------------------------------------------
def encrypted_fields(entity: EntityDef) -> list[FieldDef]:
    return [f for f in entity if f.encrypted]


def where_of(entity: str, f: FieldDef) -> str:
    """How an error names a field: its label in the user's language and `entity.field`."""
    return f"{f.label_for(get_locale())} ({entity}.{f.name})"


def masked(value: Any) -> Any:
    """What the audit trail keeps of an encrypted value: the marker, or None for none."""
    return None if value is None else MASK


# --- reading and writing ------------------------------------------------------------------
class EncryptedText(sa.types.TypeDecorator[str]):
    """A Text column holding Fernet tokens, seen as the clear text in SELECTs (the records
    service applies it with `decrypting`; the table's own column stays plain Text)."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, keys: KeyRing, entity: str, field: str,
                 labels: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__()
        self.keys, self.entity, self.field, self.labels = keys, entity, field, labels

    def _where(self) -> str:
        label = label_text(dict(self.labels), get_locale(), self.field)
        return f"{label} ({self.entity}.{self.field})"

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, str):
            return self.keys.encrypt(value, self._where())
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, str):
            return self.keys.decrypt(value, self._where())
        return value


def decrypting(column: sa.ColumnElement[Any], keys: KeyRing, entity: str, f: FieldDef
               ) -> sa.ColumnElement[Any]:
    """`column` read as clear text (a SELECT's column for an encrypted field)."""
    labels = tuple(sorted((str(k), str(v)) for k, v in f.label.items()))
    return sa.type_coerce(column, EncryptedText(keys, entity, f.name, labels))


def seal(entity: EntityDef, columns: Mapping[str, str], row: MutableMapping[str, Any],
         keys: KeyRing) -> None:
    """Encrypt, in place, the values of encrypted fields in `row` (column -> value)."""
    for f in encrypted_fields(entity):
        col = columns.get(f.name)
        if col is not None and isinstance(row.get(col), str):
            row[col] = keys.encrypt(row[col], where_of(entity.name, f))


def _batches(conn: sa.Connection, table: str, col: str) -> Iterator[list[tuple[int, str]]]:
    t = sa.table(table, sa.column("id"), sa.column(col))
    last = 0
    while True:
        chunk = [(int(i), v) for i, v in conn.execute(
            sa.select(t.c.id, t.c[col]).where(t.c.id > last, t.c[col].is_not(None))
            .order_by(t.c.id).limit(BATCH))]
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


def rewrite_column(conn: sa.Connection, table: str, col: str, how: Any) -> int:
    """Replace every non-null value of `table.col` by `how(row id, value)`; the count."""
    t = sa.table(table, sa.column("id"), sa.column(col))
    done = 0
    for chunk in _batches(conn, table, col):
        conn.execute(t.update().where(t.c.id == sa.bindparam("b_id"))
                     .values({col: sa.bindparam("b_val")}),
                     [{"b_id": rid, "b_val": how(rid, value)} for rid, value in chunk])
        done += len(chunk)
    return done


def encrypt_column(conn: sa.Connection, entity: str, f: FieldDef, col: str, keys: KeyRing
                   ) -> int:
    where = where_of(entity, f)
    return rewrite_column(conn, f"ent_{entity}", col,
                          lambda _rid, value: keys.encrypt(str(value), where))


def decrypt_column(conn: sa.Connection, entity: str, f: FieldDef, col: str, keys: KeyRing
                   ) -> int:
    def one(rid: int, value: Any) -> str:
        try:
            return keys.decrypt(str(value), where_of(entity, f))
        except EncryptionError as exc:
            raise EncryptionError(f"{exc.message} (#{rid})") from None

    return rewrite_column(conn, f"ent_{entity}", col, one)


def rotate(conn: sa.Connection, meta: Meta, keys: KeyRing) -> dict[str, int]:
    """Re-encrypt every encrypted value with the first key: `entity.field` -> values done."""
    out: dict[str, int] = {}
    for e in meta:
        for f in encrypted_fields(e):
            if not _has_table(conn, e.table):
                continue
            where = where_of(e.name, f)
            out[f"{e.name}.{f.name}"] = rewrite_column(
                conn, e.table, f.name, lambda _rid, value, w=where: keys.rotate(str(value), w))
    return out


@dataclass(frozen=True)
class FieldCheck:
    """What `crm encryption check` says about one encrypted field."""

    field: str
    values: int
    ok: bool
    detail: str


def check(conn: sa.Connection, meta: Meta, keys: KeyRing) -> list[FieldCheck]:
    """For each encrypted field: how many values, and whether a sample (its newest value)
    decrypts with the keys."""
    out: list[FieldCheck] = []
    for e in meta:
        for f in encrypted_fields(e):
            name = f"{e.name}.{f.name}"
            if not _has_table(conn, e.table):
                out.append(FieldCheck(name, 0, True, "no table yet"))
                continue
            t = sa.table(e.table, sa.column("id"), sa.column(f.name))
            count = int(conn.execute(sa.select(sa.func.count()).select_from(t)
                                     .where(t.c[f.name].is_not(None))).scalar_one())
            sample = conn.execute(sa.select(t.c.id, t.c[f.name]).where(t.c[f.name].is_not(None))
                                  .order_by(t.c.id.desc()).limit(1)).first()
            if sample is None:
                out.append(FieldCheck(name, 0, True, "no values yet"))
                continue
            try:
                keys.decrypt(str(sample[1]), where_of(e.name, f))
            except EncryptionError as exc:
                out.append(FieldCheck(name, count, False, f"record #{sample[0]}: {exc.message}"))
            else:
                out.append(FieldCheck(name, count, True, f"record #{sample[0]} decrypts"))
    return out


def _has_table(conn: sa.Connection, table: str) -> bool:
    return sa.inspect(conn).has_table(table)
