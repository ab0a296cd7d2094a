"""What a report, a dashboard and an alert are, and what running a report gives back.

Reports come from two places and are the same thing once read: the config's `reports/*.yaml`
(`Meta.reports`, versioned and reviewed like every other config) and reports users build in the
UI (stored per owner in `sys_report`). Both are checked against the live config by
`app.reports.definition.check_report` before they run, and computed in SQL by
`app.reports.compute.run_report`, always through the records service's view of the user
(records they may not read are not counted; fields hidden from them cannot be grouped or summed).
No Flask here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from app.meta.types import Labels, label_text

#: aggregates a measure may use; `count` takes no field
AGGREGATES = ("count", "sum", "avg", "min", "max")
#: how a date or datetime field is grouped
BUCKETS = ("day", "week", "month", "quarter", "year")
#: how a report is drawn; `table` has no chart
CHART_TYPES = ("table", "bar", "line", "pie", "funnel")
#: comparisons an alert may make
ALERT_OPS = (">", ">=", "<", "<=", "==", "!=")


@dataclass(frozen=True)
class ReportFilter:
    """One condition, with the same field / op / values as a list view filter
    (`app.records.query.Filter`; ops per field type from `FieldType.filter_ops_of`)."""

    field: str
    op: str
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Grouping:
    """Group rows by `field`; a date/datetime field may be bucketed (`month`, ...)."""

    field: str
    bucket: str | None = None


@dataclass(frozen=True)
class Measure:
    """`count` of records, or `sum`/`avg`/`min`/`max` of a number field."""

    agg: str
    field: str | None = None
    label: Labels = dc_field(default_factory=dict)

    @property
    def key(self) -> str:
        """The measure's column name in a result: `count`, `sum_amount`, ..."""
        return self.agg if self.field is None else f"{self.agg}_{self.field}"

    def label_for(self, locale: str = "en") -> str:
        return label_text(self.label, locale, self.key.replace("_", " ").capitalize())


@dataclass(frozen=True)
class ReportDef:
    """A report: which records (entity + filters), grouped by zero, one or two groupings,
    summarised by one or more measures, drawn as `chart`."""

    name: str
    entity: str
    label: Labels = dc_field(default_factory=dict)
    description: Labels = dc_field(default_factory=dict)
    filters: tuple[ReportFilter, ...] = ()
    group_by: tuple[Grouping, ...] = ()
    measures: tuple[Measure, ...] = (Measure("count"),)
    chart: str = "table"
    #: "owner = me": only the viewer's own records
    mine: bool = False
    #: largest number of groups shown (the rest are summed into "Other" by the UI)
    limit: int = 50
    #: where it came from: "config" (reports/*.yaml) or "user" (sys_report id in `ref`)
    origin: str = "config"
    ref: int | None = None

    def label_for(self, locale: str = "en") -> str:
        return label_text(self.label, locale, self.name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Widget:
    """One report on a dashboard; `width` in twelfths of the row (Bootstrap grid)."""

    report: str
    width: int = 6
    chart: str | None = None
    title: Labels = dc_field(default_factory=dict)


@dataclass(frozen=True)
class DashboardDef:
    """Report widgets shown together; `roles` see it (empty: everyone who may see the
    reports); a user's own dashboard has origin "user" and the sys_dashboard id in `ref`."""

    name: str
    label: Labels = dc_field(default_factory=dict)
    roles: tuple[str, ...] = ()
    widgets: tuple[Widget, ...] = ()
    origin: str = "config"
    ref: int | None = None

    def label_for(self, locale: str = "en") -> str:
        return label_text(self.label, locale, self.name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class AlertDef:
    """Notify `notify` roles (in the app and by email) when the report value `measure` (of the
    whole report, or of the group `group` when set) `op` `threshold` becomes true; checked on
    the task queue every `every_minutes`. It notifies when the condition starts to hold, not on
    every check while it keeps holding."""

    name: str
    report: str
    op: str
    threshold: float
    measure: str = "count"
    group: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    every_minutes: int = 60
    label: Labels = dc_field(default_factory=dict)

    def label_for(self, locale: str = "en") -> str:
        return label_text(self.label, locale, self.name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class ResultRow:
    """One group: its keys (one per grouping, raw values: a stage key, a user id, the first day
    of a month bucket as a `date`, None for empty), their display texts in the viewer's locale,
    and the measure values by `Measure.key` (Decimal / int / float / None)."""

    keys: tuple[Any, ...]
    labels: tuple[str, ...]
    values: Mapping[str, Any]


@dataclass(frozen=True)
class ReportResult:
    report: ReportDef
    rows: tuple[ResultRow, ...]
    #: the measures over all matching records (no grouping)
    totals: Mapping[str, Any]
    #: True when there were more groups than `report.limit` (rows holds the first ones)
    truncated: bool = False
