"""Running reports in SQL: counts, sums and other measures, date buckets (weeks from Monday,
quarters), the order of groups, labels in the viewer's language, totals, the viewer's row scope,
hidden fields and entities they may not read refused, soft-deleted records left out."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from app.records import Forbidden, RecordError
from app.records.query import QueryError
from app.reports.compute import bucket_label, iter_report_rows, run_report
from app.reports.definition import report_from_data
from app.reports.types import ReportDef, ReportResult
from tests.reportskit import deals, records, report_deployment


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = report_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def ids(ctx: Context) -> dict[str, Any]:
    return deals(ctx)


def report(**data: Any) -> ReportDef:
    return report_from_data("r", {"entity": "opportunity", **data})


def table(result: ReportResult) -> list[tuple[Any, ...]]:
    return [(*row.keys, *row.values.values()) for row in result.rows]


def test_pipeline_by_stage_counts_and_sums_in_choice_order(ctx: Context, ids: Any) -> None:
    rs = records(ctx)
    result = run_report(rs, rs.meta.reports["pipeline_by_stage"])
    assert table(result) == [("prospecting", 1, Decimal("100")),
                             ("qualification", 1, None), ("proposal", 1, Decimal("200"))]
    assert dict(result.totals) == {"count": 3, "sum_amount": Decimal("300")}
    assert [row.labels for row in result.rows] == [("Prospecting",), ("Qualification",),
                                                   ("Proposal",)]
    assert not result.truncated
    zh = run_report(rs, rs.meta.reports["pipeline_by_stage"], locale="zh_CN")
    assert [row.labels[0] for row in zh.rows] == ["初步接洽", "需求确认", "方案报价"]


def test_won_revenue_by_month(ctx: Context, ids: Any) -> None:
    rs = records(ctx)
    result = run_report(rs, rs.meta.reports["won_by_month"])
    assert table(result) == [(date(2026, 2, 1), Decimal("300")),
                             (date(2026, 3, 1), Decimal("1400"))]
    assert [row.labels for row in result.rows] == [("2026-02",), ("2026-03",)]
    zh = run_report(rs, rs.meta.reports["won_by_month"], locale="zh_CN")
    assert [row.labels for row in zh.rows] == [("2026年2月",), ("2026年3月",)]


@pytest.mark.parametrize(("bucket", "expected"), [
    ("day", [(date(2026, 1, 5), 1), (date(2026, 1, 31), 1), (date(2026, 2, 1), 1),
             (date(2026, 3, 2), 1), (date(2026, 3, 31), 1), (date(2026, 4, 1), 1), (None, 1)]),
    # weeks start on Monday: Sat 31 Jan and Sun 1 Feb are in the week of Mon 26 Jan
    ("week", [(date(2026, 1, 5), 1), (date(2026, 1, 26), 2), (date(2026, 3, 2), 1),
              (date(2026, 3, 30), 2), (None, 1)]),
    ("month", [(date(2026, 1, 1), 2), (date(2026, 2, 1), 1), (date(2026, 3, 1), 2),
               (date(2026, 4, 1), 1), (None, 1)]),
    ("quarter", [(date(2026, 1, 1), 5), (date(2026, 4, 1), 1), (None, 1)]),
    ("year", [(date(2026, 1, 1), 6), (None, 1)]),
])
def test_date_buckets(ctx: Context, ids: Any, bucket: str, expected: list[Any]) -> None:
    result = run_report(records(ctx), report(group_by=[{"field": "close_date",
                                                        "bucket": bucket}]))
    assert [row for row in table(result) if row[1]] == expected
    assert all(isinstance(k, date) for k, *_rest in table(result)[:-1])
    # the buckets between hold a 0 each: a line chart does not join across empty months
    days = [k for k, *_rest in table(result)[:-1]]
    assert days == sorted(days) and len(days) == len(set(days))
    if bucket == "month":
        assert [k.month for k in days] == [1, 2, 3, 4]
    if bucket == "day":  # 86 days would not fit in the 50 groups shown: no filling
        assert len(days) == 6
    if bucket == "week":
        assert len(days) == (date(2026, 3, 30) - date(2026, 1, 5)).days // 7 + 1


def test_empty_months_between_are_zero_and_averages_empty(ctx: Context, ids: Any) -> None:
    rs = records(ctx)
    result = run_report(rs, report(filters=[{"field": "close_date", "op": "ne",
                                             "values": ["2026-02-01"]}],
                                   group_by=[{"field": "close_date", "bucket": "month"}],
                                   measures=["count", {"agg": "avg", "field": "amount"}]))
    rows = {k: v for k, *v in table(result) if k is not None}
    assert rows[date(2026, 2, 1)] == [0, None]
    assert rows[date(2026, 1, 1)][0] == 2


def test_bucket_labels() -> None:
    day = date(2026, 1, 1)
    assert [bucket_label(day, b, "en") for b in ("month", "quarter", "year", "day")] == [
        "2026-01", "2026 Q1", "2026", "2026-01-01"]
    assert [bucket_label(day, b, "zh_CN") for b in ("month", "quarter", "year", "day")] == [
        "2026年1月", "2026年第1季度", "2026年", "2026年1月1日"]
    assert bucket_label(date(2026, 3, 30), "week", "en") == "Week of 2026-03-30"


def test_a_datetime_bucket_is_its_utc_day(ctx: Context, ids: Any) -> None:
    result = run_report(records(ctx), report(group_by=[{"field": "created_at",
                                                        "bucket": "day"}]))
    today = datetime.now(UTC).date()
    assert [k for k, _c in table(result)] in ([today], [today - timedelta(days=1)])
    assert table(result)[0][1] == 7


def test_owners_lookups_and_two_groupings(ctx: Context, ids: Any) -> None:
    rs = records(ctx)
    by_owner = run_report(rs, report(group_by=["owner"], measures=[
        "count", {"agg": "avg", "field": "amount"}, {"agg": "min", "field": "close_date"},
        {"agg": "max", "field": "amount"}]))
    assert [row.labels for row in by_owner.rows] == [("Rep",), ("Rep2",)]  # largest first
    rep_row = by_owner.rows[0].values
    assert (rep_row["count"], rep_row["avg_amount"], rep_row["min_close_date"],
            rep_row["max_amount"]) == (4, Decimal("250"), date(2026, 1, 5), Decimal("400"))
    by_account = run_report(rs, report(group_by=["account", "stage"]))
    assert [(row.labels, row.values["count"]) for row in by_account.rows] == [
        (("Beta 北京", "Qualification"), 1), (("Beta 北京", "Won"), 2),
        (("Beta 北京", "Lost"), 1), (("Acme", "Prospecting"), 1), (("Acme", "Proposal"), 1),
        (("Acme", "Won"), 1)]
    assert by_account.rows[0].keys == (ids["beta"], "qualification")


def test_a_formula_and_yes_no_values_group(ctx: Context) -> None:
    rs = records(ctx)
    past = datetime.now(UTC) - timedelta(days=2)
    for subject, due, status in (("late", past, "new"), ("late too", past, "in_progress"),
                                 ("fine", past + timedelta(days=9), "new"),
                                 ("done", past, "closed")):
        rs.create("case", {"subject": subject, "sla_due_at": due, "status": status,
                           "resolution": "ok" if status == "closed" else None})
    result = run_report(rs, rs.meta.reports["cases_by_sla"], locale="zh_CN")
    assert [(row.keys, row.labels, row.values["count"]) for row in result.rows] == [
        ((True, "medium"), ("是", "中"), 2), ((False, "medium"), ("否", "中"), 1)]
    overdue = run_report(rs, rs.meta.reports["overdue_cases"])
    assert dict(overdue.totals) == {"count": 2}


def test_a_sales_rep_counts_only_their_own_deals(ctx: Context, ids: Any) -> None:
    r = records(ctx).meta.reports["pipeline_by_stage"]
    mine = run_report(records(ctx, "rep"), r)
    assert table(mine) == [("prospecting", 1, Decimal("100")), ("proposal", 1, Decimal("200"))]
    theirs = run_report(records(ctx, "rep2"), r)
    assert table(theirs) == [("qualification", 1, None)]
    # their manager sees the records of the roles below theirs
    assert dict(run_report(records(ctx, "manager"), r).totals)["count"] == 3


def test_hidden_fields_and_unreadable_entities_are_refused(ctx: Context, ids: Any) -> None:
    margin = report(group_by=["stage"], measures=[{"agg": "avg", "field": "margin"}])
    assert run_report(records(ctx), margin).rows  # the system sees every field
    with pytest.raises(Forbidden) as info:
        run_report(records(ctx, "rep"), margin)
    assert "Margin" in info.value.message
    filtered = report(filters=[{"field": "margin", "op": "gt", "values": [10]}])
    with pytest.raises(Forbidden):
        run_report(records(ctx, "rep"), filtered)
    with pytest.raises(Forbidden):
        run_report(records(ctx, "svcboss"), report(group_by=["stage"]))


def test_soft_deleted_records_are_left_out(ctx: Context, ids: Any) -> None:
    rs = records(ctx)
    rs.delete("opportunity", ids["A1"])
    result = run_report(rs, rs.meta.reports["pipeline_by_stage"])
    assert dict(result.totals) == {"count": 2, "sum_amount": Decimal("200")}
    assert [row.keys for row in result.rows] == [("qualification",), ("proposal",)]


def test_limit_truncates_the_groups_not_the_totals(ctx: Context, ids: Any) -> None:
    result = run_report(records(ctx), report(group_by=["stage"], limit=2))
    assert [row.keys for row in result.rows] == [("prospecting",), ("qualification",)]
    assert result.truncated and dict(result.totals) == {"count": 7}
    rows = list(iter_report_rows(records(ctx), report(group_by=["stage"], limit=2)))
    assert rows[0] == ["Stage", "Count"] and len(rows) == 2 + 5 and rows[-1] == ["Total", 7]


def test_mine_needs_and_uses_the_viewer(ctx: Context, ids: Any) -> None:
    from tests.webkit import user_id

    mine = report(group_by=["stage"], mine=True)
    with pytest.raises(QueryError):
        run_report(records(ctx), mine)
    result = run_report(records(ctx), mine, me=user_id(ctx, "rep2"))
    assert dict(result.totals) == {"count": 3}


def test_reports_that_do_not_fit_are_refused(ctx: Context, ids: Any) -> None:
    rs = records(ctx)
    with pytest.raises(QueryError) as info:
        run_report(rs, report(group_by=["nope"]))
    assert "no field 'nope'" in info.value.message
    with pytest.raises(QueryError) as info:
        run_report(rs, report(filters=[{"field": "amount", "op": "gt", "values": ["lots"]}]))
    assert "Amount" in info.value.message
    with pytest.raises(RecordError) as err:
        run_report(rs, dataclasses.replace(report(), entity="nothing"))
    assert err.value.status == 404


def test_a_report_without_groups_has_only_totals(ctx: Context, ids: Any) -> None:
    result = run_report(records(ctx), report(measures=[
        "count", {"agg": "sum", "field": "amount"}, {"agg": "sum", "field": "expected_revenue"}]))
    assert result.rows == ()
    assert result.totals["count"] == 7 and result.totals["sum_amount"] == Decimal("2050")
