"""Imports as rows of `sys_import`: creating one, reading one (only its creator and
administrators may), the history, status changes that cannot race, progress, and the
errors and duplicates kept for it (also as a CSV report)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.crypto import KeyRing
from app.i18n import _
from app.imports.options import ImportOptions
from app.model.imports import (
    DUPLICATE,
    ERROR,
    UPLOADED,
    import_errors,
    import_rows,
    imports,
)
from app.model.system import users
from app.records.change import Actor
from app.records.errors import NotFound

#: the columns of the error report (CSV)
REPORT_COLUMNS = ("kind", "row", "column", "message", "value")
#: the key of a tag's `before` listing its encrypted values (see `seal_before`)
SEALED = "__sealed__"


@dataclass
class ImportJob:
    """One import, as `sys_import` holds it."""

    row: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.row[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def options_obj(self) -> ImportOptions:
        return ImportOptions.from_json(self.row["options"])

    @property
    def columns(self) -> list[str]:
        return list((self.row["mapping"] or {}).get("columns") or [])

    @property
    def fields(self) -> dict[str, str | None]:
        return dict((self.row["mapping"] or {}).get("fields") or {})

    @property
    def samples(self) -> list[list[Any]]:
        return list((self.row["mapping"] or {}).get("samples") or [])

    @property
    def percent(self) -> int:
        total = int(self.row["total"] or 0)
        if self.row["status"] in ("done", "validated", "undone"):
            return 100
        return min(99, int(100 * int(self.row["processed"] or 0) / total)) if total else 0

    @property
    def written(self) -> bool:
        """Whether a run wrote records (so it can be undone and not run again)."""
        return self.row["mode"] == "run" and self.row["status"] in ("done", "failed") \
            and bool(self.row["created"] or self.row["updated"])

    def status_json(self) -> dict[str, Any]:
        keys = ("id", "entity", "file_name", "status", "mode", "total", "processed", "created",
                "updated", "skipped", "failed", "duplicates", "error_count", "error_summary")
        out = {k: self.row[k] for k in keys}
        out["percent"] = self.percent
        out["undo_report"] = list(self.row["undo_report"] or [])
        return out


def create(conn: sa.Connection, *, entity: str, file_name: str, file_key: str, size: int,
           kind: str, mapping: Mapping[str, Any], options: ImportOptions, total: int,
           user_id: int | None) -> int:
    return int(conn.execute(imports.insert().values(
        entity=entity, file_name=file_name[:255], file_key=file_key, file_size=size,
        file_kind=kind, mapping=dict(mapping), options=options.to_json(), status=UPLOADED,
        total=total, processed=0, created=0, updated=0, skipped=0, failed=0, duplicates=0,
        error_count=0, created_by_id=user_id, created_at=datetime.now(UTC),
    ).returning(imports.c.id)).scalar_one())


def visible(actor: Actor) -> sa.ColumnElement[bool] | None:
    """Which imports `actor` may see: their own; administrators and the system: all."""
    if actor.is_system or "admin" in actor.roles:
        return None
    return imports.c.created_by_id == actor.id


def get(engine: sa.Engine, import_id: int, actor: Actor,
        conn: sa.Connection | None = None) -> ImportJob:
    """The import, if `actor` may see it (NotFound else, as for a missing one)."""
    stmt = sa.select(imports).where(imports.c.id == import_id)
    where = visible(actor)
    if where is not None:
        stmt = stmt.where(where)
    if conn is None:
        with engine.connect() as own:
            row = own.execute(stmt).first()
    else:
        row = conn.execute(stmt).first()
    if row is None:
        raise NotFound(_("Import #%(id)s does not exist.", id=import_id))
    return ImportJob(dict(row._mapping))


def history(engine: sa.Engine, actor: Actor, *, limit: int = 100,
            entity: str | None = None) -> list[tuple[ImportJob, str | None]]:
    """The imports `actor` may see, newest first, with their creator's username."""
    stmt = (sa.select(imports, users.c.username).select_from(
        imports.outerjoin(users, users.c.id == imports.c.created_by_id))
        .order_by(imports.c.id.desc()).limit(limit))
    where = visible(actor)
    if where is not None:
        stmt = stmt.where(where)
    if entity is not None:
        stmt = stmt.where(imports.c.entity == entity)
    with engine.connect() as conn:
        return [(ImportJob({k: v for k, v in r._mapping.items() if k != "username"}),
                 r.username) for r in conn.execute(stmt)]


def claim(conn: sa.Connection, import_id: int, allowed: tuple[str, ...], status: str,
          **values: Any) -> bool:
    """Move the import to `status` if it is in one of `allowed` now (one UPDATE: two
    requests starting one import cannot both win)."""
    done = conn.execute(imports.update().where(
        imports.c.id == import_id, imports.c.status.in_(allowed)).values(status=status,
                                                                           **values))
    return done.rowcount == 1


def update(conn: sa.Connection, import_id: int, **values: Any) -> None:
    conn.execute(imports.update().where(imports.c.id == import_id).values(**values))


def clear_results(conn: sa.Connection, import_id: int) -> None:
    """Forget the errors and duplicates of an earlier dry run."""
    conn.execute(import_errors.delete().where(import_errors.c.import_id == import_id))


def problems(engine: sa.Engine, import_id: int, kind: str = ERROR, *, limit: int = 100,
             offset: int = 0) -> list[dict[str, Any]]:
    t = import_errors
    stmt = (sa.select(t.c.kind, t.c.row_number, t.c.column_name, t.c.message, t.c.raw_value)
            .where(t.c.import_id == import_id, t.c.kind == kind)
            .order_by(t.c.row_number, t.c.id).limit(limit).offset(offset))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def report_csv(engine: sa.Engine, import_id: int) -> Iterator[str]:
    """Every kept error and duplicate as CSV (UTF-8 with a byte order mark, for Excel),
    in row order, read in pages."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    yield "\ufeff" + out.getvalue()
    t = import_errors
    last = (-1, -1)
    while True:
        stmt = (sa.select(t.c.id, t.c.kind, t.c.row_number, t.c.column_name, t.c.message,
                          t.c.raw_value)
                .where(t.c.import_id == import_id,
                       sa.tuple_(t.c.row_number, t.c.id) > sa.tuple_(*last))
                .order_by(t.c.row_number, t.c.id).limit(2000))
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            return
        out.seek(0)
        out.truncate()
        for r in rows:
            writer.writerow([r.kind, r.row_number, neutral(r.column_name or ""),
                             neutral(r.message), neutral(r.raw_value or "")])
        yield out.getvalue()
        last = (rows[-1].row_number, rows[-1].id)


def neutral(text: str) -> str:
    """Text a spreadsheet shows as text (a leading ' before a would-be formula)."""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def seal_before(before: Mapping[str, Any] | None, secret: Mapping[str, str],
                keys: KeyRing) -> dict[str, Any] | None:
    """An update's earlier values as its tag keeps them: those of encrypted fields (`secret`:
    field -> how errors name it) encrypted like the record's own (listed under SEALED), so an
    import's tags hold no clear text the record itself does not."""
    if not before:
        return None
    out = dict(before)
    sealed = [name for name, value in out.items() if name in secret and value is not None]
    for name in sealed:
        out[name] = keys.encrypt(json.dumps(out[name]), secret[name])
    if sealed:
        out[SEALED] = sealed
    return out


def open_before(before: Mapping[str, Any] | None, keys: KeyRing) -> dict[str, Any]:
    """A tag's earlier values in clear (EncryptionError when the key is gone)."""
    out = dict(before or {})
    for name in out.pop(SEALED, None) or ():
        out[name] = json.loads(keys.decrypt(str(out[name]), name))
    return out


def tags(conn: sa.Connection, import_id: int, action: str, *, after: int = 0,
         limit: int = 500) -> list[dict[str, Any]]:
    """A page of the records an import created or updated (by tag id)."""
    t = import_rows
    stmt = (sa.select(t).where(t.c.import_id == import_id, t.c.action == action,
                               t.c.id > after).order_by(t.c.id).limit(limit))
    return [dict(r._mapping) for r in conn.execute(stmt)]


KINDS = (ERROR, DUPLICATE)
