"""Sales targets in the REST API (app/targets does the work), nested under `/api/v1` through
the `crm_api_blueprints` hook (this module is a built-in plugin):

- `GET /targets/metrics`: the metrics targets can be set on;
- `GET /targets/attainment?period=2026-Q4&metric=revenue`: every rep and team with target,
  actual and attainment (amounts only where the caller may see them: docs/targets.md);
- `GET /targets/leaderboard?period=...&metric=...`: the ranked reps, the unranked ones, and
  the team subtotals.

`period` is `2026-Q4`, `2026-11`, `this_quarter`, `last_month` ... (default: this quarter);
`metric` a metric's name (default: the first). A bad one is a 400, a caller who may not see
targets a 403, an unknown metric a 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from app.api.auth import api_actor
from app.i18n import _, get_locale
from app.plugins import hookimpl
from app.targets.service import (
    TargetsError,
    board_for,
    board_json,
    line_json,
    metrics_of,
    visibility,
)
from app.web.state import records

bp = Blueprint("api_targets", __name__)
PARAMS = ("period", "metric")


@hookimpl
def crm_api_blueprints() -> list[Blueprint]:
    return [bp]


def _args() -> tuple[str | None, str | None]:
    for key in request.args:
        if key not in PARAMS:
            raise TargetsError(_("Unknown parameter '%(name)s'.", name=key[:60]))
    return request.args.get("period"), request.args.get("metric")


@bp.get("/targets/metrics")
def metrics() -> Response:
    rec = records()
    locale = get_locale()
    found = list(metrics_of(rec).values())
    if found:
        visibility(rec, api_actor(), found[0])  # Forbidden: no targets for this caller
    return jsonify({"data": [{"name": m.name, "label": m.label_for(locale), "entity": m.entity,
                              "measure": m.measure, "field": m.field, "date": m.date,
                              "user": m.user, "kind": m.kind} for m in found]})


@bp.get("/targets/attainment")
def attainment() -> Response:
    period, metric = _args()
    board = board_for(records(), api_actor(), period, metric)
    return jsonify(board_json(board, get_locale()))


@bp.get("/targets/leaderboard")
def leaderboard() -> Response:
    period, metric = _args()
    board = board_for(records(), api_actor(), period, metric)
    body: dict[str, Any] = board_json(board, get_locale())
    reps = body.pop("reps")
    body["ranking"] = [r for r in reps if r["rank"] is not None]
    body["unranked"] = [r for r in reps if r["rank"] is None]
    body["teams"] = [line_json(t) for t in board.teams]
    return jsonify(body)
