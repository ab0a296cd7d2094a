"""Charts of a report result as server-side SVG: bar, line, pie and funnel.

    render_chart(result, "bar", locale="zh_CN", drill_url=lambda row: f"/reports/x/drill?...")

No JavaScript and no CDN: the SVG is part of the page. Every bar, point and slice is a link
(`<a href>`) to the records behind it (`drill_url(row)`; no link when it gives "" or None) with
a `<title>` tooltip "label: value"; axes carry tick labels and titles, several series a legend.
Colours come from a fixed palette for colour-blind readers (Okabe-Ito), text is XML-escaped,
there are no `style` attributes (the page's CSP): presentation attributes and the classes of
`static/reports.css` only. No Flask here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from app.i18n import _, format_number, use_locale
from app.reports.types import ReportResult, ResultRow

#: series colours (Okabe-Ito, without its yellow, which is unreadable on white)
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7",
                            "#56B4E9", "#8C6D31", "#6B7280")
FONT = '"WenQuanYi Zen Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif'
FONT_SIZE = 12
#: charts that draw series; `table` draws none
CHARTS = ("bar", "line", "pie", "funnel")
#: aggregates whose values add up, so the groups beyond the limit can be shown as "Other"
ADDITIVE = ("count", "sum")
#: the key of the "Other" row (groups beyond the report's limit)
OTHER = object()

ValueFormat = Callable[[str, Any], str]
DrillUrl = Callable[[ResultRow], "str | None"]


@dataclass(frozen=True)
class Mark:
    """One bar, point or slice: its value, tooltip and link."""

    value: float | None
    tip: str
    href: str | None


@dataclass(frozen=True)
class Series:
    name: str
    marks: tuple[Mark, ...]


@dataclass(frozen=True)
class Frame:
    """A result pivoted for drawing: one category per x position, one series per colour."""

    categories: tuple[str, ...]
    series: tuple[Series, ...]
    #: the measure shown on the value axis when there is one (its label)
    value_title: str


def number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        f = float(value)
        return f if math.isfinite(f) else None
    return None


def other_row(result: ReportResult, locale: str) -> ResultRow | None:
    """The groups beyond `report.limit` summed into one "Other" row (one grouping and only
    counts or sums, whose totals minus the shown groups are the rest); None otherwise."""
    r = result.report
    if not result.truncated or len(r.group_by) != 1 \
            or any(m.agg not in ADDITIVE for m in r.measures):
        return None
    values: dict[str, Any] = {}
    for m in r.measures:
        total = result.totals.get(m.key)
        if total is None:
            return None
        shown = sum((row.values.get(m.key) or 0) for row in result.rows)
        values[m.key] = total - shown
    with use_locale(locale):
        label = _("Other")
    return ResultRow(keys=(OTHER,), labels=(label,), values=values)


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Rough width of `text`: CJK characters are one em wide, the rest about 0.6 em."""
    return sum(size * (1.0 if ord(ch) >= 0x2E80 else 0.6) for ch in text)


def clip(text: str, width: float, size: float = FONT_SIZE) -> str:
    """`text` shortened with "…" to fit `width`."""
    if text_width(text, size) <= width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + "…", size) > width:
            break
        out += ch
    return out + "…"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (which include 0): steps of 1, 2, 2.5 or 5."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 2.5, 5, 10) if s * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    v = start
    while v < high + step * 0.999:
        ticks.append(round(v, 10))
        v += step
    if ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def _attrs(**attrs: Any) -> str:
    return "".join(f' {k.rstrip("_").replace("_", "-")}="{escape(str(v))}"'
                   for k, v in attrs.items() if v is not None)


def _text(x: float, y: float, text: str, *, cls: str = "crm-chart-label",
          anchor: str = "middle", extra: str = "", size: float | None = None) -> str:
    return (f'<text{_attrs(x=_r(x), y=_r(y), text_anchor=anchor, class_=cls, font_size=size)}'
            f"{extra}>{escape(text)}</text>")


def _r(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _linked(href: str | None, tip: str, shape: str) -> str:
    """`shape` with its tooltip, inside a link when there is somewhere to go."""
    body = f"<title>{escape(tip)}</title>{shape}"
    if not href:
        return f'<g class="crm-chart-mark">{body}</g>'
    return f'<a class="crm-chart-mark"{_attrs(href=href)}>{body}</a>'


# --- pivoting ---------------------------------------------------------------------------------
def frame(result: ReportResult, chart: str, locale: str, drill_url: DrillUrl | None,
          fmt: ValueFormat) -> Frame:
    """Categories and series: by the first grouping and, with a second grouping, one series
    per value of it (first measure); else one series per measure (bar and line)."""
    r = result.report
    rows = list(result.rows)
    extra = other_row(result, locale)
    if extra is not None:
        rows.append(extra)
    measures = r.measures if chart in ("bar", "line") else r.measures[:1]

    def href(row: ResultRow) -> str | None:
        if drill_url is None or (row.keys and row.keys[0] is OTHER):
            return None
        return drill_url(row) or None

    def mark(row: ResultRow, key: str, label: str) -> Mark:
        value = row.values.get(key)
        return Mark(number(value), f"{label}: {fmt(key, value)}", href(row))

    if len(r.group_by) >= 2 and chart in ("bar", "line"):
        m = r.measures[0]
        cats: dict[Any, str] = {}
        names: dict[Any, str] = {}
        cells: dict[tuple[Any, Any], ResultRow] = {}
        for row in rows:
            k0, k1 = _hashable(row.keys[0]), _hashable(row.keys[1] if len(row.keys) > 1 else None)
            cats.setdefault(k0, row.labels[0] if row.labels else "")
            names.setdefault(k1, row.labels[1] if len(row.labels) > 1 else "")
            cells[(k0, k1)] = row
        pivot: list[Series] = []
        for k1, name in names.items():
            cells_of: list[Mark] = []
            for k0, cat in cats.items():
                row_or_none = cells.get((k0, k1))
                cells_of.append(mark(row_or_none, m.key, f"{cat} · {name}") if row_or_none
                                else Mark(None, "", None))
            pivot.append(Series(name, tuple(cells_of)))
        return Frame(tuple(cats.values()), tuple(pivot), m.label_for(locale))
    if not r.group_by:
        # no grouping: one bar per measure (of the single row)
        row = rows[0] if rows else ResultRow((), (), result.totals)
        names_ = [m.label_for(locale) for m in measures]
        marks = tuple(mark(row, m.key, n) for m, n in zip(measures, names_, strict=True))
        return Frame(tuple(names_), (Series("", marks),), "")
    categories = tuple(" · ".join(row.labels) for row in rows)
    series = tuple(
        Series(m.label_for(locale),
               tuple(mark(row, m.key, cat) for row, cat in zip(rows, categories, strict=True)))
        for m in measures)
    return Frame(categories, series, measures[0].label_for(locale) if len(measures) == 1 else "")


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


# --- the charts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Box:
    width: int
    height: int
    locale: str
    x_title: str
    fmt: ValueFormat


def _legend(names: Sequence[str], box: Box, y: float) -> list[str]:
    """Swatches and names in a row (wrapping) from the top left; empty names are skipped."""
    out = ['<g class="crm-chart-legend">']
    x = 8.0
    for i, name in enumerate(names):
        text = clip(name, 160)
        w = 18 + text_width(text) + 16
        if x + w > box.width and x > 8:
            x, y = 8.0, y + 18
        out.append(f'<rect{_attrs(x=_r(x), y=_r(y - 10), width=12, height=12, rx=2)}'
                   f'{_attrs(fill=PALETTE[i % len(PALETTE)])}/>')
        out.append(_text(x + 17, y, text, anchor="start"))
        x += w
    out.append("</g>")
    return out


def _legend_height(names: Sequence[str], width: int) -> float:
    if len(names) < 2:
        return 0
    rows, x = 1, 8.0
    for name in names:
        w = 18 + text_width(clip(name, 160)) + 16
        if x + w > width and x > 8:
            rows, x = rows + 1, 8.0
        x += w
    return rows * 18 + 6


def _axes_chart(fr: Frame, chart: str, box: Box) -> list[str]:
    """Bar (grouped) and line charts: value axis on the left, categories along the bottom."""
    values = [m.value for s in fr.series for m in s.marks if m.value is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    ticks = nice_ticks(low, high)
    tick_texts = [format_number(Decimal(str(t)).normalize() if t != int(t) else int(t),
                               box.locale) for t in ticks]
    names = [s.name for s in fr.series] if len(fr.series) > 1 else []
    top = 10 + _legend_height(names, box.width)
    left = 14 + max(text_width(t) for t in tick_texts) + (18 if fr.value_title else 0)
    right = 12
    plot_w = box.width - left - right
    slot = plot_w / max(len(fr.categories), 1)
    longest = max((text_width(c) for c in fr.categories), default=0)
    rotate = longest > slot - 4
    label_room = min(longest, 110) * 0.6 + 16 if rotate else FONT_SIZE + 8
    bottom = 8 + label_room + (18 if box.x_title else 0)
    plot_h = box.height - top - bottom
    y0, y1 = ticks[0], ticks[-1]

    def y_of(v: float) -> float:
        return top + plot_h - (v - y0) / (y1 - y0) * plot_h

    out: list[str] = []
    if names:
        out += _legend(names, box, 20)
    out.append('<g class="crm-chart-grid">')
    for t, text in zip(ticks, tick_texts, strict=True):
        y = y_of(t)
        out.append(f'<line{_attrs(x1=_r(left), x2=_r(left + plot_w), y1=_r(y), y2=_r(y))}'
                   f'{_attrs(stroke="#e5e7eb" if t else "#6b7280", stroke_width=1)}/>')
        out.append(_text(left - 6, y + 4, text, anchor="end", cls="crm-chart-tick"))
    out.append("</g>")
    if fr.value_title:
        mid = top + plot_h / 2
        out.append(_text(12, mid, clip(fr.value_title, plot_h), cls="crm-chart-title",
                         extra=_attrs(transform=f"rotate(-90 12 {_r(mid)})")))
    base_y = top + plot_h
    out.append(f'<line{_attrs(x1=_r(left), x2=_r(left), y1=_r(top), y2=_r(base_y))}'
               f'{_attrs(stroke="#6b7280", stroke_width=1)}/>')
    for i, cat in enumerate(fr.categories):
        cx = left + slot * (i + 0.5)
        if rotate:
            text = clip(cat, min(110, (cx - 4) / 0.82))  # cos 35°: stay inside on the left
            y = base_y + 14
            out.append(_text(cx, y, text, anchor="end", cls="crm-chart-tick",
                             extra=_attrs(transform=f"rotate(-35 {_r(cx)} {_r(y)})")))
        else:
            out.append(_text(cx, base_y + 16, clip(cat, slot - 2), cls="crm-chart-tick"))
    if box.x_title:
        out.append(_text(left + plot_w / 2, box.height - 6, clip(box.x_title, plot_w),
                         cls="crm-chart-title"))
    zero = y_of(max(min(0.0, y1), y0))
    if chart == "bar":
        n = len(fr.series)
        inner = slot * 0.8
        bar_w = inner / n
        for si, s in enumerate(fr.series):
            colour = PALETTE[si % len(PALETTE)]
            for i, m in enumerate(s.marks):
                if m.value is None:
                    continue
                x = left + slot * i + slot * 0.1 + bar_w * si
                y = y_of(m.value)
                top_y, h = min(y, zero), max(abs(zero - y), 1.0)
                rect = (f'<rect{_attrs(x=_r(x + 1), y=_r(top_y), width=_r(max(bar_w - 2, 1)))}'
                        f'{_attrs(height=_r(h), fill=colour)}/>')
                out.append(_linked(m.href, m.tip, rect))
    else:
        for si, s in enumerate(fr.series):
            colour = PALETTE[si % len(PALETTE)]
            segment: list[str] = []
            segments: list[list[str]] = []
            for i, m in enumerate(s.marks):
                if m.value is None:
                    if segment:
                        segments.append(segment)
                    segment = []
                    continue
                segment.append(f"{_r(left + slot * (i + 0.5))},{_r(y_of(m.value))}")
            if segment:
                segments.append(segment)
            for seg in segments:
                if len(seg) > 1:
                    out.append(f'<polyline{_attrs(points=" ".join(seg), fill="none")}'
                               f'{_attrs(stroke=colour, stroke_width=2)}/>')
            for i, m in enumerate(s.marks):
                if m.value is None:
                    continue
                dot = (f'<circle{_attrs(cx=_r(left + slot * (i + 0.5)), cy=_r(y_of(m.value)))}'
                       f'{_attrs(r=4, fill=colour, stroke="#ffffff", stroke_width=1)}/>')
                out.append(_linked(m.href, m.tip, dot))
    return out


def _pie(fr: Frame, box: Box) -> list[str]:
    marks = [(cat, m) for cat, m in zip(fr.categories, fr.series[0].marks, strict=True)
             if m.value is not None and m.value > 0]
    total = sum(m.value or 0 for _c, m in marks)
    radius = min(box.height - 20, box.width * 0.55) / 2
    cx, cy = 10 + radius, box.height / 2
    out: list[str] = []
    angle = -math.pi / 2
    for i, (_cat, m) in enumerate(marks):
        share = (m.value or 0) / total
        colour = PALETTE[i % len(PALETTE)]
        tip = f"{m.tip} ({format_number(round(share * 100, 1), box.locale)}%)"
        if share >= 0.9999:
            shape = (f'<circle{_attrs(cx=_r(cx), cy=_r(cy), r=_r(radius), fill=colour)}'
                     f'{_attrs(stroke="#ffffff", stroke_width=1)}/>')
        else:
            end = angle + share * 2 * math.pi
            x1, y1 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
            x2, y2 = cx + radius * math.cos(end), cy + radius * math.sin(end)
            large = 1 if share > 0.5 else 0
            d = (f"M{_r(cx)},{_r(cy)} L{_r(x1)},{_r(y1)} "
                 f"A{_r(radius)},{_r(radius)} 0 {large} 1 {_r(x2)},{_r(y2)} Z")
            shape = f'<path{_attrs(d=d, fill=colour, stroke="#ffffff", stroke_width=1)}/>'
            angle = end
        out.append(_linked(m.href, tip, shape))
    # legend beside the pie: swatch, label, share
    lx = cx + radius + 24
    room = box.width - lx - 8
    step = 20
    shown = marks[: max(int((box.height - 16) / step), 1)]
    y = cy - (len(shown) - 1) * step / 2
    out.append('<g class="crm-chart-legend">')
    for i, (cat, m) in enumerate(shown):
        pct = format_number(round((m.value or 0) / total * 100, 1), box.locale)
        out.append(f'<rect{_attrs(x=_r(lx), y=_r(y - 10), width=12, height=12, rx=2)}'
                   f'{_attrs(fill=PALETTE[i % len(PALETTE)])}/>')
        out.append(_text(lx + 18, y, clip(f"{cat} · {pct}%", room - 18), anchor="start"))
        y += step
    out.append("</g>")
    return out


def _funnel(fr: Frame, box: Box) -> list[str]:
    marks = list(zip(fr.categories, fr.series[0].marks, strict=True))
    values = [max(m.value or 0, 0) for _c, m in marks]
    biggest = max(values) or 1
    label_w = min(max(text_width(c) for c, _m in marks) + 12, box.width * 0.3)
    value_w = min(max(text_width(m.tip.rsplit(": ", 1)[-1]) for _c, m in marks) + 12,
                  box.width * 0.25)
    area_w = box.width - label_w - value_w - 8
    step = min((box.height - 8) / len(marks), 60)
    top = (box.height - step * len(marks)) / 2  # a short funnel sits in the middle
    bar_h = step * 0.8
    out: list[str] = []
    centre = label_w + area_w / 2
    for i, ((cat, m), v) in enumerate(zip(marks, values, strict=True)):
        y = top + step * i + (step - bar_h) / 2
        w = max(area_w * v / biggest, 2)
        rect = (f'<rect{_attrs(x=_r(centre - w / 2), y=_r(y), width=_r(w), height=_r(bar_h))}'
                f'{_attrs(rx=3, fill=PALETTE[i % len(PALETTE)])}/>')
        out.append(_linked(m.href, m.tip, rect))
        mid = y + bar_h / 2 + 4
        out.append(_text(label_w - 8, mid, clip(cat, label_w - 10), anchor="end"))
        out.append(_text(label_w + area_w + 8, mid, m.tip.rsplit(": ", 1)[-1], anchor="start",
                         cls="crm-chart-value"))
    return out


def _empty(box: Box, title: str) -> Markup:
    with use_locale(box.locale):
        message = _("No data")
    return Markup(_open(box, title) + _text(box.width / 2, box.height / 2, message,
                                             cls="crm-chart-empty") + "</svg>")


def _open(box: Box, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="crm-chart" role="img"'
            f'{_attrs(viewBox=f"0 0 {box.width} {box.height}", width=box.width)}'
            f'{_attrs(height=box.height, font_family=FONT, font_size=FONT_SIZE)}>'
            f"<title>{escape(title)}</title>")


def default_format(locale: str) -> ValueFormat:
    def fmt(_key: str, value: Any) -> str:
        if value is None:
            return "–"
        n = number(value)
        if n is None:
            return str(value)
        return format_number(value if isinstance(value, int | Decimal) else round(n, 2), locale)

    return fmt


def render_chart(result: ReportResult, chart: str, *, locale: str,
                 drill_url: DrillUrl | None = None, width: int = 640, height: int = 320,
                 x_title: str = "", format_value: ValueFormat | None = None) -> Markup:
    """The SVG of `result` drawn as `chart` (bar, line, pie, funnel; anything else: bar).
    `drill_url(row)` is where a mark links to; `x_title` names the category axis (the first
    grouping's field label); `format_value(measure_key, value)` formats a value for tooltips
    (default: a locale-formatted number)."""
    fmt = format_value or default_format(locale)
    box = Box(max(int(width), 160), max(int(height), 120), locale, x_title, fmt)
    title = result.report.label_for(locale)
    chart = chart if chart in CHARTS else "bar"
    fr = frame(result, chart, locale, drill_url, fmt)
    values = [m.value for s in fr.series for m in s.marks if m.value is not None]
    if not fr.categories or not values \
            or (chart in ("pie", "funnel") and not any(v > 0 for v in values)):
        return _empty(box, title)
    if chart == "pie":
        body = _pie(fr, box)
    elif chart == "funnel":
        body = _funnel(fr, box)
    else:
        body = _axes_chart(fr, chart, box)
    return Markup(_open(box, title) + "".join(body) + "</svg>")
