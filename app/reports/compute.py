"""Running a report in SQL, and the list of records behind one of its rows.

    result = run_report(records, report, me=user_id, locale="zh_CN")
    for row in result.rows: row.keys, row.labels, row.values["sum_amount"]
    query = drill_query(records, report, row.keys, me=user_id)   # app.records.query.ListQuery
    params = drill_params(records, report, row.keys, me=user_id) # `/<entity>/?...`

One GROUP BY query (and one for the totals) over the records the records service's actor may
read (`Records.readable`: their row scope), soft-deleted rows excluded, with the report's filters
compiled by the list query's `conditions`: a report counts exactly what the entity's list shows
with the same filters. The grouped values are selected in a subquery and grouped outside it, so
a formula or a date bucket is computed once per row on every database (PostgreSQL would not
match a GROUP BY expression holding bound parameters to the same expression in SELECT). Date
buckets: SQLite `strftime` / `date`, PostgreSQL `date_trunc` in UTC; weeks start on Monday;
bucket keys are the first day as a `date`. Fields hidden from the actor are refused (Forbidden
naming the field), so are entities they may not read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, localcontext
from typing import Any

import sqlalchemy as sa

from app.i18n import N_, _, get_locale, use_locale
from app.meta.listconf import FilterValueError, fields_of, parse_filter, value_field
from app.meta.types import EntityDef, FieldDef
from app.model.system import users
from app.records.errors import Forbidden
from app.records.query import (
    Filter,
    ListQuery,
    QueryError,
    conditions,
)
from app.records.query import _column as field_column
from app.records.queryparams import param_text, to_params
from app.records.ranges import out_of_range
from app.records.service import Records
from app.reports.definition import (
    DATE_KINDS,
    NUMBER_KINDS,
    report_fields,
    report_problems,
    value_kind,
)
from app.reports.types import BUCKETS, Grouping, Measure, ReportDef, ReportResult, ResultRow

#: the most groups one run reads (the report's `limit` picks the first of them)
MAX_GROUPS = 10_000
REFERENCE_TYPES = frozenset({"lookup", "master_detail", "user"})
#: value kinds whose groups are shown in their own order (ascending) rather than by measure
ORDERED_KINDS = DATE_KINDS | NUMBER_KINDS | {"time"}


@dataclass(frozen=True)
class _Group:
    grouping: Grouping
    field: FieldDef
    kind: str  # the value type of the field (a formula's result)


def _prepare(records: Records, r: ReportDef, me: int | None
             ) -> tuple[EntityDef, list[_Group], list[sa.ColumnElement[bool]]]:
    """The entity, the groupings and the WHERE conditions of a run, after the checks: the
    entity is readable, no field is hidden from the actor, the report fits the config."""
    e = records.entity(r.entity)
    access = records.readable(r.entity)  # Forbidden when the actor may read none
    hidden = records.hidden(r.entity)
    known = fields_of(e)
    for name in report_fields(r):
        if name in hidden:
            f = known.get(name)
            raise Forbidden(_("You may not see the field %(field)s of %(entities)s.",
                              field=f.label_for(get_locale()) if f else name,
                              entities=e.plural_for(get_locale())))
    problems = report_problems(records.meta, r, records.registry)
    if problems:
        raise QueryError(problems[0].message)
    if r.mine and me is None:
        raise QueryError(_("This report counts your own records: it needs a signed-in "
                           "user."))
    dialect = records.engine.dialect.name
    query = ListQuery(filters=tuple(Filter(f.field, f.op, tuple(f.values)) for f in r.filters),
                      owner_id=me if r.mine else None, me=me)
    where = conditions(records, e, query, dialect)
    if access is not None:
        where.append(access)
    groups = [_Group(g, known[g.field], value_kind(known[g.field], records.registry))
              for g in r.group_by]
    return e, groups, where


def _bucket(col: sa.ColumnElement[Any], kind: str, bucket: str, dialect: str
            ) -> sa.ColumnElement[Any]:
    """The first day of the bucket of `col` as a date (SQL)."""
    if bucket not in BUCKETS:  # checked with the report; never text of a user's in SQL
        raise QueryError(_("Unknown bucket '%(bucket)s' (use %(buckets)s).", bucket=bucket,
                           buckets=", ".join(BUCKETS)))
    if dialect == "postgresql":
        moment = (sa.cast(col, sa.DateTime()) if kind == "date"
                  else col.op("AT TIME ZONE")(sa.literal_column("'UTC'")))
        return sa.cast(sa.func.date_trunc(sa.literal_column(f"'{bucket}'"), moment), sa.Date)
    lit = sa.literal_column
    if bucket == "day":
        return sa.func.date(col, type_=sa.Date)
    if bucket == "week":  # the next Sunday (or the day itself), then back to Monday
        return sa.func.date(col, lit("'weekday 0'"), lit("'-6 days'"), type_=sa.Date)
    if bucket == "month":
        return sa.func.strftime(lit("'%Y-%m-01'"), col, type_=sa.Date)
    if bucket == "year":
        return sa.func.strftime(lit("'%Y-01-01'"), col, type_=sa.Date)
    month = sa.cast(sa.func.strftime(lit("'%m'"), col), sa.Integer)
    first = ((month + 2) // 3) * 3 - 2
    return sa.type_coerce(sa.func.strftime(lit("'%Y'"), col).op("||")(
        sa.func.printf(lit("'-%02d-01'"), first)), sa.Date)


def _aggregate(m: Measure, col: sa.ColumnElement[Any] | None) -> sa.ColumnElement[Any]:
    if m.agg == "count" or col is None:
        return sa.func.count()
    if m.agg == "avg":
        return sa.type_coerce(sa.func.avg(col), sa.Numeric(asdecimal=True))
    return getattr(sa.func, m.agg)(col)  # sum, min, max (the agg is checked)


def _statements(records: Records, r: ReportDef, e: EntityDef, groups: Sequence[_Group],
                where: Sequence[sa.ColumnElement[bool]]
                ) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """(the grouped SELECT, the totals SELECT)."""
    dialect = records.engine.dialect.name
    table = records.table(e.name)
    known = fields_of(e)
    inner: list[sa.ColumnElement[Any]] = []
    for i, g in enumerate(groups):
        col = field_column(records, e, g.field)
        if g.grouping.bucket is not None:
            col = _bucket(col, g.kind, g.grouping.bucket, dialect)
        inner.append(col.label(f"g{i}"))
    for i, m in enumerate(r.measures):
        if m.field is not None and m.agg != "count":
            inner.append(field_column(records, e, known[m.field]).label(f"m{i}"))
    if not inner:
        inner.append(table.c.id.label("m_id"))
    sub = sa.select(*inner).select_from(table).where(*where).subquery("report_rows")
    aggs = [_aggregate(m, sub.c.get(f"m{i}")).label(f"v{i}") for i, m in enumerate(r.measures)]
    keys = [sub.c[f"g{i}"] for i in range(len(groups))]
    grouped = sa.select(*keys, *aggs).select_from(sub).group_by(*keys) \
        .order_by(aggs[0].desc(), *keys).limit(MAX_GROUPS + 1)
    return grouped, sa.select(*aggs).select_from(sub)


def run_report(records: Records, r: ReportDef, *, me: int | None = None,
               locale: str = "en") -> ReportResult:
    """Run `r` as the records service's actor sees the records: rows sorted (picklist choices
    in their order, dates and numbers ascending, otherwise by the first measure, largest
    first; empty last), at most `r.limit` of them (`truncated` when there were more), with
    labels in `locale`, and the totals over every matching record. Raises Forbidden (the
    entity or a field is not theirs to see), NotFound (no such entity), QueryError (a
    report that does not fit the config, a filter value that does not fit)."""
    return _run(records, r, me=me, locale=locale, limit=r.limit)


def run_all_groups(records: Records, r: ReportDef, *, me: int | None = None,
                   locale: str = "en") -> ReportResult:
    """`run_report` with every group (up to MAX_GROUPS), whatever the report's `limit`: for
    exports and alerts on one group."""
    return _run(records, r, me=me, locale=locale, limit=MAX_GROUPS)


def _run(records: Records, r: ReportDef, *, me: int | None, locale: str, limit: int
         ) -> ReportResult:
    e, groups, where = _prepare(records, r, me)
    grouped, totals_stmt = _statements(records, r, e, groups, where)
    with records.engine.connect() as conn:
        raw = conn.execute(grouped).all() if groups else []
        totals_row = conn.execute(totals_stmt).one()
        kinds = _measure_kinds(records, e, r)
        found = [(tuple(_key(g, row[i]) for i, g in enumerate(groups)),
                  {m.key: _value(m, kinds[j], row[len(groups) + j])
                   for j, m in enumerate(r.measures)})
                 for row in raw]
        found = _merged(found, r.measures)
        found = _sorted(_filled(found, groups, r.measures, limit), groups, r.measures,
                        records.registry)
        truncated = len(found) > limit
        found = found[:limit]
        with use_locale(locale):
            labels = _labels(records, groups, [k for k, _v in found], conn, locale)
    rows = tuple(ResultRow(keys, tuple(labels[i][k] for i, k in enumerate(keys)), values)
                 for keys, values in found)
    totals = {m.key: _value(m, kinds[j], totals_row[j]) for j, m in enumerate(r.measures)}
    return ReportResult(report=r, rows=rows, totals=totals, truncated=truncated)


#: averages are given to this many decimal places (SQLite computes them as floating point,
#: PostgreSQL to 16 or more places: both show the same number)
AVG_PLACES = 10


def _measure_kinds(records: Records, e: EntityDef, r: ReportDef) -> list[str]:
    known = fields_of(e)
    return [value_kind(known[m.field], records.registry)
            if m.field is not None and m.field in known else "" for m in r.measures]


def _value(m: Measure, kind: str, value: Any) -> Any:
    """A measure's value alike on both databases: a sum (min, max) of whole numbers as an int
    (PostgreSQL sums integers as numeric), an average as a Decimal of at most AVG_PLACES
    places without trailing zeros (SQLite averages in floating point)."""
    if value is None or isinstance(value, bool):
        return value
    if m.agg == "avg":
        return _average(value)
    if kind == "integer" and isinstance(value, Decimal) and value.is_finite() \
            and value == value.to_integral_value():
        return int(value)
    return value


def _average(value: Any) -> Any:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        return number
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, number.adjusted() + AVG_PLACES + 2)
        number = number.quantize(Decimal(1).scaleb(-AVG_PLACES)).normalize()
        if number.as_tuple().exponent > 0:  # type: ignore[operator]
            number = number.quantize(Decimal(1))
    return number


def _key(g: _Group, value: Any) -> Any:
    """A group's key as Python: a bucket's first day as a date, yes/no as bool, text ''
    as None (the list's `empty` filter finds both)."""
    if value is None:
        return None
    if g.grouping.bucket is not None or g.kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, str):
            return date.fromisoformat(value[:10])
        return value
    if g.kind == "boolean" and not isinstance(value, bool):
        return bool(value)
    if value == "" and isinstance(value, str):
        return None
    return value


def _merged(found: list[tuple[tuple[Any, ...], dict[str, Any]]], measures: Sequence[Measure]
            ) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Groups whose keys became equal (text '' and NULL are both "empty") as one: counts and
    sums add up, min/max combine; an average of two such groups is left as the first's."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for keys, values in found:
        have = seen.get(keys)
        if have is None:
            seen[keys] = dict(values)
            continue
        for m in measures:
            a, b = have[m.key], values[m.key]
            if a is None or b is None:
                have[m.key] = a if b is None else b
            elif m.agg in ("count", "sum"):
                have[m.key] = a + b
            elif m.agg in ("min", "max"):
                have[m.key] = min(a, b) if m.agg == "min" else max(a, b)
    return list(seen.items())


def _number(value: Any) -> float:
    if value is None:
        return float("-inf")
    if isinstance(value, date | datetime):
        return float(value.toordinal())
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("-inf")


def _sorted(found: list[tuple[tuple[Any, ...], dict[str, Any]]], groups: Sequence[_Group],
            measures: Sequence[Measure], registry: Any
            ) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    if not groups:
        return found
    first = measures[0]
    weights: dict[Any, float] = {}  # first-level key -> its share of the first measure
    for keys, values in found:
        v = _number(values.get(first.key))
        have = weights.get(keys[0])
        if have is None:
            weights[keys[0]] = v
        elif first.agg in ("count", "sum"):
            weights[keys[0]] = have + v
        else:
            weights[keys[0]] = max(have, v)

    def part(g: _Group, key: Any, level: int, values: Mapping[str, Any]) -> tuple[Any, ...]:
        if key is None:
            return (2, 0, "")
        if g.kind == "picklist" and g.grouping.bucket is None:
            order = [c.value for c in value_field(g.field, registry)[1].choices]
            return (0, order.index(key) if key in order else len(order), str(key))
        if g.grouping.bucket is not None or g.kind in ORDERED_KINDS:
            return (0, _number(key) if not isinstance(key, str) else 0, str(key))
        if g.kind == "boolean":
            return (0, 0 if key else 1, "")
        weight = weights.get(key, 0.0) if level == 0 else _number(values.get(first.key))
        return (1, -weight, str(key))

    return sorted(found, key=lambda item: tuple(
        part(g, item[0][i], i, item[1]) for i, g in enumerate(groups)))


#: the most empty date buckets a result is filled with (days over decades are left gapped)
MAX_FILLED = 400


def _filled(found: list[tuple[tuple[Any, ...], dict[str, Any]]], groups: Sequence[_Group],
            measures: Sequence[Measure], limit: int
            ) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """With one grouping by a date bucket, the buckets between the first and the last that
    hold no record are added (counts and sums 0, the rest empty): a line over months must not
    join July to September as if August were not there. Not when they would not all fit in
    the `limit` of groups shown (empty buckets never push out ones with records)."""
    if len(groups) != 1 or groups[0].grouping.bucket is None:
        return found
    bucket = groups[0].grouping.bucket
    days = sorted(k[0] for k, _v in found if isinstance(k[0], date))
    if len(days) < 2:
        return found
    have, missing = set(days), list[date]()
    day = days[0]
    while day < days[-1] and len(missing) <= MAX_FILLED:
        end = _bucket_end(day, bucket)
        if end >= date.max:
            break
        day = end + timedelta(days=1)
        if day not in have:
            missing.append(day)
    if not missing or len(missing) > MAX_FILLED or len(found) + len(missing) > limit:
        return found
    empty = {m.key: 0 if m.agg in ("count", "sum") else None for m in measures}
    return found + [((day,), dict(empty)) for day in missing if day < days[-1]]


# --- labels -----------------------------------------------------------------------------------
def bucket_label(day: date, bucket: str, locale: str | None = None) -> str:
    """`2026-03` / `2026年3月` (month), `2026 Q1` / `2026年第1季度`, `2026` / `2026年`, a week
    by its Monday, a day as the date field shows it."""
    zh = (locale or get_locale()).startswith("zh")
    if bucket == "month":
        return f"{day.year}年{day.month}月" if zh else f"{day.year}-{day.month:02d}"
    if bucket == "quarter":
        q = (day.month - 1) // 3 + 1
        return f"{day.year}年第{q}季度" if zh else f"{day.year} Q{q}"
    if bucket == "year":
        return f"{day.year}年" if zh else str(day.year)
    text = f"{day.year}年{day.month}月{day.day}日" if zh else day.isoformat()
    return _("Week of %(day)s", day=text) if bucket == "week" else text


def _labels(records: Records, groups: Sequence[_Group], keys: Sequence[tuple[Any, ...]],
            conn: sa.Connection, locale: str) -> list[dict[Any, str]]:
    """Per grouping: key -> its text in `locale` (the caller set it as the current locale)."""
    out: list[dict[Any, str]] = []
    empty = _("(empty)")
    for i, g in enumerate(groups):
        values = {k[i] for k in keys}
        texts: dict[Any, str] = {None: empty}
        present = [v for v in values if v is not None]
        if g.grouping.bucket is not None:
            texts.update({v: bucket_label(v, g.grouping.bucket, locale) for v in present})
        elif g.kind in REFERENCE_TYPES:
            ids = [int(v) for v in present]
            if g.kind == "user":
                rows = conn.execute(sa.select(users.c.id, users.c.full_name, users.c.username)
                                    .where(users.c.id.in_(ids))).all() if ids else []
                found = {row.id: row.full_name or row.username for row in rows}
            else:
                to = str(value_field(g.field, records.registry)[1].opt("to"))
                found = records.titles(to, ids, conn)
            texts.update({v: found.get(int(v), f"#{v}") for v in present})
        else:
            vtype, vf = value_field(g.field, records.registry)
            texts.update({v: vtype.display(vf, v, locale) or empty for v in present})
        out.append(texts)
    return out


# --- drill down -------------------------------------------------------------------------------
def _bucket_end(day: date, bucket: str) -> date:
    """The last day of the bucket starting on `day` (the calendar's last day at most)."""
    if bucket == "day":
        return day
    try:
        if bucket == "week":
            return day + timedelta(days=6)
        if bucket == "year":
            return date(day.year, 12, 31)
        months = 3 if bucket == "quarter" else 1
        month = day.month + months
        nxt = date(day.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    except (OverflowError, ValueError):  # past 9999-12-31
        return date.max
    return nxt - timedelta(days=1)


def _days(name: str, kind: str, first: date, last: date) -> Filter:
    """`name` from the day `first` to the day `last`, both whole. On a date-and-time field a
    range ending on the calendar's last day is "from the start of `first`" (its end would be
    in year 10000, which no date holds)."""
    if kind == "datetime" and last >= date.max:
        return Filter(name, "gte", (datetime.combine(first, time(), UTC),))
    return Filter(name, "between", (first, last))


def drill_query(records: Records, r: ReportDef, keys: Sequence[Any], *,
                me: int | None = None) -> ListQuery:
    """The list query of exactly the records behind the result row with `keys` (one per
    grouping, as `ResultRow.keys` holds them): the report's filters, plus per grouping an
    equality, a `between` over a date bucket, or `empty` for the empty group. Refused like
    `run_report` (Forbidden, QueryError), and when the keys do not match the groupings."""
    if len(keys) != len(r.group_by):
        raise QueryError(_("This report row needs %(n)s keys.", n=len(r.group_by)))
    e, _groups, _where = _prepare(records, r, me)  # the same checks as running it
    known = fields_of(e)
    filters = [Filter(f.field, f.op, tuple(f.values)) for f in r.filters]
    for g, key in zip(r.group_by, keys, strict=True):
        f = known.get(g.field)
        if f is None:
            raise QueryError(_("%(entity)s has no field '%(name)s'.",
                               entity=e.label_for(get_locale()), name=g.field))
        kind = value_kind(f, records.registry)
        if key is None:
            filters.append(Filter(g.field, "empty"))
        elif g.bucket is not None:
            day = key.date() if isinstance(key, datetime) else key
            if not isinstance(day, date):
                raise QueryError(_("%(value)s is not a date.", value=str(key)[:40]))
            filters.append(_days(g.field, kind, day, _bucket_end(day, g.bucket)))
        elif kind == "datetime" and isinstance(key, date) and not isinstance(key, datetime):
            filters.append(_days(g.field, kind, key, key))  # a whole day
        else:  # a Decimal as text: filter values are text as typed, or plain scalars
            filters.append(Filter(g.field, "eq", (format(key, "f") if isinstance(key, Decimal)
                                                  else key,)))
    return ListQuery(filters=tuple(filters), owner_id=me if r.mine else None, me=me)


def drill_params(records: Records, r: ReportDef, keys: Sequence[Any], *,
                 me: int | None = None) -> list[tuple[str, str]]:
    """The list page's query string (`/<entity>/?...`) of `drill_query`."""
    return to_params(drill_query(records, r, keys, me=me))


def key_param(key: Any) -> str:
    """A group key as text for a link (`k=` of the drill URL): '' for the empty group, dates
    as ISO dates, yes/no; `parse_keys` reads it back."""
    return "" if key is None else param_text(key)


def parse_keys(records: Records, r: ReportDef, texts: Sequence[str]) -> tuple[Any, ...]:
    """Keys as `ResultRow.keys` holds them, from their `key_param` texts (QueryError when one
    does not fit its field or the number does not match the groupings)."""
    if len(texts) != len(r.group_by):
        raise QueryError(_("This report row needs %(n)s keys.", n=len(r.group_by)))
    e = records.entity(r.entity)
    known = fields_of(e)
    out: list[Any] = []
    for g, text in zip(r.group_by, texts, strict=True):
        f = known.get(g.field)
        if f is None:
            raise QueryError(_("%(entity)s has no field '%(name)s'.",
                               entity=e.label_for(get_locale()), name=g.field))
        text = str(text).strip()
        if text == "":
            out.append(None)
            continue
        try:
            if g.bucket is not None:
                key: Any = date.fromisoformat(text[:10])
            else:
                key = parse_filter(f, "eq", [text], records.registry)[0]
        except (ValueError, FilterValueError) as exc:
            raise QueryError(_("%(field)s: %(problem)s", field=f.label_for(get_locale()),
                               problem=str(exc))) from None
        if isinstance(key, int) and out_of_range(value_kind(f, records.registry), key):
            raise QueryError(_("%(field)s: %(value)s is out of range.",
                               field=f.label_for(get_locale()), value=text[:40]))
        out.append(key)
    return tuple(out)


# --- export -----------------------------------------------------------------------------------
AGG_NAMES = {"count": N_("Count"), "sum": N_("Sum"), "avg": N_("Average"),
             "min": N_("Minimum"), "max": N_("Maximum")}


def measure_text(records: Records, r: ReportDef, m: Measure, locale: str) -> str:
    """A measure's heading in `locale`: its own label, else "Count" / "Sum of Amount"."""
    if m.label:
        return m.label_for(locale)
    with use_locale(locale):
        if m.agg == "count" or m.field is None:
            return _("Count")
        f = fields_of(records.entity(r.entity)).get(m.field)
        return _("%(agg)s of %(field)s", agg=_(AGG_NAMES.get(m.agg, m.agg)),
                 field=f.label_for(locale) if f is not None else m.field)


def header_of(r: ReportDef, records: Records, locale: str) -> list[str]:
    """Column headings of an exported report: the groupings' field labels, then the
    measures' headings, in `locale`."""
    known = fields_of(records.entity(r.entity))
    heads = []
    for g in r.group_by:
        f = known.get(g.field)
        heads.append(f.label_for(locale) if f else g.field)
    return heads + [measure_text(records, r, m, locale) for m in r.measures]


def iter_report_rows(records: Records, r: ReportDef, *, me: int | None = None,
                     locale: str = "en", totals: bool = True) -> Iterator[list[Any]]:
    """The rows of an export: the headings, then one row per group (every group, not only the
    report's `limit`: group labels, then the measure values as numbers), then the totals
    ("Total" in the first column) when `totals`."""
    result = run_all_groups(records, r, me=me, locale=locale)
    yield header_of(r, records, locale)
    for row in result.rows:
        yield [*row.labels, *(_plain(row.values.get(m.key)) for m in r.measures)]
    if totals:
        with use_locale(locale):
            first = [_("Total")] + [""] * (len(r.group_by) - 1) if r.group_by else []
        yield [*first, *(_plain(result.totals.get(m.key)) for m in r.measures)]


def _plain(value: Any) -> Any:
    """A measure value for a spreadsheet: whole Decimals as int, others as they are."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value
