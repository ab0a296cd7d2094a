"""Drilling down from a report row to the records behind it: the list query of exactly those
records (the list's count equals the row's count, for equalities, date buckets, the empty
group, lookups, yes/no formulas), its list page query string, and the keys as link text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from app.records import Forbidden, Records
from app.records.query import QueryError, run
from app.records.queryparams import from_params
from app.reports.compute import (
    drill_params,
    drill_query,
    key_param,
    parse_keys,
    run_report,
)
from app.reports.definition import report_from_data
from app.reports.types import ReportDef
from tests.reportskit import deals, records, report_deployment


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = report_deployment(tmp_path, database_url)
    try:
        deals(made)
        yield made
    finally:
        made.dispose()


def report(**data: Any) -> ReportDef:
    return report_from_data("r", {"entity": "opportunity", **data})


def check_every_row(rs: Records, r: ReportDef, me: int | None = None) -> int:
    """Each row's drill list counts what the row counts, through the query and through the
    list page's query string; keys survive their link text. Returns the rows checked."""
    result = run_report(rs, r, me=me)
    e = rs.entity(r.entity)
    for row in result.rows:
        query = drill_query(rs, r, row.keys, me=me)
        assert run(rs, r.entity, query).count == row.values["count"], (row, query)
        params: dict[str, list[str]] = {}
        for key, value in drill_params(rs, r, row.keys, me=me):
            params.setdefault(key, []).append(value)
        again = from_params(rs, e, params, me=me)
        assert run(rs, r.entity, again).count == row.values["count"], (row, params)
        assert parse_keys(rs, r, [key_param(k) for k in row.keys]) == row.keys
    return len(result.rows)


@pytest.mark.parametrize("bucket", ["day", "week", "month", "quarter", "year"])
def test_date_buckets_drill_to_their_range(ctx: Context, bucket: str) -> None:
    r = report(group_by=[{"field": "close_date", "bucket": bucket}, "owner"])
    assert check_every_row(records(ctx), r) >= 3


def test_stages_lookups_and_the_empty_group(ctx: Context) -> None:
    rs = records(ctx)
    assert check_every_row(rs, rs.meta.reports["pipeline_by_stage"]) == 3
    assert check_every_row(rs, report(group_by=["account", "stage"])) == 6
    assert check_every_row(rs, report(group_by=["amount"])) == 7  # one without an amount
    assert check_every_row(rs, report(group_by=[{"field": "created_at", "bucket": "month"}]))


def test_a_formula_of_yes_or_no(ctx: Context) -> None:
    rs = records(ctx)
    past = datetime.now(UTC) - timedelta(days=2)
    for subject, due in (("late", past), ("fine", past + timedelta(days=9)), ("none", None)):
        rs.create("case", {"subject": subject, "sla_due_at": due})
    assert check_every_row(rs, rs.meta.reports["cases_by_sla"]) == 2


def test_the_query_string_of_a_month(ctx: Context) -> None:
    rs = records(ctx)
    r = rs.meta.reports["won_by_month"]
    assert drill_params(rs, r, (date(2026, 3, 1),)) == [
        ("size", "50"), ("f.stage.eq", "won"), ("f.close_date.between", "2026-03-01"),
        ("f.close_date.between", "2026-03-31")]
    assert ("f.stage.empty", "1") in drill_params(rs, report(group_by=["stage"]), (None,))


def test_a_rep_drills_into_their_own_records_only(ctx: Context) -> None:
    from tests.webkit import user_id

    rep = records(ctx, "rep")
    r = report(group_by=["stage"])
    assert check_every_row(rep, r) == 3
    query = drill_query(rep, r, ("won",))
    assert run(rep, "opportunity", query).count == 2  # rep2's won deal is not theirs
    mine = report(group_by=["stage"], mine=True)
    assert check_every_row(records(ctx), mine, me=user_id(ctx, "rep2")) == 3
    with pytest.raises(Forbidden):
        drill_query(rep, report(group_by=["margin"]), (10,))


def test_keys_that_do_not_fit_are_refused(ctx: Context) -> None:
    rs = records(ctx)
    r = report(group_by=[{"field": "close_date", "bucket": "month"}])
    with pytest.raises(QueryError):
        drill_query(rs, r, ())
    with pytest.raises(QueryError):
        parse_keys(rs, r, ["2026-13-01"])
    with pytest.raises(QueryError):
        parse_keys(rs, report(group_by=["amount"]), ["lots"])
    assert parse_keys(rs, r, [""]) == (None,)
    assert parse_keys(rs, report(group_by=["stage"]), ["won"]) == ("won",)
