"""`crm serve --workers N`: gunicorn serving `app.wsgi` with N workers, and one task worker.

gunicorn runs as a child process (`python -m gunicorn -c python:app.wsgi ...`), not through its
`BaseApplication` API inside `crm`, because:

- gunicorn's master forks its workers, and this process runs the embedded task worker (huey
  consumer threads, app/tasks/worker.py). Forking a process with running threads copies their
  locks (logging, the queue's SQLite connection, the engine's pool) in whatever state they are
  in, which can hang a worker; a child master has no threads and no engine when it forks.
- the master wants the main thread and installs its own signal handlers; here the main thread
  waits for the child and stops it and the task worker together.
- there is exactly one task worker, in this process, whatever the number of web workers; the
  web workers only enqueue (the queue is the deployment's `task_queue`, shared through its
  SQLite file or Redis).

The child gets the deployment through its environment: `CRM_CONFIG` (the config file this
`crm` read), `CRM_SECRET_KEY` (this process's, so all workers sign sessions with one key, even a
generated development key) and `CRM_SERVE_PARENT_PID` (gunicorn's master stops if this process
is killed: see `app.wsgi.on_starting`). SIGTERM or Ctrl-C (SIGINT) here sends SIGTERM to
gunicorn, which lets running requests finish and stops its workers (a second one: SIGINT, its
quick stop); then the task worker stops.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from types import FrameType

from app.context import Context
from app.wsgi import PARENT_ENV

#: seconds gunicorn gives running requests when it is stopped, and how much longer we wait
GRACEFUL_TIMEOUT = 10
_KILL_AFTER = GRACEFUL_TIMEOUT + 5


def gunicorn_command(host: str, port: int, workers: int, threads: int) -> list[str]:
    """The gunicorn command line: `workers` processes, gthread workers with `threads` threads
    each (sync workers when `threads` is 1)."""
    from gunicorn.config import Config

    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    # recent gunicorn opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl),
    # which a second server on the machine would take over, from a thread of the master that
    # then forks: this process is the control, so it stays closed
    no_control = ["--no-control-socket"] if "control_socket_disable" in Config().settings else []
    return [sys.executable, "-m", "gunicorn", "--config", "python:app.wsgi",
            "--bind", bind, "--workers", str(workers),
            "--worker-class", "gthread" if threads > 1 else "sync", "--threads", str(threads),
            "--graceful-timeout", str(GRACEFUL_TIMEOUT), *no_control, "app.wsgi:application"]


def child_environment(ctx: Context) -> dict[str, str]:
    """This process's environment plus what makes gunicorn's workers serve `ctx`'s deployment
    with one session key."""
    return {**os.environ, "CRM_CONFIG": str(ctx.settings.config_file),
            "CRM_SECRET_KEY": ctx.settings.secret_key, PARENT_ENV: str(os.getpid())}


def run(ctx: Context, host: str, port: int, *, workers: int, threads: int) -> int:
    """Serve until SIGTERM/SIGINT (returns 0) or until gunicorn exits by itself (returns its
    exit status: it has logged why). Main thread only (signal handlers)."""
    from app.tasks.worker import embedded_worker

    ctx.settings.warn_if_insecure()
    child: list[subprocess.Popen[bytes]] = []
    stopping: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)
        if child and child[0].poll() is None:  # a second Ctrl-C: gunicorn's quick shutdown
            child[0].send_signal(signal.SIGTERM if len(stopping) == 1 else signal.SIGINT)

    previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {
        sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        # its own process group: Ctrl-C in a terminal reaches this process only, which asks
        # gunicorn for a graceful stop
        child.append(subprocess.Popen(gunicorn_command(host, port, workers, threads),
                                      env=child_environment(ctx), process_group=0))
        if stopping:  # a signal came before gunicorn existed
            child[0].send_signal(signal.SIGTERM)
        with embedded_worker(ctx):  # the one task worker, when the queue is sqlite
            status = child[0].wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child:
            _finish(child[0])
    return 0 if stopping else status


def _finish(proc: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn if it still runs (SIGTERM, then SIGKILL) and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(_KILL_AFTER)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
