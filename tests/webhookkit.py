"""Test kit for webhooks and automations: a local HTTP receiver and a small deployment whose
workflows folder declares them, with the records service wired to the built-in plugins."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app.context import Context
from app.migrate.publish import publish
from app.model.build import build_models
from app.plugins import make_plugin_manager
from app.records import Records
from tests.webkit import deployment


@dataclass
class Received:
    path: str
    #: the request's headers (case-insensitive, as HTTP header names are)
    headers: Message
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the local server got, and the status codes it answers with, in order (the last
    one repeats)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=lambda: [200])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@contextmanager
def receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            rec = box[0]
            with rec.lock:
                rec.requests.append(Received(self.path, self.headers, body))
            status = rec.next_status()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", rec.url + "/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(f"http://127.0.0.1:{server.server_port}",
                        statuses=list(statuses or [200])))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()


def events_deployment(folder: Path, database_url: str, workflows: str, *,
                      task_queue: str = "immediate", extra: str = "") -> Context:
    """The small pack (account, contact) with `workflows` as workflows/integrations.yaml,
    published. The caller disposes the Context."""
    wf = folder / "workflows"
    wf.mkdir(parents=True, exist_ok=True)
    (wf / "integrations.yaml").write_text(workflows, encoding="utf-8")
    ctx = deployment(folder, database_url, pack="small",
                     extra_config=f"workflows: workflows\ntask_queue: {task_queue}\n"
                                  f"webhook_max_attempts: 3\n{extra}")
    publish(ctx.engine, ctx.yaml_meta())
    return ctx


def records(ctx: Context) -> Records:
    """The records service of the live version, with the built-in plugins (events included)."""
    return Records(ctx.engine, build_models(ctx.yaml_meta()),
                   plugins=make_plugin_manager(entry_points=False))


def deliveries(ctx: Context) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from app.model.system_events import webhook_deliveries as t

    with ctx.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(t.c.id))]


def runs(ctx: Context) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from app.model.system_events import automation_runs as t

    with ctx.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(t.c.id))]
