"""Engines: one place that knows the SQLite and PostgreSQL quirks the engine relies on."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine with SQLite made safe for transactional DDL and foreign keys.

    pysqlite starts transactions lazily and commits before DDL, which makes schema changes
    non-transactional. SQLAlchemy's documented recipe turns pysqlite's own handling off
    (isolation_level=None) and emits BEGIN ourselves; `begin_immediate` on a connection's
    execution options takes the write lock at BEGIN (used by publish).
    """
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _sqlite_recipe(engine)
    return engine


def _sqlite_recipe(engine: sa.Engine) -> None:
    database = engine.url.database or ""
    file_based = bool(database) and database != ":memory:" and "mode=memory" not in database
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        if file_based:  # readers are not blocked by a writer (several gunicorn workers)
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("begin_immediate") else ""
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
