"""The checks of sales targets, as a built-in plugin (listed in `app.plugins.BUILTIN_PLUGINS`):
they run on every write of a `sales_target` record, whichever way it comes (forms, the API,
imports, the Targets page).

- **A name** is filled in when left empty: "Revenue · Li Wei · 2026 Q4".
- **The period starts on its first day**: a monthly target on the 1st of a month, a quarterly
  one on 1 January, 1 April, 1 July or 1 October (the expression language has no day-of-month
  function, so this rule is here rather than in the entity's `rules:`).
- **The metric is one of `targets:`**, and the target is in the field its kind uses
  (`target_amount` for amounts, `target_count` for counts).
- **One target per rep (or team), metric and period**: a second one is refused, naming the
  first. Checked before the write (with a transaction lock on the key on PostgreSQL, so two
  managers saving at once cannot both pass) and again after it (an import's rows, a restore
  from the recycle bin). A deleted target does not count: a new one may take its place.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import sqlalchemy as sa

from app.i18n import _, get_locale
from app.meta.targets import TARGET_ENTITY, MetricDef
from app.meta.types import EntityDef, label_text, table_name
from app.model.system import users
from app.plugins import hookimpl
from app.records.change import Change
from app.records.errors import RecordError
from app.targets.periods import Period, is_period_start

KEY_FIELDS = ("metric", "period_type", "period_start", "assignee", "team")


def _ours(change: Change) -> bool:
    return change.entity.name == TARGET_ENTITY and all(
        name in change.entity.fields for name in KEY_FIELDS)


def _metrics(change: Change) -> dict[str, MetricDef]:
    return dict(change.meta.feature("targets")) if change.meta is not None else {}


def _choice(entity: EntityDef, name: str, value: Any) -> str:
    f = entity.fields.get(name)
    for c in f.choices if f is not None else ():
        if c.value == value:
            return label_text(c.label, get_locale(), c.value)
    return "" if value is None else str(value)


def _user_name(conn: sa.Connection, uid: Any) -> str:
    if uid is None:
        return ""
    row = conn.execute(sa.select(users.c.full_name, users.c.username)
                       .where(users.c.id == int(uid))).first()
    return (row.full_name or row.username) if row is not None else f"#{uid}"


def _period(values: dict[str, Any]) -> Period | None:
    kind, start = values.get("period_type"), values.get("period_start")
    if kind not in ("month", "quarter") or not isinstance(start, date):
        return None
    return Period(str(kind), start)


def _who(change: Change, values: dict[str, Any]) -> str:
    if values.get("assignee") is not None:
        return _user_name(change.conn, values["assignee"])
    return _choice(change.entity, "team", values.get("team"))


def _name(change: Change, values: dict[str, Any]) -> str | None:
    period = _period(values)
    parts = [_choice(change.entity, "metric", values.get("metric")), _who(change, values),
             period.label(get_locale()) if period is not None else ""]
    return " · ".join(p for p in parts if p)[:200] or None


@hookimpl
def crm_record_before_validate(change: Change) -> None:
    """Fill in the name of a target left without one (and keep a filled-in name in step when
    the target moves to another metric, rep, team or period)."""
    if not _ours(change) or change.action not in ("create", "update") \
            or "name" not in change.entity.fields:
        return
    values = change.values
    given = (values.get("name") or "").strip()
    if given and not (change.old and given == change.old.get("name")
                      and given == _name(change, change.old)):
        return
    values["name"] = _name(change, values)


def _table(entity: EntityDef) -> sa.TableClause:
    from app.fields import registry

    cols: list[sa.ColumnClause[Any]] = [sa.column("id"), sa.column("deleted_at")]
    cols += [sa.column(registry.get(entity.fields[n].type).column_name(entity.fields[n]))
             for n in KEY_FIELDS]
    return sa.table(table_name(entity.name), *cols)


def _same_key(change: Change, values: dict[str, Any], record_id: int | None
              ) -> sa.Select[Any]:
    """The live targets with the key of `values` (but `record_id`)."""
    from app.fields import registry

    table = _table(change.entity)

    def col(name: str) -> Any:
        f = change.entity.fields[name]
        return table.c[registry.get(f.type).column_name(f)]

    where: list[sa.ColumnElement[bool]] = [table.c.deleted_at.is_(None)]
    for name in KEY_FIELDS:
        value = values.get(name)
        where.append(col(name).is_(None) if value is None else col(name) == value)
    if record_id is not None:
        where.append(table.c.id != record_id)
    return sa.select(table.c.id).where(*where).limit(1)


def _complete(values: dict[str, Any]) -> bool:
    return all(values.get(n) is not None for n in ("metric", "period_type", "period_start")) \
        and (values.get("assignee") is not None) != (values.get("team") is not None)


def _lock(change: Change, values: dict[str, Any]) -> None:
    """PostgreSQL: hold a transaction lock on the target's key, so two writers of the same
    key queue (SQLite's write transaction holds the whole database already)."""
    if change.conn.dialect.name != "postgresql":
        return
    text = "|".join(str(values.get(n)) for n in KEY_FIELDS)
    key = int.from_bytes(hashlib.sha256(f"sales_target|{text}".encode()).digest()[:8],
                         "big", signed=True)
    change.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def _duplicate(change: Change, values: dict[str, Any], found: int) -> str:
    period = _period(values)
    return _("There is already a %(metric)s target for %(who)s in %(period)s (#%(id)s): "
             "edit that one instead.",
             metric=_choice(change.entity, "metric", values.get("metric")),
             who=_who(change, values) or "-",
             period=period.label(get_locale()) if period is not None else "-", id=found)


@hookimpl
def crm_record_validate(change: Change) -> list[tuple[str | None, str]] | None:
    if not _ours(change) or change.action not in ("create", "update"):
        return None
    values = change.values
    problems: list[tuple[str | None, str]] = []
    kind, start = values.get("period_type"), values.get("period_start")
    if kind in ("month", "quarter") and isinstance(start, date) \
            and not is_period_start(str(kind), start):
        problems.append(("period_start", _(
            "A quarterly target starts on the first day of a quarter (1 January, 1 April, "
            "1 July or 1 October), not on %(day)s.", day=start.isoformat())
            if kind == "quarter" else _(
            "A monthly target starts on the first day of a month, not on %(day)s.",
            day=start.isoformat())))
    metrics = _metrics(change)
    metric = metrics.get(str(values.get("metric")))
    if metrics and values.get("metric") is not None and metric is None:
        problems.append(("metric", _("No metric '%(name)s' is configured; the metrics are: "
                                     "%(names)s.", name=values.get("metric"),
                                     names=", ".join(metrics))))
    if metric is not None and metric.target_field in change.entity.fields \
            and values.get(metric.target_field) is None:
        f = change.entity.fields[metric.target_field]
        problems.append((metric.target_field, _(
            "Enter the %(field)s of this target.", field=f.label_for(get_locale()).lower())))
    if problems or not _complete(values):
        return problems or None
    _lock(change, values)
    found = change.conn.execute(_same_key(change, values, change.id)).scalar()
    if found is not None:
        problems.append((None, _duplicate(change, values, int(found))))
    return problems or None


@hookimpl
def crm_record_after_save(change: Change) -> None:
    """The same key twice after a write (rows of one import, a restore): refused."""
    if not _ours(change) or change.action not in ("create", "update", "restore"):
        return
    record = change.record or {**change.values, "id": change.id}
    if not _complete(record):
        return
    found = change.conn.execute(_same_key(change, record, record.get("id"))).scalar()
    if found is not None:
        raise RecordError(_duplicate(change, record, int(found)))
