"""GET /healthz: no sign-in, JSON with the status, the config version this process serves and
its pid, never cached, and nothing else (no cookie, no other key)."""

from __future__ import annotations

import os
from pathlib import Path

from werkzeug.test import Client

from app.runtime import VERSION_HEADER, Runtime, version_of
from tests.serverkit import add_account_field
from tests.webkit import deployment


def test_healthz_says_status_version_and_pid_only(tmp_path: Path, database_url: str) -> None:
    ctx = deployment(tmp_path, database_url, pack="small")
    try:
        client = Client(Runtime(ctx))
        resp = client.get("/healthz")
        assert resp.status_code == 200 and resp.mimetype == "application/json"
        version = version_of(ctx.engine)
        assert resp.get_json() == {"status": "ok", "config_version": version,
                                   "pid": os.getpid()}
        assert resp.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in resp.headers
        assert resp.headers[VERSION_HEADER] == str(version)
        assert client.post("/healthz").status_code == 405

        new = add_account_field(ctx)
        assert client.get("/healthz").get_json()["config_version"] == new
    finally:
        ctx.dispose()
