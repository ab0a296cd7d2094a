"""`/api/v1/reports` and `/api/v1/dashboards`: the reports a caller may run, definitions,
results over their own records, drill-down, building, changing and deleting their own reports
(422 with every problem, 403 for others' and the config's, 404 for private ones), dashboards
per role, and the OpenAPI document's description of it all (schemathesis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.context import Context
from tests.apikit import conformance_failures, error_of, token_for
from tests.reportskit import deals, report_deployment
from tests.webkit import web_app

API = "/api/v1"


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = report_deployment(tmp_path, database_url)
    try:
        deals(made)
        yield made
    finally:
        made.dispose()


@pytest.fixture
def app(ctx: Context) -> Flask:
    return web_app(ctx)


def call(app: Flask, ctx: Context, method: str, url: str, user: str = "rep",
         **kw: Any) -> Any:
    return app.test_client().open(API + url, method=method, headers={
        **token_for(ctx, user), **kw.pop("headers", {})}, **kw)


NEW = {"label": {"en": "Deals by stage"}, "entity": "opportunity", "group_by": ["stage"],
       "measures": ["count", {"agg": "sum", "field": "amount"}], "chart": "bar"}


def test_the_reports_a_caller_may_run(app: Flask, ctx: Context) -> None:
    refs = {r["ref"] for r in call(app, ctx, "GET", "/reports").get_json()["data"]}
    assert {"pipeline_by_stage", "won_by_month", "leads_by_source", "campaign_roi"} <= refs
    assert "open_cases_by_priority" in refs  # a rep may read their own cases
    service = {r["ref"] for r in call(app, ctx, "GET", "/reports", "svcboss")
               .get_json()["data"]}
    assert "open_cases_by_priority" in service and "pipeline_by_stage" not in service
    one = call(app, ctx, "GET", "/reports/pipeline_by_stage").get_json()
    assert (one["origin"], one["label"], one["editable"], one["definition"]["chart"]) == (
        "config", "Pipeline by stage", False, "funnel")
    assert error_of(call(app, ctx, "GET", "/reports/nothing"))["status"] == 404


def test_results_count_the_callers_records_in_their_language(app: Flask, ctx: Context
                                                             ) -> None:
    body = call(app, ctx, "GET", "/reports/pipeline_by_stage/result",
                headers={"Accept-Language": "zh-CN"}).get_json()
    assert [(r["keys"], r["labels"], r["values"]) for r in body["rows"]] == [
        (["prospecting"], ["初步接洽"], {"count": 1, "sum_amount": "100.00"}),
        (["proposal"], ["方案报价"], {"count": 1, "sum_amount": "200.00"})]
    assert body["totals"] == {"count": 2, "sum_amount": "300.00"}
    assert body["measures"][1] == {"key": "sum_amount", "agg": "sum", "field": "amount",
                                   "label": "金额"}
    months = call(app, ctx, "GET", "/reports/won_by_month/result", "admin").get_json()
    assert [(r["keys"], r["key_params"]) for r in months["rows"]] == [
        (["2026-02-01"], ["2026-02-01"]), (["2026-03-01"], ["2026-03-01"])]
    denied = call(app, ctx, "GET", "/reports/pipeline_by_stage/result", "svcboss")
    assert error_of(denied)["status"] == 403
    assert error_of(call(app, ctx, "GET", "/reports/won_by_month/result?x=1"))["status"] == 400


def test_drill_down_to_the_records_behind_a_row(app: Flask, ctx: Context) -> None:
    body = call(app, ctx, "GET", "/reports/won_by_month/drill?key=2026-03-01", "admin")
    drill = body.get_json()
    assert (drill["entity"], drill["count"], drill["keys"]) == ("opportunity", 2,
                                                                ["2026-03-01"])
    assert drill["list_url"] == ("/opportunity/?size=50&f.stage.eq=won&f.close_date.between="
                                 "2026-03-01&f.close_date.between=2026-03-31")
    listed = app.test_client().get(drill["api_url"], headers=token_for(ctx, "admin"))
    assert listed.get_json()["count"] == 2
    assert call(app, ctx, "GET", "/reports/won_by_month/drill?key=2026-03-01").get_json()[
        "count"] == 1  # the rep's own
    assert error_of(call(app, ctx, "GET", "/reports/won_by_month/drill"))["status"] == 400
    bad = call(app, ctx, "GET", "/reports/won_by_month/drill?key=March")
    assert error_of(bad)["status"] == 400


def test_build_change_and_delete_ones_own(app: Flask, ctx: Context) -> None:
    made = call(app, ctx, "POST", "/reports", json={**NEW, "shared": True})
    assert made.status_code == 201, made.text
    ref = made.get_json()["ref"]
    assert made.headers["Location"].endswith(f"/reports/{ref}")
    assert made.get_json()["editable"] and made.get_json()["shared"]
    result = call(app, ctx, "GET", f"/reports/{ref}/result").get_json()
    assert result["totals"] == {"count": 4, "sum_amount": "1000.00"}
    # others see a shared report but may not change it; an admin may
    seen = call(app, ctx, "GET", f"/reports/{ref}", "rep2").get_json()
    assert (seen["owner"], seen["editable"]) == (None, False)
    assert ref in {r["ref"] for r in call(app, ctx, "GET", "/reports", "rep2")
                   .get_json()["data"]}
    assert error_of(call(app, ctx, "PUT", f"/reports/{ref}", "rep2", json=NEW))["status"] == 403
    assert error_of(call(app, ctx, "DELETE", f"/reports/{ref}", "rep2"))["status"] == 403
    changed = call(app, ctx, "PUT", f"/reports/{ref}", json={**NEW, "chart": "pie",
                                                               "shared": False})
    assert changed.status_code == 200, changed.text
    assert (changed.get_json()["definition"]["chart"], changed.get_json()["shared"]) == (
        "pie", False)
    assert error_of(call(app, ctx, "GET", f"/reports/{ref}", "rep2"))["status"] == 404
    assert call(app, ctx, "PUT", f"/reports/{ref}", "admin", json=NEW).status_code == 200
    assert call(app, ctx, "DELETE", f"/reports/{ref}").status_code == 204
    assert error_of(call(app, ctx, "GET", f"/reports/{ref}"))["status"] == 404


def test_definitions_that_do_not_fit_are_422_with_every_problem(app: Flask, ctx: Context
                                                                ) -> None:
    bad = call(app, ctx, "POST", "/reports", json={
        **NEW, "group_by": ["stge", {"field": "amount", "bucket": "month"}]})
    problems = error_of(bad)["problems"]
    assert bad.status_code == 422 and problems == [
        "Opportunity has no field 'stge' (did you mean 'stage'?).",
        "Cannot group Amount by month: only date fields have buckets."]
    hidden = call(app, ctx, "POST", "/reports", json={
        **NEW, "measures": [{"agg": "avg", "field": "margin"}]})
    assert error_of(hidden)["problems"] == ["Opportunity has no field 'margin'."]
    shape = call(app, ctx, "POST", "/reports", json={**NEW, "colour": "red"})
    assert "unknown key 'colour'" in error_of(shape)["problems"][0]
    assert error_of(call(app, ctx, "POST", "/reports", json={**NEW, "shared": "yes"}))[
        "status"] == 422
    assert error_of(call(app, ctx, "POST", "/reports", "svcboss", json=NEW))["status"] == 403
    assert error_of(call(app, ctx, "POST", "/reports", data="x"))["status"] == 415
    assert error_of(call(app, ctx, "PUT", "/reports/pipeline_by_stage", "admin",
                         json=NEW))["status"] == 403


def test_dashboards_per_role(app: Flask, ctx: Context) -> None:
    rep = call(app, ctx, "GET", "/dashboards").get_json()["data"]
    assert [(d["ref"], d["origin"]) for d in rep] == [("sales", "config")]
    assert rep[0]["widgets"][0] == {"report": "pipeline_by_stage", "width": 6, "title": {}}
    service = call(app, ctx, "GET", "/dashboards", "svcboss").get_json()["data"]
    assert [d["ref"] for d in service] == ["service"]


def test_the_openapi_document_describes_the_routes(app: Flask, ctx: Context) -> None:
    doc = call(app, ctx, "GET", "/openapi.json").get_json()
    assert {"/reports", "/reports/{ref}", "/reports/{ref}/result", "/reports/{ref}/drill",
            "/dashboards"} <= set(doc["paths"])
    operations, failures = conformance_failures(app, token_for(ctx, "rep"),
                                                "^/(reports|dashboards)")
    assert operations == 8
    assert not failures, "\n\n".join(failures)
