"""Reports, dashboards and alerts as data: the YAML/JSON shape round trip, shape errors, and
the checks against the default pack (unknown entity or field, buckets, sums, groupings, filter
operators, charts) in the user's language. No database."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.fields import registry
from app.i18n import use_locale
from app.meta.loader import load_meta
from app.meta.types import Meta
from app.reports.definition import (
    DefinitionError,
    alert_from_data,
    alert_problems,
    check_report,
    dashboard_from_data,
    dashboard_problems,
    data_of_alert,
    data_of_dashboard,
    data_of_report,
    report_from_data,
    report_problems,
)
from app.reports.types import Grouping, Measure, ReportDef, ReportFilter
from tests.factories import ROLES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def meta() -> Meta:
    return load_meta([ROOT / "schemas"], ROLES, report_dirs=[ROOT / "reports"])


def problems(meta: Meta, **data: object) -> list[str]:
    return check_report(meta, report_from_data("r", {"entity": "opportunity", **data}), registry)


def test_every_shipped_report_round_trips(meta: Meta) -> None:
    assert len(meta.reports) >= 8
    for name, r in meta.reports.items():
        assert report_from_data(name, data_of_report(r)) == r
        assert check_report(meta, r, registry) == []


def test_short_and_long_forms() -> None:
    r = report_from_data("x", {
        "entity": "opportunity", "label": {"en": "X", "zh": "叉"},
        "filters": [{"field": "stage", "op": "eq", "value": "won"},
                    {"field": "amount", "op": "empty"}],
        "group_by": [{"field": "close_date", "bucket": "month"}, "owner"],
        "measures": ["count", {"agg": "sum", "field": "amount", "label": {"en": "Amt"}}],
        "chart": "bar", "mine": True, "limit": 10})
    assert r.filters == (ReportFilter("stage", "eq", ("won",)), ReportFilter("amount", "empty"))
    assert r.group_by == (Grouping("close_date", "month"), Grouping("owner"))
    assert r.measures == (Measure("count"), Measure("sum", "amount", {"en": "Amt"}))
    assert (r.chart, r.mine, r.limit, r.origin) == ("bar", True, 10, "config")
    assert r.label_for("zh_CN") == "叉" and r.measures[1].key == "sum_amount"
    assert report_from_data("x", data_of_report(r)) == r
    # the defaults: one count, a table, 50 groups
    plain = report_from_data("y", {"entity": "lead"})
    assert (plain.measures, plain.chart, plain.limit) == ((Measure("count"),), "table", 50)
    assert data_of_report(plain) == {"entity": "lead", "measures": ["count"], "chart": "table"}


def test_yaml_dates_in_filters_become_text() -> None:
    from datetime import date

    r = report_from_data("x", {"entity": "opportunity", "filters": [
        {"field": "close_date", "op": "between", "values": [date(2026, 1, 1), "2026-03-31"]}]})
    assert r.filters[0].values == ("2026-01-01", "2026-03-31")


@pytest.mark.parametrize(("data", "expected"), [
    ({"entity": "opportunity", "colour": "red"}, "unknown key 'colour'"),
    ({"entity": "opportunity", "chart": "donut"}, "chart"),
    ({"entity": "opportunity", "measures": []}, "measures"),
    ({"entity": "opportunity", "group_by": [{"field": "close_date", "bucket": "decade"}]},
     "group_by.0"),
    ({"entity": "opportunity", "limit": 0}, "limit"),
    ({"label": {"en": "No entity"}}, "needs an entity"),
    ({"entity": "Opportunity; drop"}, "entity"),
])
def test_shapes_that_are_refused(data: dict[str, object], expected: str) -> None:
    with pytest.raises(DefinitionError) as info:
        report_from_data("x", data)
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_not_a_mapping_is_refused() -> None:
    with pytest.raises(DefinitionError):
        report_from_data("x", ["entity", "lead"])  # type: ignore[arg-type]


@pytest.mark.parametrize(("data", "expected"), [
    ({"group_by": ["stge"]}, "Opportunity has no field 'stge' (did you mean 'stage'?)."),
    ({"group_by": [{"field": "amount", "bucket": "month"}]},
     "Cannot group Amount by month: only date fields have buckets."),
    ({"measures": [{"agg": "sum", "field": "stage"}]},
     "Cannot take the sum of Stage: it is not a number field."),
    ({"measures": [{"agg": "avg", "field": "close_date"}]},
     "Cannot take the avg of Close date: it is not a number field."),
    ({"group_by": ["description"]},
     "Cannot group by Description: a text field has no single value to group by."),
    ({"group_by": ["stage", "owner", "type"]}, "A report groups by at most 2 fields."),
    ({"group_by": ["stage", "stage"]}, "Stage is grouped by twice."),
    ({"filters": [{"field": "stage", "op": "gt", "values": ["won"]}]},
     "Filter on Stage: the operator 'gt' does not apply (use eq, ne, in, not_in, empty, "
     "not_empty)"),
    ({"filters": [{"field": "amount", "op": "gte", "values": ["lots"]}]}, "Filter on Amount"),
    ({"chart": "pie"}, "A pie chart shows one grouping (and its first measure)."),
    ({"chart": "line"}, "A line chart needs a grouping."),
    ({"measures": [{"agg": "count", "field": "amount"}]},
     "count counts records and takes no field."),
    ({"measures": [{"agg": "sum"}]}, "sum needs a field."),
    ({"measures": ["count", "count"]}, "The measure count is given twice."),
])
def test_problems_against_the_config(meta: Meta, data: dict[str, object], expected: str
                                     ) -> None:
    found = problems(meta, **data)
    assert any(p.startswith(expected) for p in found), found


def test_multi_value_and_json_fields_cannot_be_grouped(tmp_path: Path) -> None:
    from tests.factories import write_schema

    write_schema(tmp_path, "thing", {"entity": "thing", "fields": {
        "name": {"type": "string"}, "tags": {"type": "tags"}, "data": {"type": "json"},
        "kinds": {"type": "multi_picklist", "choices": ["a", "b"]},
        "secret": {"type": "string", "encrypted": True}}})
    m = load_meta([tmp_path], ROLES)
    for field in ("tags", "data", "kinds", "secret"):
        r = ReportDef("r", "thing", group_by=(Grouping(field),))
        assert [p.code for p in report_problems(m, r, registry)] == ["CRM-E121"], field
    assert check_report(m, ReportDef("r", "thing", group_by=(Grouping("name"),)), registry) == []


def test_unknown_entity_and_codes(meta: Meta) -> None:
    found = report_problems(meta, ReportDef("r", "oportunity"), registry)
    assert [(p.code, p.path) for p in found] == [("CRM-E120", ("entity",))]
    assert "did you mean 'opportunity'" in found[0].message
    r = report_from_data("r", {"entity": "opportunity", "group_by": ["stage", "nope"],
                               "filters": [{"field": "stage", "op": "zz"}], "chart": "pie"})
    assert [(p.code, p.path) for p in report_problems(meta, r, registry)] == [
        ("CRM-E123", ("filters", 0)), ("CRM-E120", ("group_by", 1)), ("CRM-E124", ("chart",))]


def test_problems_speak_chinese(meta: Meta) -> None:
    with use_locale("zh_CN"):
        found = problems(meta, group_by=["stge"])
    assert found and "商机" in found[0], found


def test_hidden_fields_are_unknown_in_the_users_view(meta: Meta) -> None:
    from app.access.view import visible_meta

    r = report_from_data("r", {"entity": "opportunity", "group_by": ["stage"],
                               "measures": [{"agg": "avg", "field": "margin"}]})
    assert check_report(meta, r, registry) == []
    assert check_report(visible_meta(meta, ("sales_rep",)), r, registry) == [
        "Opportunity has no field 'margin'."]


def test_dashboards_and_alerts_round_trip_and_check(meta: Meta) -> None:
    for name, d in meta.dashboards.items():
        assert dashboard_from_data(name, data_of_dashboard(d)) == d
    for name, a in meta.alerts.items():
        assert alert_from_data(name, data_of_alert(a)) == a
    assert {"sales", "service", "marketing"} <= set(meta.dashboards)
    d = dashboard_from_data("d", {"roles": ["sales_rep", "sales_clerk"], "widgets": [
        {"report": "cases_by_sla", "chart": "pie"}, {"report": "nope"},
        {"report": "u12"}]})
    assert [(p.path, p.code) for p in dashboard_problems(meta, d, meta.reports)] == [
        (("roles", 1), "CRM-E125"), (("widgets", 0, "chart"), "CRM-E125"),
        (("widgets", 1, "report"), "CRM-E125")]
    a = alert_from_data("a", {"report": "pipeline_by_stage", "measure": "sum_amont",
                              "when": {"op": ">", "value": 5}, "notify": ["sales_boss"],
                              "group": ["won", "x"]})
    messages = [p.message for p in alert_problems(meta, a, meta.reports)]
    assert messages == [
        "Report 'pipeline_by_stage' has no measure 'sum_amont' (it has count, sum_amount).",
        "`group` gives one key per grouping of report 'pipeline_by_stage' (1).",
        "There is no role 'sales_boss' (did you mean 'sales_rep'?)."]
    with pytest.raises(DefinitionError) as info:
        alert_from_data("a", {"report": "x", "when": {"op": "~", "value": 1}})
    assert any("when.op" in p for p in info.value.problems)
    with pytest.raises(DefinitionError) as info:
        alert_from_data("a", {"report": "x"})
    assert info.value.problems == ["An alert needs `when`.", "An alert needs `notify`."]
