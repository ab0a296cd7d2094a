"""The WSGI entry point for gunicorn (or any WSGI server): `app.wsgi:application`.

    CRM_CONFIG=/srv/crm/config.yaml CRM_SECRET_KEY=... gunicorn -c python:app.wsgi \\
        --workers 4 --worker-class gthread --threads 4 --bind 0.0.0.0:8000 app.wsgi:application

`application` is an `app.runtime.Runtime` over `Context.from_env()` (the config file from
`CRM_CONFIG`, else ./config.yaml, and `CRM_*` overrides, as for `crm`), made lazily, once per
process. Nothing is built at import, so gunicorn's master (which imports this module for its
hooks, and the whole app with `--preload`) holds no engine and no connection: each worker opens
its own pool after the fork. Should a worker still find a Runtime made in another process (a
master that served or warmed up before forking), it drops it with
`engine.dispose(close=False)`, which forgets the parent's connections without closing them
under the parent, and makes its own.

Loaded as gunicorn's config module (`-c python:app.wsgi`, as `crm serve --workers` does), the
hooks below (the only gunicorn setting names in this module) make each worker build the live
version's app when it starts, so the first request is not slow and a broken config or an
unreachable database stops gunicorn with one clear message instead of failing requests.

Every worker must sign sessions with the same key, or a user signed in on one worker is signed
out on the next: without `CRM_SECRET_KEY` this entry point refuses to start (`crm serve
--workers` passes its own key on to its gunicorn).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from app.context import Context
from app.runtime import Runtime

#: `crm serve --workers` sets this to its own pid: gunicorn's master stops when that process dies
PARENT_ENV = "CRM_SERVE_PARENT_PID"
#: the exit status that makes gunicorn's master give up instead of restarting the worker
_WORKER_BOOT_ERROR = 3
_PR_SET_PDEATHSIG = 1


class StartError(RuntimeError):
    """The deployment cannot be served (config, plugins, secret key, database)."""


class LazyRuntime:
    """A WSGI callable that makes `Runtime(Context.from_env())` on first use in each process."""

    def __init__(self, make_context: Callable[[], Context] = Context.from_env) -> None:
        self._make_context = make_context
        self._lock = threading.Lock()
        self._runtime: Runtime | None = None
        self._pid: int | None = None

    def runtime(self) -> Runtime:
        """This process's Runtime (made now if needed; raises StartError, ConfigErrors or
        PluginError when the deployment cannot be read)."""
        runtime, pid = self._runtime, os.getpid()
        if runtime is not None and self._pid == pid:
            return runtime
        with self._lock:
            if self._runtime is not None and self._pid != pid:
                self._forget_inherited(self._runtime)
            if self._runtime is None:
                ctx = self._make_context()
                if ctx.settings.secret_key_generated:
                    raise StartError(
                        "CRM_SECRET_KEY is not set: each worker process would sign sessions "
                        "with its own random key and users would be signed out between "
                        "requests. Set CRM_SECRET_KEY to the same secret on every server.")
                self._runtime, self._pid = Runtime(ctx), pid
            assert self._runtime is not None
            return self._runtime

    def _forget_inherited(self, runtime: Runtime) -> None:
        engine = runtime.ctx._engine
        if engine is not None:
            engine.dispose(close=False)  # the parent's connections: not ours to close
        self._runtime = self._pid = None

    def warm(self) -> int | None:
        """Build the live version's app now; returns its config version."""
        return self.runtime().current().version

    def close(self) -> None:
        """Close this process's connections (a worker that exits)."""
        with self._lock:
            if self._runtime is not None and self._pid == os.getpid():
                self._runtime.ctx.dispose()
            self._runtime = self._pid = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        return self.runtime()(environ, start_response)


application = LazyRuntime()


# --- gunicorn hooks (`-c python:app.wsgi`) --------------------------------------------------
def on_starting(server: Any) -> None:
    """In gunicorn's master, before it binds: when started by `crm serve`, stop (SIGTERM, a
    graceful stop) if that process dies, so a killed `crm serve` leaves no server behind."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the parent stops us on its way out
        return
    if str(os.getppid()) != parent:  # it died before prctl took effect
        server.log.error("crm serve (pid %s) is gone: not starting", parent)
        sys.exit(1)


def post_worker_init(worker: Any) -> None:
    """In each worker after the fork: make this process's Runtime and the live version's app;
    a deployment that cannot be served stops gunicorn with its message (no traceback)."""
    from app.meta.errors import ConfigErrors
    from app.plugins import PluginError

    try:
        version = application.warm()
    except ConfigErrors as exc:
        _refuse(worker, "\n".join(str(e) for e in exc.errors))
    except (StartError, PluginError) as exc:
        _refuse(worker, str(exc))
    except Exception as exc:  # the database unreachable, a broken live config, ...
        _refuse(worker, f"{type(exc).__name__}: {exc}".splitlines()[0])
    else:
        worker.log.info("worker %s serves config version %s", os.getpid(), version)


def worker_exit(server: Any, worker: Any) -> None:
    """A worker that stops closes its database connections."""
    application.close()


def _refuse(worker: Any, message: str) -> None:
    worker.log.error("The CRM cannot be served: %s", message)
    sys.exit(_WORKER_BOOT_ERROR)
