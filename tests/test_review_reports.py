"""Review of reports, dashboards and alerts: defects a user would hit, each test naming its
defect. Alerts telling roles numbers of records they may not read, alerts on a yes/no or a
decimal group that never fired, filter and drill-down values beyond their columns (500s),
exports of a report whose entity the config removed, sums and averages that differed between
SQLite and PostgreSQL, text no database stores (one shared report broke every user's report
list), deep JSON, API definitions of reports the caller may not run, API names shown as `U1`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app import clock
from app.context import Context
from app.meta.errors import ConfigErrors
from app.meta.loader import load_meta
from app.model.reports import user_reports
from app.reports import store
from app.reports.alerts import check_alert, check_alerts
from app.reports.definition import report_from_data
from app.reports.types import AlertDef
from tests.apikit import error_of, token_for
from tests.factories import ROLES
from tests.reportskit import deals, records, report_deployment
from tests.webkit import ROOT, sign_in, user_id, web_app

API = "/api/v1"
OWN_REPORTS = """\
reports:
  open_deals:
    entity: opportunity
    filters: [{field: stage, op: not_in, values: [won, lost]}]
    measures: [count]
  margins:
    entity: opportunity
    measures: [{agg: sum, field: margin}]
  vip_accounts:
    entity: account
    group_by: [vip]
    measures: [count]
  deals_by_amount:
    entity: opportunity
    group_by: [amount]
    measures: [count]
alerts:
  vips:
    report: vip_accounts
    group: [true]
    when: {op: ">=", value: 1}
    notify: [sales_manager]
  hundreds:
    report: deals_by_amount
    group: [100]
    when: {op: ">=", value: 1}
    notify: [sales_manager]
"""


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


def api(app: Flask, ctx: Context, method: str, url: str, user: str = "rep",
        body: Any = None, raw: str | None = None) -> Any:
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    return app.test_client().open(API + url, method=method, data=data, headers={
        **token_for(ctx, user), "Content-Type": "application/json"})


def saved(ctx: Context, user: str, data: dict[str, Any], *, shared: bool = False) -> str:
    """A user report stored as an older version (or another client) could have: no checks."""
    with ctx.engine.begin() as conn:
        rid = store.save_report(conn, user_id(ctx, user), report_from_data("x", data),
                                shared=shared)
    return f"u{rid}"


def test_alerts_tell_only_users_who_may_read_the_reports_records(
        tmp_path: Path, database_url: str) -> None:
    """Defect: an alert told every user of its `notify` roles the report's value, even users
    who may not read the report's entity (a service manager learnt the pipeline) or a field it
    sums (sales reps learnt the total of `margin`, hidden from them)."""
    made = report_deployment(tmp_path, database_url, {"own.yaml": OWN_REPORTS})
    try:
        deals(made)
        rs = records(made)
        leak = AlertDef("leak", "open_deals", ">", 0,
                        notify=("service_manager", "sales_manager"))
        done = check_alert(rs, made.settings, leak)
        assert done.holds and done.notified == (user_id(made, "manager"),)
        margin = AlertDef("margin", "margins", ">=", 0, notify=("sales_rep", "sales_manager"))
        rs.update("opportunity", rs.get("opportunity", 1)["id"], {"margin": 10})
        done = check_alert(rs, made.settings, margin)
        assert done.holds and done.notified == (user_id(made, "manager"),)
    finally:
        made.dispose()


def test_the_config_refuses_alerts_telling_roles_that_may_not_read(tmp_path: Path) -> None:
    """Defect: the config accepted an alert whose `notify` roles may not read the report's
    records (or a field it uses), and a `group` key that does not fit its field (an alert that
    could never fire); now CRM-E126 and CRM-E125 name them."""
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a.yaml").write_text(OWN_REPORTS + """\
  pipeline_to_service:
    report: open_deals
    when: {op: ">", value: 5}
    notify: [sales_manager, service_manager]
  margins_to_reps:
    report: margins
    measure: sum_margin
    when: {op: ">", value: 5}
    notify: [sales_rep]
  maybe_vips:
    report: vip_accounts
    group: [perhaps]
    when: {op: ">", value: 5}
    notify: [sales_manager]
""", encoding="utf-8")
    with pytest.raises(ConfigErrors) as info:
        load_meta([ROOT / "schemas"], ROLES, report_dirs=[folder])
    found = sorted((e.code, e.message) for e in info.value.errors)
    assert [code for code, _m in found] == ["CRM-E125", "CRM-E126", "CRM-E126"]
    assert "'perhaps' does not fit VIP" in found[0][1]
    assert "Role 'sales_rep'" in found[1][1] and "margin is hidden from it" in found[1][1]
    assert "Role 'service_manager'" in found[2][1] and "may not read Opportunities" in found[2][1]
    assert "sales_manager" not in found[2][1]
    # the shipped alerts tell roles that may read what they watch
    assert load_meta([ROOT / "schemas"], ROLES, report_dirs=[ROOT / "reports"]).alerts


def test_alerts_on_a_yes_no_or_a_decimal_group_fire(tmp_path: Path, database_url: str
                                                    ) -> None:
    """Defect: an alert's `group` was compared as text with the row's keys, so `group:
    [true]` (YAML's yes) never matched the key `yes`, nor `[100]` an amount of `100.00`: those
    alerts never fired."""
    clock.set_now(datetime(2026, 5, 4, 9, 0, tzinfo=UTC))
    made = report_deployment(tmp_path, database_url, {"own.yaml": OWN_REPORTS})
    try:
        deals(made)
        records(made).create("account", {"name": "Big 大客户", "vip": True})
        done = {c.alert: c for c in check_alerts(records(made), made.settings, force=True)}
        assert (done["vips"].value, done["vips"].holds) == (1.0, True)
        assert (done["hundreds"].value, done["hundreds"].holds) == (1.0, True)
        assert done["vips"].notified == (user_id(made, "manager"),)
    finally:
        clock.set_now(None)
        made.dispose()


def test_filter_values_beyond_their_columns_are_refused_not_a_500(app: Flask, ctx: Context
                                                                  ) -> None:
    """Defect: a filter value beyond its column (a record id past an SQL INTEGER, a whole
    number past a BIGINT, 9999-12-31 on a date-and-time field, whose whole day ends in year
    10000) was saved and then broke every run of the report, its dashboards and the home page
    with a 500 (OverflowError, DataError)."""
    for flt in ({"field": "account", "op": "eq", "value": 10**30},
                {"field": "account", "op": "in", "values": [3_000_000_000]},
                {"field": "created_at", "op": "lte", "value": "9999-12-31"}):
        resp = api(app, ctx, "POST", "/reports", body={"entity": "opportunity",
                                                       "filters": [flt]})
        assert resp.status_code == 422, resp.text
        assert "out of range" in error_of(resp)["message"]
    resp = api(app, ctx, "POST", "/reports", body={"entity": "account", "filters": [
        {"field": "employees", "op": "gt", "value": "99999999999999999999"}]})
    assert resp.status_code == 422 and "Employees" in error_of(resp)["message"]
    # one saved before these checks is a 400 with the reason, on every page that runs it
    ref = saved(ctx, "rep", {"entity": "opportunity", "filters": [
        {"field": "account", "op": "eq", "value": 10**30}]})
    resp = api(app, ctx, "GET", f"/reports/{ref}/result")
    assert resp.status_code == 400 and "out of range" in error_of(resp)["message"]
    c = app.test_client()
    sign_in(c, "rep", "rep-pass-12")
    assert c.get(f"/reports/{ref}").status_code == 400


def test_drilling_into_the_last_days_of_the_calendar(app: Flask, ctx: Context) -> None:
    """Defect: drilling into a group at the end of the calendar (data with the sentinel
    9999-12-31, common in imported files, or such a key typed in the URL) raised
    OverflowError (a 500): the bucket's end or the whole day's end fell in year 10000."""
    rs = records(ctx)
    rep = user_id(ctx, "rep")
    rs.create("activity", {"subject": "Forever", "kind": "call", "owner": rep,
                           "due_at": datetime(9999, 12, 31, 23, 0, tzinfo=UTC)})
    acme = rs.create("account", {"name": "Acme 永久", "owner": rep})["id"]
    rs.create("opportunity", {"name": "Forever", "account": acme, "owner": rep,
                              "stage": "prospecting", "close_date": date(9999, 12, 31)})
    for entity, field in (("activity", "due_at"), ("opportunity", "close_date")):
        for bucket in ("day", "week", "month", "quarter", "year"):
            ref = api(app, ctx, "POST", "/reports", body={
                "entity": entity, "label": {"en": "x"},
                "group_by": [{"field": field, "bucket": bucket}]}).get_json()["ref"]
            rows = api(app, ctx, "GET", f"/reports/{ref}/result").get_json()["rows"]
            last = [row for row in rows if row["keys"][0] and row["keys"][0] >= "9999"]
            assert len(last) == 1, (entity, bucket, rows)
            drill = api(app, ctx, "GET", f"/reports/{ref}/drill?key={last[0]['key_params'][0]}")
            assert drill.status_code == 200, drill.text
            assert drill.get_json()["count"] == last[0]["values"]["count"]
            typed = api(app, ctx, "GET", f"/reports/{ref}/drill?key=9999-12-31")
            assert typed.status_code == 200, typed.text
    ref = api(app, ctx, "POST", "/reports", body={
        "entity": "activity", "group_by": ["due_at"]}).get_json()["ref"]
    resp = api(app, ctx, "GET", f"/reports/{ref}/drill?key=9999-12-31")
    assert resp.status_code in (200, 400), resp.text
    c = app.test_client()
    sign_in(c, "rep", "rep-pass-12")
    assert c.get(f"/reports/{ref}/drill?k=9999-12-31").status_code in (302, 400)


def test_exporting_a_report_whose_entity_the_config_removed(app: Flask, ctx: Context) -> None:
    """Defect: exporting a saved report whose entity the config no longer has was a KeyError
    (a 500) instead of the clear "There is no entity" the report page gives."""
    ref = saved(ctx, "rep", {"entity": "gone", "label": {"en": "Old notes"}})
    c = app.test_client()
    sign_in(c, "rep", "rep-pass-12")
    assert c.get(f"/reports/{ref}").status_code == 404
    for fmt in ("csv", "xlsx"):
        resp = c.get(f"/reports/{ref}/export.{fmt}")
        assert resp.status_code == 404 and "There is no entity" in resp.text


def test_sums_of_whole_numbers_and_averages_read_the_same_on_both_databases(
        app: Flask, ctx: Context) -> None:
    """Defect: PostgreSQL sums whole numbers as numeric, so the API gave a sum of an integer
    field as the text "5" there and the number 5 on SQLite; averages came with 16 places on
    PostgreSQL and 10 on SQLite ("350.0000000000000000" / "350.0000000000"), in the API and in
    exports alike."""
    rs = records(ctx)
    rep = user_id(ctx, "rep")
    for score in (1, 2, 2):
        rs.create("case", {"subject": "Printer", "satisfaction": score, "owner": rep})
    ref = api(app, ctx, "POST", "/reports", body={"entity": "case", "measures": [
        {"agg": "sum", "field": "satisfaction"}, {"agg": "avg", "field": "satisfaction"},
        {"agg": "max", "field": "satisfaction"}]}).get_json()["ref"]
    totals = api(app, ctx, "GET", f"/reports/{ref}/result").get_json()["totals"]
    assert totals == {"sum_satisfaction": 5, "avg_satisfaction": "1.6666666667",
                      "max_satisfaction": 2}
    ref = api(app, ctx, "POST", "/reports", body={"entity": "opportunity", "group_by": [
        "stage"], "measures": [{"agg": "avg", "field": "amount"}]}).get_json()["ref"]
    rows = api(app, ctx, "GET", f"/reports/{ref}/result").get_json()["rows"]
    assert {r["keys"][0]: r["values"]["avg_amount"] for r in rows} == {
        "prospecting": "100", "proposal": "200", "won": "350"}
    c = app.test_client()
    sign_in(c, "rep", "rep-pass-12")
    text = c.get(f"/reports/{ref}/export.csv").data.decode("utf-8-sig")
    assert "Won,350\r\n" in text and "Total,250\r\n" in text


def test_text_no_database_stores_is_refused(app: Flask, ctx: Context) -> None:
    """Defect: a report whose label or filter held half of a character (JSON "\\ud800") was
    saved; shared, it broke the report list of every user (UnicodeEncodeError, a 500), and
    running it was a 500 too. A body nested too deep for the JSON parser was a 500."""
    for raw in ('{"entity": "opportunity", "shared": true, "label": {"en": "\\ud800"}}',
                '{"entity": "opportunity", "filters": [{"field": "name", "op": "eq", '
                '"value": "a\\ud800"}]}',
                '{"entity": "opportunity", "filters": [{"field": "name", "op": "eq", '
                '"value": "a\\u0000"}]}',
                '{"entity": "opportunity", "name": "x\\udfff"}'):
        resp = api(app, ctx, "POST", "/reports", raw=raw)
        assert resp.status_code in (400, 422), (raw, resp.text)
    deep = api(app, ctx, "POST", "/reports", raw="[" * 100_000)
    assert deep.status_code == 400
    # one stored before (or by another client) is left out, not a 500 for everyone
    with ctx.engine.begin() as conn:
        conn.execute(user_reports.insert().values(
            owner_id=user_id(ctx, "rep2"), name="bad", label={}, shared=True,
            definition={"entity": "opportunity", "label": {"en": "bad \ud800"}},
            created_at=sa.func.now(), updated_at=sa.func.now()))
    c = app.test_client()
    sign_in(c, "rep", "rep-pass-12")
    assert c.get("/reports/").status_code == 200
    assert api(app, ctx, "GET", "/reports").status_code == 200


def test_api_definitions_and_names(app: Flask, ctx: Context) -> None:
    """Defects: `GET /api/v1/reports/<ref>` gave the definition (filters and their values) of
    a report whose records the caller may not read, though the list hides it and running it is
    refused; and a report built with `name` and no label was listed as "U1"."""
    assert api(app, ctx, "GET", "/reports/pipeline_by_stage", "svcboss").status_code == 403
    shared = api(app, ctx, "POST", "/reports", body={
        "entity": "opportunity", "shared": True, "name": "Rep's pipeline",
        "filters": [{"field": "name", "op": "eq", "value": "Secret deal"}]}).get_json()
    assert shared["label"] == "Rep's pipeline"
    assert api(app, ctx, "GET", f"/reports/{shared['ref']}", "svcboss").status_code == 403
    assert api(app, ctx, "GET", f"/reports/{shared['ref']}", "rep2").status_code == 200
    listed = api(app, ctx, "GET", "/reports").get_json()["data"]
    assert "Rep's pipeline" in [r["label"] for r in listed]
