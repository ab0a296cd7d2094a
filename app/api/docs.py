"""`/api/v1/docs`: Swagger UI over this deployment's OpenAPI document, served from the
installed `swagger-ui-py` package's files (no CDN). Signed-in users only: the page reads
`openapi.json` with the browser session, and "Try it out" sends the CSRF header."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import Blueprint, abort, render_template, send_from_directory
from flask.typing import ResponseReturnValue
from flask_login import login_required

bp = Blueprint("api_docs", __name__, template_folder="templates")
#: the Swagger UI files the page needs, and nothing else of the package
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})


def assets_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - a dependency
        raise RuntimeError("swagger-ui-py is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@bp.get("/api/v1/docs")
@login_required
def docs() -> ResponseReturnValue:
    return render_template("api/docs.html")


@bp.get("/api/v1/docs/assets/<name>")
def asset(name: str) -> ResponseReturnValue:
    if name not in ASSETS:
        abort(404)
    return send_from_directory(assets_dir(), name, max_age=86400)
