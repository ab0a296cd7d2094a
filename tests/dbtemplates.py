"""Test databases, and template databases that fill them fast.

Every test gets fresh databases (`new_database_url` in tests/conftest.py): SQLite files in
the test's tmp_path, or, when CRM_TEST_DATABASE_URL is set, PostgreSQL databases on that
server named after that URL's database (`<base>_<token>_<n>`), dropped after the test.

Most tests start from the same few deployments (the default or the small pack published,
with the same users). Building one runs hundreds of DDL statements (~0.15 s on SQLite,
~0.4 s of client and server time on PostgreSQL); copying a database that already holds it is
a file copy on SQLite and `CREATE DATABASE x TEMPLATE t` on PostgreSQL. `prefill(ctx, folder,
fill)` does that: the first time a worker process sees a deployment (the fill function, its
`extra` key, and the files in `folder`: see `template_key`) it runs `fill` on a template
database, and from then on every test whose database is still fresh gets a copy of the
template instead. A database that is not fresh (not made by `new_database`, or already
connected to) is filled by running `fill` on it, as the kits always did.

PostgreSQL's CREATE/DROP DATABASE cost server time and, for DROP, a checkpoint the caller
waits for; so a background thread per worker keeps two empty databases ready, drops the
databases of finished tests while the next tests run (DROP_BATCH at a time, in parallel, so
that they share checkpoints), and an empty database that a prefill replaces goes back to the
ready ones (renamed) instead of being dropped.

Templates and ready databases live as long as the worker process (`close` drops them at the
end of the session). CRM_TEST_TEMPLATES=0 turns templates off (every deployment runs its
fill, as before), for comparing or for hunting a bug a template might hide.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import queue
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import Pool

from app.context import Context

ENABLED = os.environ.get("CRM_TEST_TEMPLATES", "1") != "0"
#: how many empty PostgreSQL databases the background thread keeps ready
READY = 2
#: the databases of finished tests are dropped this many at a time, in parallel: each DROP
#: DATABASE waits for a checkpoint, and drops running together share one (half the server time)
DROP_BATCH = 8
_TOKEN = uuid.uuid4().hex[:6]
_SQLITE_SUFFIXES = (".db", ".db-wal", ".db-shm", ".db-journal", ".sqlite")


def _quoted(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    return f'"{name}"'


class _Server:
    """The databases of this worker on one PostgreSQL server: an autocommit engine on the
    base database, the ready (empty) databases, and a thread that creates and drops them."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.prefix = f"{(make_url(base_url).database or 'crm')[:40]}_{_TOKEN}_"
        self.engine = sa.create_engine(base_url, isolation_level="AUTOCOMMIT", pool_size=2,
                                       max_overflow=DROP_BATCH + 2)
        self.counter = 0
        self.lock = threading.Lock()
        self.ready: deque[str] = deque()
        self.creating = 0  # "create" jobs queued and not done
        self.jobs: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._work, name="test-databases", daemon=True)
        self.thread.start()
        self._refill()

    def name(self, kind: str = "") -> str:
        with self.lock:
            self.counter += 1
            return f"{self.prefix}{kind}{self.counter}"

    def url(self, name: str) -> str:
        return make_url(self.base_url).set(database=name).render_as_string(
            hide_password=False)

    def run(self, *statements: str) -> None:
        with self.engine.connect() as conn:
            for sql in statements:
                conn.exec_driver_sql(sql)

    # --- the background thread ----------------------------------------------------------------
    def _refill(self) -> None:
        with self.lock:
            missing = READY - len(self.ready) - self.creating
            self.creating += max(missing, 0)
        for _ in range(missing):
            self.jobs.put(("create", self.name()))

    def _work(self) -> None:
        finished: list[str] = []
        while True:
            job = self.jobs.get()
            try:
                if job is None:
                    self._drop(finished)
                    return
                kind, name = job
                if kind == "create":  # FILE_COPY: less server time than WAL_LOG for template1
                    try:
                        self.run(f"CREATE DATABASE {_quoted(name)} STRATEGY FILE_COPY")
                    finally:
                        with self.lock:
                            self.creating -= 1
                    with self.lock:
                        self.ready.append(name)
                else:
                    finished.append(name)
                    if len(finished) >= DROP_BATCH:
                        self._drop(finished)
            except Exception as exc:  # reported by the next `take` / at `close`
                self.failures.append(f"{job}: {type(exc).__name__}: {exc}")
            finally:
                self.jobs.task_done()

    def _drop(self, names: list[str]) -> None:
        """Drop `names` (and empty the list) with one connection each, all at once."""
        batch, names[:] = list(names), []

        def drop(name: str) -> None:
            try:
                self.run(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
            except Exception as exc:  # reported by the next `take` / at `close`
                self.failures.append(f"drop {name}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=drop, args=(name,), daemon=True) for name in batch]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # --- what the fixtures call ---------------------------------------------------------------
    def take(self) -> str:
        """An empty database: a ready one, or one made now."""
        if self.failures:
            raise RuntimeError("test database thread failed: " + "; ".join(self.failures))
        with self.lock:
            name = self.ready.popleft() if self.ready else None
        if name is None:
            name = self.name()
            self.run(f"CREATE DATABASE {_quoted(name)}")
        self._refill()
        return self.url(name)

    def drop_later(self, url: str) -> None:
        self.jobs.put(("drop", make_url(url).database or ""))

    def clone(self, template: str, url: str) -> None:
        """Replace the fresh, empty database of `url` by a copy of `template` (the empty one
        is renamed and kept ready for the next test)."""
        name = make_url(url).database or ""
        spare = self.name()
        self.run(f"ALTER DATABASE {_quoted(name)} RENAME TO {_quoted(spare)}",
                 f"CREATE DATABASE {_quoted(name)} TEMPLATE "
                 f"{_quoted(make_url(template).database or '')}")
        with self.lock:
            self.ready.append(spare)

    def close(self) -> None:
        """Drop the ready and finished databases, wait for the thread, release the engine;
        a failure of the thread fails the session here."""
        with self.lock:
            spare, self.ready = list(self.ready), deque()
        for name in spare:
            self.jobs.put(("drop", name))
        self.jobs.put(None)
        self.thread.join()
        with self.lock:
            late = list(self.ready)  # made by a "create" queued before the stop
        for name in late:
            self.run(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
        self.engine.dispose()
        if self.failures:
            raise RuntimeError("test database thread failed: " + "; ".join(self.failures))


class _State:
    def __init__(self) -> None:
        self.servers: dict[str, _Server] = {}
        #: URLs handed out by `new_database` that no one has connected to yet
        self.fresh: set[str] = set()
        #: PostgreSQL database names some connection of this process has opened
        self.touched: set[str] = set()
        #: template key -> template database URL
        self.templates: dict[str, str] = {}
        self.sqlite_dir: Path | None = None
        self.counter = 0

    def server(self, base_url: str) -> _Server:
        found = self.servers.get(base_url)
        if found is None:
            found = self.servers[base_url] = _Server(base_url)
        return found

    def server_of(self, url: str) -> _Server:
        u = make_url(url)
        for server in self.servers.values():
            b = make_url(server.base_url)
            if (b.host, b.port, b.username) == (u.host, u.port, u.username):
                return server
        raise LookupError(f"no test database server for {u.render_as_string()}")


_STATE = _State()


@event.listens_for(Pool, "connect")
def _seen(dbapi_conn: Any, _record: Any) -> None:
    """Remember every PostgreSQL database this process connects to (such a database is no
    longer fresh: a template must not replace it)."""
    info = getattr(dbapi_conn, "info", None)
    name = getattr(info, "dbname", None)
    if isinstance(name, str):
        _STATE.touched.add(name)


def new_database(base_url: str, tmp_dir: Path) -> str:
    """A fresh, empty database: a SQLite file in `tmp_dir` (base_url "") or an empty
    PostgreSQL database on the server of `base_url`. `drop_database` removes it."""
    if base_url:
        url = _STATE.server(base_url).take()
    else:
        _STATE.counter += 1
        url = f"sqlite:///{tmp_dir / f'crm{_STATE.counter}.db'}"
    _STATE.fresh.add(url)
    return url


def drop_database(base_url: str, url: str) -> None:
    """Drop (in the background) a PostgreSQL database made by `new_database`; a SQLite file
    goes with the test's tmp_path."""
    _STATE.fresh.discard(url)
    if base_url:
        _STATE.server(base_url).drop_later(url)


def close() -> None:
    """Drop this process's templates and spare databases (at the end of the session)."""
    for url in list(_STATE.templates.values()):
        if not url.startswith("sqlite"):
            _STATE.server_of(url).drop_later(url)
    _STATE.templates.clear()
    servers, _STATE.servers = list(_STATE.servers.values()), {}
    problems = []
    for server in servers:
        try:
            server.close()
        except RuntimeError as exc:
            problems.append(str(exc))
    if _STATE.sqlite_dir is not None:
        shutil.rmtree(_STATE.sqlite_dir, ignore_errors=True)
        _STATE.sqlite_dir = None
    if problems:
        raise RuntimeError("; ".join(problems))


atexit.register(close)


# --- templates --------------------------------------------------------------------------------
def template_key(folder: Path, fill: Callable[[Context], object], extra: Iterable[object],
                 url: str) -> str:
    """What decides a fill's result: the fill function, `extra` (the users ...), the kind of
    database, a frozen clock's time, and every file in `folder` (config.yaml, schemas/,
    workflows/ ...; not the SQLite files a test keeps there)."""
    from app import clock

    digest = hashlib.sha256()
    digest.update(f"{fill.__module__}.{fill.__qualname__}\0{tuple(extra)!r}\0".encode())
    digest.update(make_url(url).get_backend_name().encode() + b"\0")
    if clock._override is not None:  # a test froze the clock: the fill's timestamps follow it
        digest.update(clock.now().isoformat().encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(_SQLITE_SUFFIXES):
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def prefill(ctx: Context, folder: Path, fill: Callable[[Context], object],
            extra: Iterable[object] = ()) -> None:
    """Make ctx's database hold what `fill(ctx)` would write into it: a copy of this
    worker's template for the same deployment (made by running `fill` on a template database
    the first time), or, when the database is not fresh or templates are off, by running
    `fill(ctx)` on it."""
    url = ctx.settings.database_url
    if not (ENABLED and url in _STATE.fresh and _untouched(url)):
        fill(ctx)
        return
    _STATE.fresh.discard(url)
    key = template_key(folder, fill, extra, url)
    template = _STATE.templates.get(key)
    if template is None:
        template = _STATE.templates[key] = _make_template(ctx, fill)
    ctx.dispose()
    if url.startswith("sqlite"):
        target = Path(make_url(url).database or "")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(make_url(template).database or "", target)
    else:
        _STATE.server_of(url).clone(template, url)


def _untouched(url: str) -> bool:
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        return not path.exists() and not Path(f"{path}-wal").exists()
    return make_url(url).database not in _STATE.touched


def _make_template(ctx: Context, fill: Callable[[Context], object]) -> str:
    url = ctx.settings.database_url
    if url.startswith("sqlite"):
        if _STATE.sqlite_dir is None:
            _STATE.sqlite_dir = Path(tempfile.mkdtemp(prefix="crm-templates-"))
        _STATE.counter += 1
        template = f"sqlite:///{_STATE.sqlite_dir / f'template{_STATE.counter}.db'}"
    else:
        server = _STATE.server_of(url)
        name = server.name("tpl")
        server.run(f"CREATE DATABASE {_quoted(name)}")
        template = server.url(name)
    tctx = Context(dataclasses.replace(ctx.settings, database_url=template))
    try:
        fill(tctx)
    finally:
        tctx.dispose()
    if template.startswith("sqlite"):  # all into the main file, so that a copy stands alone
        raw = sqlite3.connect(make_url(template).database or "")
        try:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    return template
