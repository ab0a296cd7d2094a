"""`crm serve --workers 2`: gunicorn with two workers answering /healthz, one session key for
both (even a generated one), and a stop that leaves nothing behind: SIGTERM or Ctrl-C stops
gunicorn and its workers and frees the port; a killed `crm serve` takes its gunicorn with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from app.context import Context
from tests.serverkit import Server, free_port, port_is_free, server_env, signed_in, stop
from tests.webkit import ROOT, deployment

DEADLINE = 60.0


def crm_serve(ctx: Context, log_dir: Path, *, secret: bool = True) -> Server:
    port = free_port()
    env = server_env(ctx)
    if not secret:
        del env["CRM_SECRET_KEY"]
    log = log_dir / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "crm"), "serve", "--workers", "2",
             "--port", str(port)], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    return Server(f"http://127.0.0.1:{port}", port, proc, log)


def pids_answering(server: Server, want: int) -> set[int]:
    """Poll /healthz (new connections, two at a time) until `want` pids have answered."""
    from concurrent.futures import ThreadPoolExecutor

    seen: set[int] = set()
    deadline = time.monotonic() + DEADLINE

    def one(_i: int) -> int | None:
        try:
            resp = requests.get(server.base + "/healthz", headers={"Connection": "close"},
                                timeout=10)
        except requests.ConnectionError:
            return None
        return int(resp.json()["pid"]) if resp.status_code == 200 else None

    with ThreadPoolExecutor(4) as pool:
        while len(seen) < want:
            assert server.proc.poll() is None, server.log_text()[-4000:]
            assert time.monotonic() < deadline, f"pids {seen}:\n{server.log_text()[-4000:]}"
            seen |= {pid for pid in pool.map(one, range(8)) if pid is not None}
            if not seen:
                time.sleep(0.05)
    return seen


def running(pid: int) -> bool:
    """Whether `pid` is a live process (not gone, not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def serving_port(port: int) -> list[int]:
    """Pids whose command line binds `port` (a gunicorn master or worker left behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if f"127.0.0.1:{port}".encode() in cmdline and running(int(entry.name)):
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])  # SIGINT: Ctrl-C
def test_serve_with_two_workers_and_stop_cleanly(tmp_path: Path, database_url: str,
                                                 stop_signal: signal.Signals) -> None:
    ctx = deployment(tmp_path, database_url, pack="small")
    server = crm_serve(ctx, tmp_path, secret=False)  # crm makes a key and hands it on
    try:
        workers = pids_answering(server, 2)
        assert len(workers) == 2 and server.proc.pid not in workers
        assert len(serving_port(server.port)) == 3  # gunicorn's master and two workers
        with signed_in(server.base, "admin") as admin:
            for _ in range(12):  # new connections: the session holds on whichever worker
                resp = admin.get(server.base + "/account/", headers={"Connection": "close"},
                                 allow_redirects=False, timeout=10)
                assert resp.status_code == 200, "signed out: the workers' keys differ"
        server.proc.send_signal(stop_signal)
        assert server.proc.wait(DEADLINE) == 0
    finally:
        stop(server.proc)
        ctx.dispose()
    log = server.log_text()
    assert "with gunicorn (2 workers" in log and "Traceback" not in log
    assert port_is_free(server.port)
    assert not [pid for pid in workers if running(pid)]
    assert serving_port(server.port) == []


def test_a_killed_crm_serve_takes_gunicorn_with_it(tmp_path: Path, database_url: str) -> None:
    ctx = deployment(tmp_path, database_url, pack="small")
    server = crm_serve(ctx, tmp_path)
    try:
        workers = pids_answering(server, 1)
        left = serving_port(server.port)
        assert left
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(DEADLINE)
        deadline = time.monotonic() + DEADLINE
        while (serving_port(server.port) or not port_is_free(server.port)) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert serving_port(server.port) == [] and port_is_free(server.port)
        assert not [pid for pid in workers if running(pid)]
    finally:
        stop(server.proc)
        for pid in serving_port(server.port):  # only what this test started
            os.kill(pid, signal.SIGKILL)
        ctx.dispose()
