"""The task queue: config modes, the sweep after a lost enqueue, the embedded worker and
`crm worker` on a SqliteHuey queue, and RedisHuey against 127.0.0.1:6379."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.context import Context
from app.settings import load_settings
from app.tasks.queue import CrmQueue, make_queue, queue_of
from tests.webhookkit import deliveries, events_deployment, receiver, records

HOOK = "webhooks:\n  h:\n    url_env: TEST_Q_URL\n    events: [account.created]\n"


def _wait(check: Callable[[], bool], seconds: float = 15.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the worker")


@pytest.fixture
def sqlite_ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = events_deployment(tmp_path, database_url, HOOK, task_queue="sqlite")
    try:
        yield c
    finally:
        c.dispose()


def test_queue_modes(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("name: Q\n")
    for value, storage in [("sqlite", "SqliteStorage"), ("immediate", "MemoryStorage"),
                           ("redis://127.0.0.1:6379/0", "RedisStorage")]:
        settings = load_settings(tmp_path / "config.yaml", environ={"CRM_TASK_QUEUE": value})
        queue = make_queue(settings)
        assert isinstance(queue, CrmQueue) and type(queue.storage).__name__ == storage
        assert {"events.deliver", "events.run_automation", "events.sweep"} <= set(
            queue.crm_tasks)
    assert (tmp_path / "instance" / "tasks.db").exists()
    from app.meta.errors import ConfigErrors

    with pytest.raises(ConfigErrors, match="task_queue 'rabbit'"):
        load_settings(tmp_path / "config.yaml", environ={"CRM_TASK_QUEUE": "rabbit"})


def test_rows_without_a_queue_wait_for_the_sweep(sqlite_ctx: Context,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from app.events.tasks import sweep

    assert queue_of(sqlite_ctx.engine) is None  # like a crash between commit and enqueue
    with receiver() as rx:
        monkeypatch.setenv("TEST_Q_URL", rx.url)
        records(sqlite_ctx).create("account", {"name": "Acme"})
        assert deliveries(sqlite_ctx)[0]["status"] == "pending" and rx.requests == []
        assert sweep(sqlite_ctx) == 1
        assert len(rx.requests) == 1
    assert deliveries(sqlite_ctx)[0]["status"] == "delivered"
    assert sweep(sqlite_ctx) == 0


def test_embedded_worker_delivers_from_a_sqlite_queue(sqlite_ctx: Context,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from app.tasks.worker import embedded_worker

    with receiver() as rx:
        monkeypatch.setenv("TEST_Q_URL", rx.url)
        with embedded_worker(sqlite_ctx) as running:
            assert running is not None and running.started
            assert type(sqlite_ctx.queue.storage).__name__ == "SqliteStorage"
            records(sqlite_ctx).create("account", {"name": "Acme"})
            _wait(lambda: deliveries(sqlite_ctx)[0]["status"] == "delivered")
        assert len(rx.requests) == 1 and not running.started


def test_crm_worker_burst_runs_the_queued_tasks(sqlite_ctx: Context,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import main

    sqlite_ctx.queue  # noqa: B018  (commits enqueue into the SqliteHuey file)
    with receiver() as rx:
        monkeypatch.setenv("TEST_Q_URL", rx.url)
        records(sqlite_ctx).create("account", {"name": "Acme"})
        assert rx.requests == [] and len(sqlite_ctx.queue) == 1
        monkeypatch.setenv("CRM_DATABASE_URL", sqlite_ctx.settings.database_url)
        result = CliRunner().invoke(main, ["--config", str(sqlite_ctx.settings.config_file),
                                           "worker", "--burst"])
        assert result.exit_code == 0, result.output
        # the start-up sweeps (outbox, mails), the workflow timer and the delivery
        assert "Ran 4 task(s)" in result.output
        assert len(rx.requests) == 1
    assert deliveries(sqlite_ctx)[0]["status"] == "delivered"


REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_problem() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def test_redis_queue_round_trip(tmp_path: Path, database_url: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    problem = _redis_problem()
    if problem:
        if os.environ.get("CRM_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis at {REDIS_URL} is required (CRM_REQUIRE_REDIS=1): {problem}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {problem}")
    from app.tasks.worker import EmbeddedWorker

    ctx = events_deployment(tmp_path, database_url, HOOK, task_queue=REDIS_URL)
    try:
        queue = ctx.queue
        queue.name = f"crm-test-{uuid.uuid4().hex[:8]}"  # a queue of its own in Redis
        queue.storage = queue.create_storage()
        assert type(queue.storage).__name__ == "RedisStorage"
        with receiver() as rx:
            monkeypatch.setenv("TEST_Q_URL", rx.url)
            records(ctx).create("account", {"name": "Acme"})
            assert len(queue) == 1
            with EmbeddedWorker(queue):
                _wait(lambda: deliveries(ctx)[0]["status"] == "delivered")
            assert len(rx.requests) == 1
        queue.storage.flush_all()
    finally:
        ctx.dispose()
