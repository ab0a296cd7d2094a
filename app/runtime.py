"""Live config: a WSGI object that serves each request on the config version that is live.

Per request it reads the newest `sys_config_version` id (one indexed read). When it changed, it
builds the new version's models and a NEW Flask app (flask-admin cannot add views after its first
request) under a lock, swaps the reference and clears the engine's compiled-statement cache (old
classes would leak through it). Requests already running finish on the app they started with.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy
import sqlalchemy as sa

from app.context import Context
from app.meta.types import Meta
from app.migrate.publish import active_version, current_version_id
from app.model.build import Models, build_models

if TYPE_CHECKING:
    from flask import Flask

#: the response header naming the config version a response was served on
VERSION_HEADER = "X-CRM-Config-Version"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Live:
    """One config version, ready to serve."""

    version: int | None
    meta: Meta | None
    models: Models | None
    app: Flask


class Runtime:
    """The WSGI entry point: `Runtime(ctx)` is what `crm serve` and gunicorn run."""

    def __init__(self, ctx: Context, plugins: pluggy.PluginManager | None = None,
                 *, check_every_request: bool = True) -> None:
        self.ctx = ctx
        self.plugins = plugins if plugins is not None else ctx.plugins
        self.check_every_request = check_every_request
        self._lock = threading.Lock()
        self._live: Live | None = None

    def current(self) -> Live:
        """The live version's app, rebuilt when another process published a new version."""
        live = self._live
        if live is not None and not self.check_every_request:
            return live
        with self.ctx.engine.connect() as conn:
            version = current_version_id(conn)
        if live is not None and live.version == version:
            return live
        with self._lock:
            live = self._live
            if live is None or live.version != version:
                live = self._build()
                self._live = live
                self.ctx.engine.clear_compiled_cache()
        return live

    def _build(self) -> Live:
        from app.web import create_app

        with self.ctx.engine.connect() as conn:
            version, meta = active_version(conn)
        models = build_models(meta) if meta is not None else None
        app = create_app(self.ctx, meta=meta, models=models, version=version,
                         plugins=self.plugins)
        return Live(version, meta, models, app)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        """Serve on the live version; every response (pages, API, static files, errors) says
        which one in `X-CRM-Config-Version` ("none" before the first publish)."""
        live = self.current()
        header = (VERSION_HEADER, "none" if live.version is None else str(live.version))

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if k.lower() != VERSION_HEADER.lower()]
            return start_response(status, [*kept, header], exc_info)

        return live.app(environ, start)

    @property
    def app(self) -> Flask:
        """The Flask app of the live version (for tests: `runtime.app.test_client()` serves
        one version; use `werkzeug.test.Client(runtime)` to follow publishes)."""
        return self.current().app


def version_of(engine: sa.Engine) -> int | None:
    with engine.connect() as conn:
        return current_version_id(conn)
