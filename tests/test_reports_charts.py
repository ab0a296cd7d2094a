"""The SVG charts of a report result (app/reports/charts.py): well-formed XML, one link per bar
to its drill-down, escaped labels, "No data" for an empty result. Pure: no database."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import pytest

from app.reports.charts import nice_ticks, other_row, render_chart
from app.reports.types import Grouping, Measure, ReportDef, ReportResult, ResultRow

SVG = "{http://www.w3.org/2000/svg}"


def _result(rows: list[tuple[str, str, int]], *,
            measures: tuple[Measure, ...] = (Measure("count"),),
            group_by: tuple[Grouping, ...] = (Grouping("stage"),), truncated: bool = False,
            total: int | None = None) -> ReportResult:
    report = ReportDef("pipeline", "opportunity", label={"en": "Pipeline"}, group_by=group_by,
                       measures=measures, chart="bar")
    out = tuple(ResultRow((key,), (label,), {m.key: n for m in measures})
                for key, label, n in rows)
    totals = {m.key: total if total is not None else sum(n for _k, _l, n in rows)
              for m in measures}
    return ReportResult(report, out, totals, truncated)


def _drill(row: ResultRow) -> str:
    return f"/reports/pipeline/drill?k={row.keys[0]}&x=1"


def _parse(svg: Any) -> ET.Element:
    return ET.fromstring(str(svg))


def _links(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}a"))


ROWS = [("prospecting", "Prospecting", 3), ("proposal", "Proposal", 2), ("won", "Won", 5)]


def test_bar_has_one_link_per_bar_with_its_drill_url_and_tooltip() -> None:
    root = _parse(render_chart(_result(ROWS), "bar", locale="en", drill_url=_drill,
                               x_title="Stage"))
    links = _links(root)
    assert [a.get("href") for a in links] == [_drill(ResultRow((k,), (), {}))
                                              for k, _l, _n in ROWS]
    assert [len(a.findall(f"{SVG}rect")) for a in links] == [1, 1, 1]
    assert [a.findtext(f"{SVG}title") for a in links] == ["Prospecting: 3", "Proposal: 2",
                                                          "Won: 5"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Stage" in texts and "Prospecting" in texts and "5" in texts  # axis title, tick
    assert "WenQuanYi Zen Hei" in (root.get("font-family") or "")
    assert "style" not in str(render_chart(_result(ROWS), "bar", locale="en"))


def test_bigger_value_makes_taller_bar() -> None:
    root = _parse(render_chart(_result(ROWS), "bar", locale="en", drill_url=_drill))
    heights = [float(a.find(f"{SVG}rect").get("height", "0"))  # type: ignore[union-attr]
               for a in _links(root)]
    assert heights[2] > heights[0] > heights[1] > 0


@pytest.mark.parametrize("chart", ["line", "pie", "funnel"])
def test_other_charts_link_each_mark(chart: str) -> None:
    root = _parse(render_chart(_result(ROWS), chart, locale="zh_CN", drill_url=_drill))
    links = _links(root)
    assert len(links) == 3
    assert {a.get("href") for a in links} == {_drill(ResultRow((k,), (), {}))
                                              for k, _l, _n in ROWS}
    assert all(a.findtext(f"{SVG}title") for a in links)


def test_labels_are_escaped() -> None:
    rows = [("a", 'Tom & <Jerry> "x"', 1), ("b", "赢单", 2)]
    svg = str(render_chart(_result(rows), "bar", locale="en", drill_url=lambda r: "/x?a=1&b=2"))
    assert "<Jerry>" not in svg and "&amp;" in svg
    root = _parse(svg)
    assert 'Tom & <Jerry> "x": 1' in [a.findtext(f"{SVG}title") for a in _links(root)]
    assert {a.get("href") for a in _links(root)} == {"/x?a=1&b=2"}
    assert "赢单" in [t.text for t in root.iter(f"{SVG}text")]


def test_empty_result_says_no_data() -> None:
    for chart in ("bar", "line", "pie", "funnel"):
        root = _parse(render_chart(_result([]), chart, locale="en", drill_url=_drill))
        assert [t.text for t in root.iter(f"{SVG}text")] == ["No data"]
        assert not _links(root)


def test_two_groupings_draw_grouped_bars_with_a_legend() -> None:
    report = ReportDef("x", "opportunity", group_by=(Grouping("stage"), Grouping("owner")))
    rows = (ResultRow(("won", 1), ("Won", "Ann"), {"count": 2}),
            ResultRow(("won", 2), ("Won", "Bob"), {"count": 1}),
            ResultRow(("lost", 1), ("Lost", "Ann"), {"count": 4}))
    root = _parse(render_chart(ReportResult(report, rows, {"count": 7}), "bar", locale="en",
                               drill_url=lambda r: f"/d?k={r.keys[0]}&k={r.keys[1]}"))
    assert sorted(a.get("href") or "" for a in _links(root)) == sorted(
        ["/d?k=won&k=1", "/d?k=won&k=2", "/d?k=lost&k=1"])
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Ann" in texts and "Bob" in texts  # the legend names the second grouping


def test_two_measures_are_two_series() -> None:
    measures = (Measure("count"), Measure("sum", "amount", {"en": "Amount"}))
    result = _result(ROWS, measures=measures)
    root = _parse(render_chart(result, "bar", locale="en", drill_url=_drill))
    assert len(_links(root)) == 6
    assert "Amount" in [t.text for t in root.iter(f"{SVG}text")]


def test_truncated_result_adds_other_without_link() -> None:
    result = _result(ROWS, truncated=True, total=14)
    extra = other_row(result, "en")
    assert extra is not None and extra.values == {"count": 4}
    root = _parse(render_chart(result, "bar", locale="en", drill_url=_drill))
    assert len(_links(root)) == 3
    assert "Other: 4" in [t.text for t in root.iter(f"{SVG}title")]
    avg = _result(ROWS, measures=(Measure("avg", "amount"),), truncated=True, total=3)
    assert other_row(avg, "en") is None  # averages do not add up


def test_values_are_formatted_for_the_locale() -> None:
    rows = [("a", "A", 1234567)]
    root = _parse(render_chart(_result(rows), "bar", locale="en", drill_url=_drill))
    assert [a.findtext(f"{SVG}title") for a in _links(root)] == ["A: 1,234,567"]
    money = render_chart(_result(rows), "pie", locale="en", drill_url=_drill,
                         format_value=lambda key, v: f"¥{Decimal(v):,.2f}")
    assert "A: ¥1,234,567.00 (100%)" in [t.text for t in _parse(money).iter(f"{SVG}title")]


def test_nice_ticks_cover_the_range() -> None:
    assert nice_ticks(0, 5) == [0, 1, 2, 3, 4, 5]
    ticks = nice_ticks(-30, 1234)
    assert ticks[0] <= -30 and ticks[-1] >= 1234 and 0 in ticks
