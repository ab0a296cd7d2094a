"""app.wsgi, the entry point gunicorn loads: one Runtime per process, made on first use (never
shared over a fork), refusing to serve without CRM_SECRET_KEY, and gunicorn hooks that warm each
worker or stop gunicorn with a plain message."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from gunicorn.config import Config
from werkzeug.test import Client

from app import wsgi
from app.context import Context
from app.settings import load_settings
from tests.webkit import deployment


class FakeLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args: Any) -> None:
        self.lines.append(msg % args)

    error = info


class FakeWorker:
    def __init__(self) -> None:
        self.log = FakeLog()


def context_of(ctx: Context, **environ: str) -> Context:
    return Context(load_settings(ctx.settings.config_file, environ={
        "CRM_DATABASE_URL": ctx.settings.database_url, **environ}))


def test_one_runtime_per_process_made_on_first_use(tmp_path: Path, database_url: str) -> None:
    ctx = deployment(tmp_path, database_url, pack="small")
    made: list[Context] = []

    def make() -> Context:
        made.append(context_of(ctx, CRM_SECRET_KEY="k"))
        return made[-1]

    lazy = wsgi.LazyRuntime(make)
    try:
        assert made == []  # nothing at import or construction
        assert Client(lazy).get("/healthz").get_json()["pid"] == os.getpid()
        first = lazy.runtime()
        assert lazy.runtime() is first and len(made) == 1
        with first.ctx.engine.connect() as conn:  # a pooled connection of the "parent"
            dbapi = conn.connection.dbapi_connection
        lazy._pid = -1  # as seen from a forked child: the Runtime is another process's
        second = lazy.runtime()
        assert second is not first and len(made) == 2
        assert first.ctx._engine is not None and first.ctx._engine.pool.checkedin() == 0
        assert dbapi is not None
        dbapi.cursor().execute("select 1")  # forgotten, not closed under the parent
        dbapi.close()
    finally:
        lazy.close()
        for c in made:
            c.dispose()
        ctx.dispose()


def test_no_secret_key_is_refused(tmp_path: Path, database_url: str) -> None:
    ctx = deployment(tmp_path, database_url, pack="small")
    lazy = wsgi.LazyRuntime(lambda: context_of(ctx))
    try:
        with pytest.raises(wsgi.StartError, match="CRM_SECRET_KEY is not set"):
            lazy.runtime()
    finally:
        ctx.dispose()


def test_post_worker_init_warms_the_worker(tmp_path: Path, database_url: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = deployment(tmp_path, database_url, pack="small")
    monkeypatch.setenv("CRM_CONFIG", str(ctx.settings.config_file))
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "k")
    lazy = wsgi.LazyRuntime()
    monkeypatch.setattr(wsgi, "application", lazy)
    worker = FakeWorker()
    try:
        wsgi.post_worker_init(worker)
        assert worker.log.lines == [f"worker {os.getpid()} serves config version 1"]
        assert lazy.runtime().current().version == 1
    finally:
        wsgi.worker_exit(None, worker)
        ctx.dispose()


@pytest.mark.parametrize(("config", "secret", "says"), [
    ("locale: xx\n", "k", "locale 'xx' is not one of en, zh_CN"),
    ("schemas: schemas\n", None, "CRM_SECRET_KEY is not set"),
])
def test_post_worker_init_stops_gunicorn_with_a_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str, secret: str | None,
        says: str) -> None:
    (tmp_path / "config.yaml").write_text(config, encoding="utf-8")
    monkeypatch.setenv("CRM_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{tmp_path / 'crm.db'}")
    if secret:
        monkeypatch.setenv("CRM_SECRET_KEY", secret)
    else:
        monkeypatch.delenv("CRM_SECRET_KEY", raising=False)
    monkeypatch.setattr(wsgi, "application", wsgi.LazyRuntime())
    worker = FakeWorker()
    with pytest.raises(SystemExit) as stopped:
        wsgi.post_worker_init(worker)
    assert stopped.value.code == 3  # gunicorn's "worker failed to boot": the master halts
    assert len(worker.log.lines) == 1 and says in worker.log.lines[0]
    assert "Traceback" not in worker.log.lines[0]


def test_only_the_hooks_are_gunicorn_settings() -> None:
    """gunicorn reads every module-level name of `-c python:app.wsgi` that is a setting."""
    settings = set(Config().settings)
    assert {name for name in vars(wsgi) if name in settings} == {
        "on_starting", "post_worker_init", "worker_exit"}


def test_on_starting_is_a_no_op_outside_crm_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(wsgi.PARENT_ENV, raising=False)
    wsgi.on_starting(object())  # no prctl, no exit
