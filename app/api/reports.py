"""Reports and dashboards in the REST API (app/reports does the work; these routes read the
request, call it and answer JSON):

- `GET /reports`: the reports the caller may run: the config's, their own, others' shared ones;
- `GET /reports/<ref>`: one report's definition (`ref`: a config report's name or `u<id>`);
- `GET /reports/<ref>/result`: its rows and totals, computed over the records the caller may
  read, labels in the request's language;
- `GET /reports/<ref>/drill?key=...`: the list query of the records behind one row (one `key`
  per grouping, as the result's `key_params` give them): its list page and API addresses;
- `POST /reports`, `PUT|DELETE /reports/<ref>`: the caller's own reports (an admin: any user
  report); config reports are changed in reports/*.yaml (403);
- `GET /dashboards`: the config dashboards of the caller's roles and their own.

A report the caller may not see is a 404; one whose entity or fields they may not read a 403;
a definition that does not fit the config a 422 whose `error.problems` lists every problem.
The shapes are in app/api/reports_openapi.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from app.api.auth import api_user, api_user_id
from app.i18n import _, get_locale
from app.meta.listconf import fields_of
from app.meta.types import Meta, thaw
from app.records import NotFound, queryparams
from app.records import query as q
from app.records.errors import Forbidden
from app.reports import store
from app.reports.compute import drill_query, key_param, parse_keys, run_report
from app.reports.definition import (
    DefinitionError,
    check_report,
    data_of_dashboard,
    data_of_report,
    report_from_data,
)
from app.reports.limits import unstorable_at
from app.reports.types import DashboardDef, ReportDef
from app.web.state import meta, records, state

bp = Blueprint("api_reports", __name__)
#: keys of a POST/PUT body besides the definition's
BODY_KEYS = ("name", "shared")
MAX_BODY_NAME = 120


# --- JSON ------------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """A key or measure value as JSON: decimals as exact text (like record values), dates
    and times as ISO text."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return value


def ref_of(r: ReportDef) -> str:
    return f"u{r.ref}" if r.origin == "user" and r.ref is not None else r.name


def _summary(r: ReportDef, *, owner: str | None = None, editable: bool = False
             ) -> dict[str, Any]:
    locale = get_locale()
    e = _live().entities.get(r.entity)
    return {"ref": ref_of(r), "origin": r.origin, "label": r.label_for(locale),
            "entity": r.entity, "entity_label": e.plural_for(locale) if e else r.entity,
            "chart": r.chart, "owner": owner, "editable": editable}


def _detail(r: ReportDef, *, shared: bool = False, editable: bool = False) -> dict[str, Any]:
    return {**_summary(r, editable=editable), "shared": shared,
            "definition": plain_tree(data_of_report(r))}


def plain_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: plain_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_tree(v) for v in value]
    return plain(value)


# --- finding ---------------------------------------------------------------------------------
def _live() -> Meta:
    """The live config (all of it: the reports, dashboards and alerts are not per user)."""
    found = state().meta
    if found is None:
        abort(503)
    return found


def _find(ref: str) -> ReportDef:
    with state().ctx.engine.connect() as conn:
        r = store.get_report(_live(), conn, api_user(), ref)
    if r is None:
        raise NotFound(_("There is no report '%(ref)s'.", ref=ref[:80]))
    return r


def _user_facts(r: ReportDef) -> tuple[bool, bool]:
    """(shared, editable by the caller) of a user report; (False, False) for config ones."""
    if r.origin != "user" or r.ref is None:
        return False, False
    with state().ctx.engine.connect() as conn:
        return store.is_shared(conn, r.ref), store.may_change(conn, api_user(), r.ref)


# --- routes ----------------------------------------------------------------------------------
@bp.get("/reports")
def list_reports() -> Response:
    rec = records()
    seen = meta()
    acc = rec.access()
    out = [_summary(r) for r in _live().reports.values()
           if acc.allows(r.entity, "read") and not check_report(seen, r, rec.registry)]
    with state().ctx.engine.connect() as conn:
        own, shared = store.reports_visible_to(conn, api_user_id())
    out += [_summary(r, owner=api_user().username, editable=True) for r in own
            if r.entity in seen.entities and acc.allows(r.entity, "read")]
    out += [_summary(r, owner=owner, editable=store.is_admin(api_user()))
            for r, owner in shared
            if r.entity in seen.entities and acc.allows(r.entity, "read")]
    return jsonify({"data": out})


@bp.get("/reports/<ref>")
def get_report(ref: str) -> Response:
    r = _find(ref)
    shared, editable = _user_facts(r)
    if not editable and r.entity in _live().entities:
        records().readable(r.entity)  # Forbidden: another's report on records not theirs
    return jsonify(_detail(r, shared=shared, editable=editable))


@bp.get("/reports/<ref>/result")
def report_result(ref: str) -> Response:
    for key in request.args:
        raise q.QueryError(_("Unknown parameter '%(name)s'.", name=key[:60]))
    r = _find(ref)
    rec = records()
    locale = get_locale()
    result = run_report(rec, r, me=api_user_id(), locale=locale)
    known = fields_of(rec.entity(r.entity))
    groupings = [{"field": g.field, "bucket": g.bucket,
                  "label": known[g.field].label_for(locale) if g.field in known else g.field}
                 for g in r.group_by]
    measures = [{"key": m.key, "agg": m.agg, "field": m.field, "label": m.label_for(locale)}
                for m in r.measures]
    rows = [{"keys": [plain(k) for k in row.keys],
             "key_params": [key_param(k) for k in row.keys],
             "labels": list(row.labels),
             "values": {k: plain(v) for k, v in row.values.items()}} for row in result.rows]
    return jsonify({"ref": ref_of(r), "label": r.label_for(locale), "entity": r.entity,
                    "chart": r.chart, "groupings": groupings, "measures": measures,
                    "rows": rows, "totals": {k: plain(v) for k, v in result.totals.items()},
                    "truncated": result.truncated})


@bp.get("/reports/<ref>/drill")
def report_drill(ref: str) -> Response:
    for key in request.args:
        if key != "key":
            raise q.QueryError(_("Unknown parameter '%(name)s'.", name=key[:60]))
    r = _find(ref)
    rec = records()
    keys = parse_keys(rec, r, request.args.getlist("key"))
    query = drill_query(rec, r, keys, me=api_user_id())
    params = queryparams.to_params(query)
    api_params = [(k, v) for k, v in params if k.startswith("f.") or k == "owner"]
    page = q.run(rec, r.entity, replace(query, page_size=1, columns=()))
    return jsonify({"entity": r.entity, "keys": [plain(k) for k in keys],
                    "params": [list(p) for p in params],
                    "list_url": f"/{r.entity}/?{urlencode(params)}",
                    "api_url": f"/api/v1/{r.entity}?{urlencode(api_params)}",
                    "count": page.count, "count_is_estimate": page.count_capped})


def _body() -> dict[str, Any]:
    if not request.is_json:
        raise UnsupportedMediaType(_("Send the report as JSON (Content-Type: "
                                     "application/json)."))
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes
        body = None
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be one JSON object."))
    return body


def _problems(problems: list[str]) -> ResponseReturnValue:
    from app.api import error_body

    return error_body(422, problems[0], problems=problems, fields={"report": problems}), 422


def _definition(body: dict[str, Any], name: str) -> tuple[ReportDef | None, list[str]]:
    """The report of a POST/PUT body and the problems with it (shape, then the config as
    the caller sees it); Forbidden when they may not read its entity."""
    data = {k: v for k, v in body.items() if k not in BODY_KEYS}
    shared = body.get("shared", False)
    if not isinstance(shared, bool):
        return None, [_("shared must be true or false.")]
    try:
        r = report_from_data(name, data)
    except DefinitionError as exc:
        return None, exc.problems
    rec = records()
    if r.entity in _live().entities:
        rec.readable(r.entity)  # Forbidden: they may not read these records
    problems = check_report(meta(), r, rec.registry)
    return (None, problems) if problems else (r, [])


def _name(body: dict[str, Any]) -> str:
    name = body.get("name", "report")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_BODY_NAME \
            or unstorable_at(name) is not None:
        raise BadRequest(_("name must be text of 1 to %(n)s characters.", n=MAX_BODY_NAME))
    return name.strip()


def _named(r: ReportDef, body: dict[str, Any]) -> ReportDef:
    """`r` labelled with the body's `name` when it has no label of its own (else the lists
    would call it `U12`)."""
    if r.label or not isinstance(body.get("name"), str):
        return r
    return replace(r, label={"en": _name(body)})


@bp.post("/reports")
def create_report() -> ResponseReturnValue:
    body = _body()
    r, problems = _definition(body, _name(body))
    if r is None:
        return _problems(problems)
    r = _named(r, body)
    with state().ctx.engine.begin() as conn:
        rid = store.save_report(conn, api_user_id(), r, shared=bool(body.get("shared")))
    made = replace(r, name=f"u{rid}", origin="user", ref=rid)
    return jsonify(_detail(made, shared=bool(body.get("shared")), editable=True)), 201, {
        "Location": url_for(".get_report", ref=f"u{rid}")}


def _own(ref: str) -> ReportDef:
    """The user report `ref` the caller may change (404 / 403 otherwise)."""
    r = _find(ref)
    if r.origin != "user" or r.ref is None:
        raise Forbidden(_("Reports of the configuration are changed in reports/*.yaml."))
    with state().ctx.engine.connect() as conn:
        store.check_may_change(conn, api_user(), r.ref)
    return r


@bp.put("/reports/<ref>")
def update_report(ref: str) -> ResponseReturnValue:
    old = _own(ref)
    body = _body()
    new, problems = _definition(body, old.name)
    if new is None:
        return _problems(problems)
    new = _named(new, body)
    assert old.ref is not None
    shared = body.get("shared") if "shared" in body else None
    with state().ctx.engine.begin() as conn:
        store.update_report(conn, old.ref, new, shared=shared)
    return get_report(ref)


@bp.delete("/reports/<ref>")
def delete_report(ref: str) -> ResponseReturnValue:
    r = _own(ref)
    assert r.ref is not None
    with state().ctx.engine.begin() as conn:
        store.delete_report(conn, r.ref)
    return "", 204


def _dashboard(d: DashboardDef) -> dict[str, Any]:
    locale = get_locale()
    data = data_of_dashboard(d)
    return {"ref": f"u{d.ref}" if d.origin == "user" and d.ref is not None else d.name,
            "origin": d.origin, "label": d.label_for(locale), "roles": list(d.roles),
            "widgets": [{**w, "title": thaw(w.get("title") or {})} for w in data["widgets"]]}


@bp.get("/dashboards")
def list_dashboards() -> Response:
    for key in request.args:
        raise q.QueryError(_("Unknown parameter '%(name)s'.", name=key[:60]))
    with state().ctx.engine.connect() as conn:
        found = store.dashboards_for(_live(), conn, api_user())
    return jsonify({"data": [_dashboard(d) for d in found]})

