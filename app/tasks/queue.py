"""The deployment's task queue: huey, made from config (no module-level huey at import time).

`task_queue` in config.yaml picks the storage:

| value | storage | who runs the tasks |
|---|---|---|
| `sqlite` (default) | `instance/tasks.db` (SqliteStorage) | `crm serve`'s threads, `crm worker` |
| `redis://host:port/db` | Redis (huey's RedisStorage) | `crm worker` on any machine |
| `immediate` | memory | the process that enqueues, at once (tests) |

Tasks are plain functions taking the deployment `Context` first, registered by name with
`@task("events.deliver")` (or `periodic=crontab(...)`). `make_queue(settings, ctx)` binds every
registered task to a new huey instance whose tasks run with that Context, so the consumer (and
immediate mode) find the deployment through the queue they run on. Enqueue by name:
`queue.enqueue_task("events.deliver", delivery_id)`.
"""

from __future__ import annotations

import importlib
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import huey
from huey.api import TaskWrapper
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

if TYPE_CHECKING:
    import sqlalchemy as sa

    from app.context import Context
    from app.settings import Settings

log = logging.getLogger(__name__)

#: modules whose import registers tasks (workflow escalations will add theirs here)
TASK_MODULES: tuple[str, ...] = ("app.events.tasks", "app.notify.tasks",
                                 "app.workflow.approvals.tasks", "app.reports.alerts",
                                 "app.imports.tasks", "app.backup.tasks",
                                 "app.comms.reminders",
                                 "app.archive.tasks")


@dataclass(frozen=True)
class TaskDef:
    """A task: `func(ctx, *args)`; `periodic` (a huey `crontab`) makes it run on a schedule."""

    name: str
    func: Callable[..., Any]
    periodic: Callable[[datetime], bool] | None = None


_DEFS: dict[str, TaskDef] = {}


def task(name: str, *, periodic: Callable[[datetime], bool] | None = None
         ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `func(ctx, *args)` as the task `name` on every queue made from now on."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        known = _DEFS.get(name)
        if known is not None and known.func is not func:
            raise ValueError(f"task {name!r} is registered twice")
        _DEFS[name] = TaskDef(name, func, periodic)
        return func

    return decorator


class CrmQueue(huey.Huey):
    """A huey instance bound to one deployment: its tasks get `ctx` as first argument."""

    def __init__(self, ctx: Context, name: str = "crm", **kwargs: Any) -> None:
        self.ctx = ctx
        ctx.plugins  # noqa: B018  (the plugins' actions are registered before a task runs)
        self.crm_tasks: dict[str, TaskWrapper] = {}
        super().__init__(name, results=False, **kwargs)
        for module in TASK_MODULES:
            importlib.import_module(module)
        for definition in list(_DEFS.values()):
            self._bind(definition)

    def _bind(self, definition: TaskDef) -> TaskWrapper:
        ctx, func = self.ctx, definition.func

        def run(*args: Any) -> Any:
            return func(ctx, *args)

        run.__name__ = definition.name.replace(".", "_")
        run.__module__ = func.__module__
        if definition.periodic is not None:
            wrapper = self.periodic_task(definition.periodic, name=definition.name)(run)
        else:
            wrapper = self.task(name=definition.name)(run)
        self.crm_tasks[definition.name] = wrapper
        return wrapper

    def enqueue_task(self, name: str, *args: Any, delay: float | None = None) -> None:
        """Queue the task `name` (run now, or after `delay` seconds)."""
        wrapper = self.crm_tasks.get(name) or self._bind(_DEFS[name])
        if delay:
            wrapper.schedule(args=args, delay=delay)
        else:
            wrapper(*args)

    @property
    def mode(self) -> str:
        return self.ctx.settings.task_queue


def make_queue(settings: Settings, ctx: Context | None = None) -> CrmQueue:
    """A new queue for the deployment of `settings` (its tasks run with `ctx`, or a new
    Context of these settings)."""
    from app.context import Context

    context = ctx or Context(settings)
    mode = settings.task_queue
    if mode == "immediate":
        return CrmQueue(context, immediate=True, storage_class=MemoryStorage)
    if mode.startswith(("redis://", "rediss://")):
        return CrmQueue(context, storage_class=RedisStorage, url=mode)
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    return CrmQueue(context, storage_class=SqliteStorage,
                    filename=str(settings.instance_dir / "tasks.db"))


_QUEUES: weakref.WeakKeyDictionary[sa.Engine, CrmQueue] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def queue_for(ctx: Context) -> CrmQueue:
    """The one queue of this Context's database in this process (made on first use)."""
    with _LOCK:
        queue = _QUEUES.get(ctx.engine)
        if queue is None:
            queue = _QUEUES[ctx.engine] = make_queue(ctx.settings, ctx)
        return queue


def queue_of(engine: sa.Engine) -> CrmQueue | None:
    """The queue made for `engine` in this process, if any (records hooks use it after commit;
    without one, the rows wait for a worker's sweep)."""
    return _QUEUES.get(engine)
