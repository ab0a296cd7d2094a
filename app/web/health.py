"""`GET /healthz`: a load balancer's (and an operator's) check that this process serves.

No sign-in, no database access beyond what every request does (the Runtime's version read), and
nothing but the status, the config version this process's app serves and the process id (which
gunicorn worker answered). Never cached, so a check sees the version of *this* request.
"""

from __future__ import annotations

import os

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.web.state import state

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """{"status": "ok", "config_version": N (null before any publish), "pid": P}."""
    resp = jsonify(status="ok", config_version=state().version, pid=os.getpid())
    resp.headers["Cache-Control"] = "no-store"
    return resp
