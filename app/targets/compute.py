"""What each user reached on one metric in one period: ONE grouped SQL query per metric and
period (GROUP BY the metric's user column), the same on SQLite and PostgreSQL.

    actuals(records, metric, period)  -> {user id: 12 | Decimal("350000.00")}

Counted over every live record of the metric's entity (soft-deleted ones never count),
whoever may read them: a target is measured against everything the rep sold, and who may see
which numbers is decided by app/targets/service.py. A record counts in the period when its
`date` is on or after the period's first day and before the next period's first day: a date
field compares days, a date-and-time field moments in UTC. `when` is compiled to SQL by the
expression language (app/expr), as roll-ups' `where` is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.expr import parse
from app.meta.checks import expr_kinds
from app.meta.listconf import fields_of, value_field
from app.meta.targets import MetricDef
from app.records.query import _column as field_column
from app.records.service import Records
from app.targets.periods import Period

CENT = Decimal("0.01")


def condition(records: Records, metric: MetricDef) -> sa.ColumnElement[bool] | None:
    """`when` of the metric over its entity's table (None without one)."""
    if not metric.when:
        return None
    e = records.entity(metric.entity)
    table = records.table(e.name)
    spec = records.spec(e.name)
    cols: dict[str, sa.ColumnElement[Any]] = {
        name: table.c[col] for name, col in spec.columns.items() if col in table.c}
    cols.update(records.models.formulas.get(e.name, {}))
    return parse(metric.when, expr_kinds(e, records.registry)).to_sql(cols)


def statement(records: Records, metric: MetricDef, period: Period) -> sa.Select[Any]:
    """SELECT user, measure ... WHERE in the period AND when GROUP BY user."""
    e = records.entity(metric.entity)
    known = fields_of(e)
    table = records.table(e.name)
    user = field_column(records, e, known[metric.user])
    date_f = known[metric.date]
    moment = field_column(records, e, date_f)
    if value_field(date_f, records.registry)[1].type == "date":
        low: Any = period.start
        high: Any = period.end
    else:
        low, high = period.bounds()
    where = [table.c.deleted_at.is_(None), user.is_not(None), moment >= low, moment < high]
    cond = condition(records, metric)
    if cond is not None:
        where.append(cond)
    if metric.measure == "sum" and metric.field:
        measure: sa.ColumnElement[Any] = sa.func.sum(
            field_column(records, e, known[metric.field]))
    else:
        measure = sa.func.count()
    return (sa.select(user.label("user_id"), measure.label("value")).select_from(table)
            .where(*where).group_by(user))


def value_of(metric: MetricDef, raw: Any) -> int | Decimal:
    """A measured value alike on both databases: whole numbers as int, amounts as Decimal to
    the cent (SQLite sums in floating point)."""
    if raw is None:
        return 0 if metric.whole else Decimal("0.00")
    if metric.whole:
        return int(raw)
    number = raw if isinstance(raw, Decimal) else Decimal(str(raw))
    return number.quantize(CENT)


def actuals(records: Records, metric: MetricDef, period: Period,
            conn: sa.Connection | None = None) -> dict[int, int | Decimal]:
    """User id -> what they reached in `period` (users who reached nothing are absent)."""
    stmt = statement(records, metric, period)
    if conn is None:
        with records.engine.connect() as own:
            rows = own.execute(stmt).all()
    else:
        rows = conn.execute(stmt).all()
    return {int(row.user_id): value_of(metric, row.value) for row in rows}
