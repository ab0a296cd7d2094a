"""Publish a config: validate -> dry-run build -> lock -> check base version -> plan -> apply ->
record the new version, all in ONE transaction. Nothing is half-applied.

Locking: SQLite takes the write lock at `BEGIN IMMEDIATE`; PostgreSQL takes a transaction-level
advisory lock. A publish based on an older version than the live one gets `PublishConflict`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app import seclog
from app.meta.files import ConfigFiles
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.types import Meta
from app.migrate import files as migration_files
from app.migrate import sources
from app.migrate.apply import Applier
from app.migrate.diff import make_plan
from app.migrate.steps import Plan, Step
from app.model.build import build_models
from app.model.system import config_versions, create_system_tables, roles, schema_history

log = logging.getLogger(__name__)
LOCK_KEY = 0x43524D  # "CRM"


class PublishError(Exception):
    """A publish that was refused; `plan` shows why, nothing was changed."""

    def __init__(self, message: str, plan: Plan | None = None) -> None:
        super().__init__(message)
        self.plan = plan


class PublishConflict(PublishError):
    """Someone published another version since this change was planned (HTTP 409)."""


class DataIntegrityError(PublishError):
    """The change would break foreign keys; it was rolled back."""


@dataclass
class Published:
    version: int | None
    plan: Plan
    migration_file: Path | None = None
    backups: list[str] = field(default_factory=list)


def active_version(conn: sa.Connection) -> tuple[int | None, Meta | None]:
    if not sa.inspect(conn).has_table(config_versions.name):
        return None, None
    row = conn.execute(sa.select(config_versions.c.id, config_versions.c.snapshot)
                       .order_by(config_versions.c.id.desc()).limit(1)).first()
    if row is None:
        return None, None
    return row.id, meta_from_dict(row.snapshot)


def current_version_id(conn: sa.Connection) -> int | None:
    """One indexed read: what every worker checks per request to know if it must rebuild."""
    return conn.execute(sa.select(sa.func.max(config_versions.c.id))).scalar()


@contextmanager
def locked_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction that holds the publish lock. On SQLite, foreign keys are off for its
    duration (set outside the transaction, as SQLite requires) and checked before commit."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA foreign_keys=OFF")
            conn = conn.execution_options(begin_immediate=True)
        try:
            with conn.begin():
                if not sqlite:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise DataIntegrityError(
                            "the change would leave rows pointing at missing records "
                            f"({len(broken)} found, first: {tuple(broken[0])}); rolled back")
        finally:
            if sqlite:
                raw = conn.connection.driver_connection
                assert raw is not None
                raw.execute("PRAGMA foreign_keys=ON")


def plan_change(engine: sa.Engine, meta: Meta, *, purge: bool = False) -> Plan:
    """The plan `publish` would apply now, read-only."""
    with engine.connect() as conn:
        version, old = active_version(conn)
        return make_plan(conn, old, meta, base_version=version, purge=purge)


def _record(conn: sa.Connection, meta: Meta, base: int | None, author: str | None,
            message: str | None, migration_id: str | None) -> int:
    vid = conn.execute(sa.insert(config_versions).values(
        digest=meta.digest, parent_id=base, author=author, message=message,
        migration_id=migration_id, snapshot=meta_to_dict(meta)).returning(config_versions.c.id)
    ).scalar_one()
    known = set(conn.execute(sa.select(roles.c.name)).scalars())
    for role in meta.roles:
        if role not in known:
            conn.execute(sa.insert(roles).values(name=role, active=True))
    conn.execute(sa.update(roles).where(roles.c.name.not_in(meta.roles)).values(active=False))
    conn.execute(sa.update(roles).where(roles.c.name.in_(meta.roles)).values(active=True))
    seclog.record(conn, seclog.CONFIG_PUBLISHED, username=author, detail={
        "version": int(vid), "digest": meta.digest, "based_on": base,
        "migration": migration_id, "message": message})
    return int(vid)


def publish(
    engine: sa.Engine,
    meta: Meta,
    *,
    author: str | None = None,
    message: str | None = None,
    purge: bool = False,
    allow_destructive: bool = False,
    expected_base: int | str | None = "any",
    migrations_dir: Path | None = None,
    files: ConfigFiles | None = None,
) -> Published:
    """Apply `meta` as the new live version (see the module's docstring). `files`: the YAML
    files it was built from, kept with the version for history, diff and revert."""
    # dry run: a config whose tables or formula SQL cannot build never reaches the database
    models = build_models(meta, orm_classes=False)
    tmp_file: Path | None = None
    with locked_transaction(engine) as conn:
        create_system_tables(conn)
        base, old = active_version(conn)
        if expected_base != "any" and expected_base != base:
            raise PublishConflict(f"the live config is version {base}, but this change was "
                                  f"planned on version {expected_base}; plan again")
        plan = make_plan(conn, old, meta, base_version=base, purge=purge)
        if plan.unsupported:
            raise PublishError("the plan has steps that cannot be applied without losing or "
                               "inventing data (marked x); nothing was changed", plan)
        if plan.destructive and not allow_destructive:
            raise PublishError("the plan deletes data; confirm it explicitly (--purge "
                               "--yes)", plan)
        if plan.is_empty and old is not None and old.digest == meta.digest:
            if files is None or base is None:
                return Published(version=base, plan=plan)
            if not sources.has_files(conn, base):
                sources.save(conn, base, files)  # e.g. a version replayed from migrations/
                return Published(version=base, plan=plan)
            if sources.same_files(conn, base, files):
                return Published(version=base, plan=plan)
            # the same config from different files (comments, formatting): a version of its
            # own, so the history holds the text that is now on disk
            version = _record(conn, meta, base, author, message or "the YAML text changed "
                              "(comments or formatting), not the config", None)
            sources.save(conn, version, files)
            return Published(version=version, plan=plan)
        applier = Applier(conn, meta, models)
        applier.apply(plan.steps)
        migration_id = None
        if migrations_dir is not None:  # also for label-only changes: replay needs every version
            more = len(plan.steps) - 1
            summary = message or (plan.steps[0].summary.split(":")[0] + (
                f" and {more} more" if more else "") if plan.steps else "config change")
            migration_id = migration_files.new_id(migrations_dir, summary)
            tmp_file = migration_files.write_pending(migrations_dir, migration_files.MigrationFile(
                id=migration_id, path=migrations_dir, from_digest=plan.base_digest,
                to_digest=meta.digest, steps=plan.steps, config=meta_to_dict(meta),
                author=author, message=message))
        if plan.steps or migration_id:
            migration_id = migration_id or f"db_{uuid.uuid4().hex[:16]}"
            conn.execute(sa.insert(schema_history).values(
                migration_id=migration_id, author=author, from_digest=plan.base_digest,
                to_digest=meta.digest, steps=[s.to_dict() for s in plan.steps]))
        version = _record(conn, meta, base, author, message, migration_id)
        if files is not None:
            sources.save(conn, version, files)
    final = migration_files.commit_file(tmp_file) if tmp_file else None
    return Published(version=version, plan=plan, migration_file=final, backups=applier.backups)


def pending(engine: sa.Engine, migrations_dir: Path) -> list[migration_files.MigrationFile]:
    """Migration files this database has not applied yet, in order."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(schema_history.name):
            done: set[str] = set()
        else:
            done = set(conn.execute(sa.select(schema_history.c.migration_id)).scalars())
    return [mf for mf in migration_files.read_all(migrations_dir) if mf.id not in done]


def replay(engine: sa.Engine, migrations_dir: Path, *, author: str | None = None,
           allow_destructive: bool = False) -> list[str]:
    """Apply the migration files this database has not seen, in order, each checked against
    this database's own data first. A recorded purge that would delete values here needs
    `allow_destructive` too (purging empty columns, as on a new database, does not).
    Returns the ids applied."""
    applied: list[str] = []
    for mf in migration_files.read_all(migrations_dir):
        with locked_transaction(engine) as conn:
            create_system_tables(conn)
            done = conn.execute(sa.select(schema_history.c.id).where(
                schema_history.c.migration_id == mf.id)).first()
            if done:
                continue
            base, old = active_version(conn)
            live_digest = old.digest if old else None
            if live_digest != mf.from_digest:
                raise PublishConflict(
                    f"{mf.path.name} starts from config {str(mf.from_digest)[:12]}, but this "
                    f"database is at {str(live_digest)[:12]}; it cannot be replayed here")
            meta = meta_from_dict(mf.config)
            fresh = make_plan(conn, old, meta, base_version=base, purge=any(
                s.op in ("drop_column", "drop_table") for s in mf.steps))
            _same_steps(mf, fresh.steps)
            if fresh.unsupported:
                raise PublishError(f"{mf.path.name} would lose data in this database", fresh)
            if any(s.rows for s in fresh.destructive) and not allow_destructive:
                raise PublishError(f"{mf.path.name} deletes data (a purge); confirm it here "
                                   "too with --yes", fresh)
            # the same steps, with row counts and checks from this database's own data
            Applier(conn, meta, build_models(meta, orm_classes=False)).apply(fresh.steps)
            conn.execute(sa.insert(schema_history).values(
                migration_id=mf.id, author=author or mf.author, from_digest=mf.from_digest,
                to_digest=mf.to_digest, steps=[s.to_dict() for s in fresh.steps]))
            _record(conn, meta, base, author or mf.author, mf.message, mf.id)
        applied.append(mf.id)
    return applied


def _same_steps(mf: migration_files.MigrationFile, fresh: list[Step]) -> None:
    def key(s: Step) -> tuple[Any, ...]:
        return (s.op, s.entity, s.column)

    want = [key(s) for s in mf.steps if s.op != "note"]
    got = [key(s) for s in fresh if s.op != "note"]
    if want != got:
        raise PublishError(
            f"{mf.path.name} does not match this database: it records {want}, but this "
            f"database needs {got}. The database has drifted from the recorded history.")
