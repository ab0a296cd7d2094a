"""Alerts: a threshold on a report value, checked on the task queue, telling chosen roles.

Every minute the `reports.alerts` task runs each config alert (`Meta.alerts`, reports/*.yaml)
whose `every_minutes` have passed since its last check: it runs the alert's report as the system
(all records), takes the measure (of the totals, or of one group when the alert names `group`),
compares it with the threshold and keeps what it saw in `sys_report_alert`. When the condition
starts to hold, every active user with one of the `notify` roles who may read the report's
records and fields is told, in the app and by mail
(app.notify), with a link to the report page `/reports/<name>`. While it keeps holding nobody
is told again; once it stops holding, the next crossing tells them again. Telling is one
transaction with the state change (`firing` turns true only once, even with two workers).
`crm report alerts --run` checks every alert now.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from huey import crontab

from app import clock
from app.i18n import _, format_number, get_locale
from app.model.reports import report_alerts
from app.model.system import users
from app.records.errors import RecordError
from app.reports.compute import parse_keys, run_all_groups, run_report
from app.reports.definition import holds, report_fields
from app.reports.limits import group_text
from app.reports.types import AlertDef, ReportDef
from app.tasks.queue import task

if TYPE_CHECKING:
    from app.context import Context
    from app.meta.types import Meta
    from app.records.service import Records
    from app.settings import Settings

log = logging.getLogger(__name__)
KIND = "report.alert"


@dataclass(frozen=True)
class AlertState:
    name: str
    last_checked_at: datetime | None = None
    last_value: float | None = None
    firing: bool = False
    last_fired_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Checked:
    """What one check of an alert found: the value, whether the condition holds, whether it
    told anyone now (and whom), or why it could not run."""

    alert: str
    value: float | None = None
    holds: bool = False
    notified: tuple[int, ...] = ()
    error: str | None = None
    skipped: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"alert": self.alert, "value": self.value, "holds": self.holds,
                "notified": list(self.notified), "error": self.error,
                "skipped": self.skipped}


def _aware(moment: datetime | None) -> datetime | None:
    from app.notify.service import aware

    return None if moment is None else aware(moment)


def states(conn: sa.Connection) -> dict[str, AlertState]:
    """What the alert task last saw, by alert name."""
    return {row.name: AlertState(row.name, _aware(row.last_checked_at), row.last_value,
                                 bool(row.firing), _aware(row.last_fired_at), row.last_error)
            for row in conn.execute(sa.select(report_alerts))}


def alert_value(records: Records, a: AlertDef, r: ReportDef) -> float | None:
    """The value `a` watches: the measure of the whole report, or of the group `a.group`
    (None when that group has no records)."""
    if not a.group:
        value = run_report(records, r).totals.get(a.measure)
    else:  # the group's keys as the report's rows hold them (yes/no, 10 = 10.00, a label)
        wanted = parse_keys(records, r, [group_text(k) for k in a.group])
        row = next((row for row in run_all_groups(records, r).rows if row.keys == wanted),
                   None)
        value = row.values.get(a.measure) if row is not None else None
    return None if value is None else float(value)


def recipients(conn: sa.Connection, roles: Sequence[str], meta: Meta | None = None,
               report: ReportDef | None = None) -> list[int]:
    """Active users with one of `roles`, by id; with `meta` and `report`, only those who may
    read the report's records and every field it uses (the others would learn numbers they
    may not see)."""
    wanted = set(roles)
    rows = conn.execute(sa.select(users.c.id, users.c.roles).where(users.c.active.is_(True))
                        .order_by(users.c.id))
    found = [(int(row.id), tuple(row.roles or ())) for row in rows
             if wanted & set(row.roles or ())]
    if meta is None or report is None:
        return [uid for uid, _roles in found]
    return [uid for uid, their in found if may_see(meta, their, report)]


def may_see(meta: Meta, roles: Sequence[str], r: ReportDef) -> bool:
    """Whether users with `roles` may read the records of `r` and every field it uses."""
    from app.access.policy import cached_entity_access

    e = meta.entities.get(r.entity)
    if e is None:
        return False
    acc = cached_entity_access(meta, roles, e)
    return acc.allows("read") and not set(report_fields(r)) & acc.hidden


def _ensure_row(engine: sa.Engine, name: str) -> None:
    with engine.connect() as conn:
        if conn.execute(sa.select(report_alerts.c.name)
                        .where(report_alerts.c.name == name)).first() is not None:
            return
    try:
        with engine.begin() as conn:
            conn.execute(report_alerts.insert().values(name=name, firing=False))
    except sa.exc.IntegrityError:  # another worker made it first
        pass


def _notice(records: Records, a: AlertDef, r: ReportDef, value: float | None) -> Any:
    from app.notify import Notice

    def compose() -> tuple[str, str]:
        locale = get_locale()
        shown = format_number(value if value is not None else 0)
        limit = format_number(a.threshold)
        subject = _("Alert: %(alert)s", alert=a.label_for(locale))
        body = _("%(report)s: %(measure)s is %(value)s (the alert fires when it is "
                 "%(op)s %(threshold)s).", report=r.label_for(locale),
                 measure=_measure_label(records, r, a.measure, locale), value=shown, op=a.op,
                 threshold=limit)
        return subject, body

    return Notice(kind=KIND, compose=compose, link=f"/reports/{r.name}")


def _measure_label(records: Records, r: ReportDef, key: str, locale: str) -> str:
    from app.reports.compute import measure_text

    m = next((m for m in r.measures if m.key == key), None)
    return measure_text(records, r, m, locale) if m is not None else key


def check_alert(records: Records, settings: Settings, a: AlertDef, *,
                now: datetime | None = None) -> Checked:
    """Check `a` now (whatever its interval): record what was seen, and notify the `notify`
    roles when the condition starts to hold."""
    at = now or clock.now()
    engine = records.engine
    _ensure_row(engine, a.name)
    r = records.meta.reports.get(a.report)
    try:
        if r is None:
            raise RecordError(_("There is no report '%(name)s'.", name=a.report))
        value = alert_value(records, a, r)
    except RecordError as exc:
        with engine.begin() as conn:
            conn.execute(report_alerts.update().where(report_alerts.c.name == a.name)
                         .values(last_checked_at=at, last_error=str(exc)[:1000]))
        log.warning("alert %s could not run: %s", a.name, exc)
        return Checked(a.name, error=str(exc))
    now_holds = holds(a.op, value, a.threshold)
    told: list[int] = []
    c = report_alerts.c
    with engine.begin() as conn:
        conn.execute(report_alerts.update().where(c.name == a.name).values(
            last_checked_at=at, last_value=value, last_error=None))
        if now_holds:
            turned = conn.execute(report_alerts.update().where(
                c.name == a.name, c.firing.is_(False)).values(firing=True, last_fired_at=at))
            if turned.rowcount:
                assert r is not None
                told = notify_roles(records, conn, settings, a, r, value)
        else:
            conn.execute(report_alerts.update().where(c.name == a.name).values(firing=False))
    if told:
        from app.notify import enqueue_pending

        enqueue_pending(engine)
        log.info("alert %s fired (%s %s %s): told %s user(s)", a.name, value, a.op,
                 a.threshold, len(told))
    return Checked(a.name, value, now_holds, tuple(told))


def notify_roles(records: Records, conn: sa.Connection, settings: Settings, a: AlertDef,
                 r: ReportDef, value: float | None) -> list[int]:
    """Tell every active user with one of `a.notify`'s roles (in the app and by mail), in the
    caller's transaction; their ids."""
    from app.notify import notify

    ids = recipients(conn, a.notify, records.meta, r)
    notify(conn, settings, ids, _notice(records, a, r, value))
    return ids


def due(a: AlertDef, state: AlertState | None, now: datetime) -> bool:
    """Whether `a`'s interval has passed since its last check."""
    if state is None or state.last_checked_at is None:
        return True
    return now - state.last_checked_at >= timedelta(minutes=a.every_minutes) - \
        timedelta(seconds=5)  # a tick that runs a little early still counts


def check_alerts(records: Records, settings: Settings, *, now: datetime | None = None,
                 force: bool = False) -> list[Checked]:
    """Check every config alert whose interval has passed (every one with `force`)."""
    at = now or clock.now()
    with records.engine.connect() as conn:
        seen = states(conn)
    out = []
    for a in records.meta.alerts.values():
        if not force and not due(a, seen.get(a.name), at):
            out.append(Checked(a.name, skipped=True))
            continue
        out.append(check_alert(records, settings, a, now=at))
    return out


@task("reports.alerts", periodic=crontab(minute="*"))
def alerts_task(ctx: Context) -> None:
    """The periodic check, on the live config version, as the system."""
    from app.workflow.approvals.tasks import live_records

    try:
        rs = live_records(ctx)
    except sa.exc.OperationalError:  # the system tables are not there yet
        return
    if rs is None or not rs.meta.alerts:
        return
    for done in check_alerts(rs, ctx.settings):
        if done.notified or done.error:
            log.info("report alert: %s", done.as_json())
