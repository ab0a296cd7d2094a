"""Running the queue: `crm worker` (a huey consumer in its own process) and the embedded worker
that `crm serve` starts in threads when the queue is `sqlite` and `embedded_worker` is true.

Both sweep the outbox when they start (rows a crash left between commit and enqueue) and run
the periodic tasks (the sweep again every minute).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from huey.consumer import Consumer

from app.tasks.queue import CrmQueue

if TYPE_CHECKING:
    from app.context import Context

log = logging.getLogger(__name__)


def on_start(queue: CrmQueue) -> None:
    """What a worker does when it starts: re-enqueue what is due in the outbox and the mails
    waiting to be sent, and run the workflow timer (what fell due while no worker ran)."""
    queue.enqueue_task("events.sweep")
    queue.enqueue_task("notify.sweep")
    queue.enqueue_task("workflow.tick")


def consumer(queue: CrmQueue, workers: int = 2, **options: Any) -> Consumer:
    return queue.create_consumer(workers=workers, worker_type="thread", periodic=True,
                                 check_worker_health=False, **options)


def run_worker(queue: CrmQueue, workers: int = 2) -> None:
    """Run until SIGINT/SIGTERM (a graceful stop lets running tasks finish). Main thread only:
    it installs signal handlers."""
    c = consumer(queue, workers)
    on_start(queue)
    c.run()


def run_burst(queue: CrmQueue) -> int:
    """Run the tasks queued now, one after another, then return how many ran (`crm worker
    --burst`: for cron, or to drain the queue in a script). Scheduled retries wait."""
    on_start(queue)
    done = 0
    while True:
        item = queue.dequeue()
        if item is None:
            return done
        queue.execute(item)
        done += 1


class EmbeddedWorker:
    """Consumer threads inside another process (the web server): no signal handlers, stopped
    with `stop()`."""

    def __init__(self, queue: CrmQueue, workers: int = 2, *, scheduler_interval: int = 1
                 ) -> None:
        self.queue = queue
        self.consumer = consumer(queue, workers, scheduler_interval=scheduler_interval,
                                 initial_delay=0.05, max_delay=1.0)
        self.started = False

    def start(self) -> EmbeddedWorker:
        on_start(self.queue)
        self.consumer.scheduler.start()
        for _worker, thread in self.consumer.worker_threads:
            thread.start()
        self.started = True
        log.info("embedded task worker started (%s threads)", len(self.consumer.worker_threads))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if not self.started:
            return
        self.consumer.stop_flag.set()
        for _worker, thread in self.consumer.worker_threads:
            thread.join(timeout)
        self.consumer.scheduler.join(timeout)
        self.started = False

    def __enter__(self) -> EmbeddedWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def embedded_worker(ctx: Context) -> Iterator[EmbeddedWorker | None]:
    """What `crm serve` runs around the server: the deployment's queue (so commits enqueue
    into it) and, when it is `sqlite` and `embedded_worker` is true, worker threads."""
    queue = ctx.queue
    settings = ctx.settings
    if settings.task_queue != "sqlite" or not settings.embedded_worker:
        yield None
        return
    with EmbeddedWorker(queue) as running:
        yield running
