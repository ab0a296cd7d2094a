"""Test kit for real servers in subprocesses: gunicorn serving `app.wsgi` (the command line
`crm serve --workers` runs) on a free port of a `tests.webkit.deployment`, signed-in `requests`
sessions, `/healthz` spread over the workers, and a new field published on account.

Servers are started with a deadline (their log says when every worker serves) and always stopped
in `finally`; the log of a server that failed is in the assertion message."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from app.context import Context
from app.migrate.publish import publish
from app.runtime import VERSION_HEADER
from app.serve_gunicorn import gunicorn_command
from tests.factories import meta_of
from tests.webkit import ROOT, USERS, csrf

SECRET = "test-secret"
START_TIMEOUT = 60.0
#: the line app.wsgi's post_worker_init logs when a worker is ready
READY = re.compile(r"worker (\d+) serves config version")


@dataclass
class Server:
    base: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def ready_pids(self) -> set[int]:
        return {int(m.group(1)) for m in READY.finditer(self.log_text())}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def server_env(ctx: Context, **extra: str) -> dict[str, str]:
    """The environment of a server of `ctx`'s deployment (its config file and database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    return {**env, "CRM_CONFIG": str(ctx.settings.config_file),
            "CRM_DATABASE_URL": ctx.settings.database_url, "CRM_SECRET_KEY": SECRET, **extra}


def wait_until_ready(server: Server, workers: int, timeout: float = START_TIMEOUT) -> None:
    """Until `workers` workers have logged that they serve, and /healthz answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.proc.poll() is None, f"the server stopped:\n{server.log_text()[-4000:]}"
        if len(server.ready_pids()) >= workers:
            try:
                if requests.get(server.base + "/healthz", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"not ready after {timeout} s:\n{server.log_text()[-4000:]}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM (a graceful stop), SIGKILL after `timeout`; the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def launch(ctx: Context, log_dir: Path, *, workers: int, threads: int = 2,
           name: str = "gunicorn") -> Server:
    """Start real gunicorn serving `ctx`'s deployment (not waiting for it: `wait_until_ready`)."""
    port = free_port()
    log = log_dir / f"{name}-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(gunicorn_command("127.0.0.1", port, workers, threads),
                                env=server_env(ctx), cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
    return Server(f"http://127.0.0.1:{port}", port, proc, log)


@contextmanager
def gunicorns(ctxs: list[Context], log_dir: Path, *, workers: int = 3, threads: int = 2
              ) -> Iterator[list[Server]]:
    """One gunicorn per Context, started together; all stopped when the block ends."""
    servers: list[Server] = []
    try:
        for i, ctx in enumerate(ctxs):
            servers.append(launch(ctx, log_dir, workers=workers, threads=threads,
                                  name=f"gunicorn{i}"))
        for server in servers:
            wait_until_ready(server, workers)
        yield servers
    finally:
        for server in servers:
            with suppress(subprocess.TimeoutExpired):  # killed by stop(); on to the next
                stop(server.proc)


@contextmanager
def gunicorn(ctx: Context, log_dir: Path, *, workers: int = 3, threads: int = 2
             ) -> Iterator[Server]:
    """Real gunicorn serving `ctx`'s deployment; stopped when the block ends."""
    with gunicorns([ctx], log_dir, workers=workers, threads=threads) as (server,):
        yield server


def healthz_spread(base: str, requests_: int = 48, concurrency: int = 8
                   ) -> list[tuple[int, int | None, str]]:
    """`requests_` GET /healthz, each on a new connection, `concurrency` at a time (so busy
    workers leave some to the others): (pid, config_version, version header) of each."""

    def one(_i: int) -> tuple[int, int | None, str]:
        resp = requests.get(base + "/healthz", headers={"Connection": "close"}, timeout=10)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        return int(body["pid"]), body["config_version"], resp.headers[VERSION_HEADER]

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(requests_)))


def signed_in(base: str, username: str) -> requests.Session:
    """A `requests` session signed in as one of tests.webkit.USERS."""
    password = dict((u, p) for u, p, _ in USERS)[username]
    session = requests.Session()
    token = csrf(session.get(base + "/login", timeout=10).text)
    resp = session.post(base + "/login", data={"username": username, "password": password,
                                               "csrf_token": token},
                        allow_redirects=False, timeout=30)
    assert resp.status_code == 302, resp.text
    return session


def add_account_field(ctx: Context, name: str = "loyalty_tier",
                      label: str = "Loyalty tier") -> int:
    """Add a string field to account in the deployment's YAML and publish it; the new
    version."""
    folder = Path(ctx.settings.config_file).parent / "schemas"
    path = folder / "account.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["fields"][name] = {"type": "string", "label": {"en": label, "zh": label}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return publish(ctx.engine, meta_of(folder)).version
