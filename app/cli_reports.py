"""`crm report`: the reports, dashboards and alerts of the live config (reports/*.yaml).

    crm report list [--as USER] [--json]
    crm report run NAME [--as USER] [--json | --csv]
    crm report alerts [--run] [--json]

`run` computes a report as the user named by `--as` (only the records they may read; without
it, as the system: every record); NAME is a config report's name or `u<id>` of a user report
(which `--as` must be allowed to see). `alerts --run` checks every alert now, whatever its
interval, and notifies as the task queue would. A refusal prints "Refused: <why>" and exits 2.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, NoReturn

import click
import sqlalchemy as sa

from app.cli_errors import EXIT_REFUSED, friendly
from app.context import Context
from app.i18n import _, get_locale
from app.model.system import users
from app.records import Actor, RecordError, Records
from app.records.change import SYSTEM

#: control characters (labels come from users: no terminal escapes)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _clean(text: Any) -> str:
    return _CONTROL.sub(" ", str(text))


def _refused(message: str) -> NoReturn:
    click.secho(_("Refused: %(why)s", why=message), fg="red", err=True)
    sys.exit(EXIT_REFUSED)


def _live(ctx: Context) -> Records:
    from app.cli_privacy import live_records

    ctx.queue  # noqa: B018  (notifications go out through the deployment's task queue)
    return live_records(ctx)


def _as(ctx: Context, rs: Records, username: str | None) -> Records:
    if username is None:
        return rs
    with ctx.engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.username, users.c.roles,
                                     users.c.active).where(users.c.username == username)).first()
    if row is None or not row.active:
        raise click.ClickException(_("There is no active user '%(name)s'.", name=username))
    who = Actor(int(row.id), row.username, tuple(row.roles or ()), get_locale())
    return Records(rs.engine, rs.models, plugins=rs.plugins, actor=who)


@click.group("report")
def report() -> None:
    """Reports, dashboards and alerts (reports/*.yaml; docs/reports.md)."""


@report.command("list")
@click.option("--as", "username", default=None, help="also list this user's own and shared "
              "reports, and only those they may run")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_obj
@friendly
def list_reports(ctx: Context, username: str | None, as_json: bool) -> None:
    """The config's reports (and, with --as, the user's own and shared ones)."""
    from app.access.view import visible_meta
    from app.reports import store
    from app.reports.definition import check_report

    rs = _as(ctx, _live(ctx), username)
    who = rs.actor
    seen = rs.meta if who.is_system else visible_meta(rs.meta, who.roles)
    locale = get_locale()
    acc = rs.access()
    found = [(r, "config") for r in rs.meta.reports.values()
             if acc.allows(r.entity, "read") and not check_report(seen, r, rs.registry)]
    if not who.is_system:
        with ctx.engine.connect() as conn:
            own, shared = store.reports_visible_to(conn, int(who.id or 0))
        found += [(r, who.username) for r in own if acc.allows(r.entity, "read")]
        found += [(r, owner) for r, owner in shared if acc.allows(r.entity, "read")]
    rows = [{"ref": f"u{r.ref}" if r.origin == "user" else r.name, "label": r.label_for(locale),
             "entity": r.entity, "chart": r.chart, "owner": owner} for r, owner in found]
    if as_json:
        click.echo(json.dumps({"reports": rows}, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(_("No reports."))
        return
    width = max(len(row["ref"]) for row in rows)
    for row in rows:
        click.echo(f"{row['ref']:<{width}}  {_clean(row['label'])}  ({row['entity']}, "
                   f"{row['chart']}, {_clean(row['owner'])})")


@report.command("run")
@click.argument("name")
@click.option("--as", "username", default=None, help="run as this user (their records only)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--csv", "as_csv", is_flag=True, help="print CSV (every group and the totals)")
@click.pass_obj
@friendly
def run(ctx: Context, name: str, username: str | None, as_json: bool, as_csv: bool) -> None:
    """Compute report NAME (a config report's name, or u<id>)."""
    from app.reports import store
    from app.reports.compute import measure_text, run_report
    from app.reports.export import report_csv

    if as_json and as_csv:
        raise click.UsageError(_("Choose one of --json and --csv."))
    rs = _as(ctx, _live(ctx), username)
    who: Any = rs.actor if not rs.actor.is_system else SYSTEM
    with ctx.engine.connect() as conn:
        r = store.get_report(rs.meta, conn, who, name)
    if r is None:
        _refused(_("There is no report '%(name)s'.", name=name[:80]))
    locale = get_locale()
    try:
        if as_csv:
            for chunk in report_csv(rs, r, me=rs.actor.id, locale=locale, bom=False):
                click.echo(chunk, nl=False)
            return
        result = run_report(rs, r, me=rs.actor.id, locale=locale)
    except RecordError as exc:
        _refused(exc.message)
    from app.api.reports import plain

    if as_json:
        click.echo(json.dumps({
            "report": name, "label": r.label_for(locale),
            "rows": [{"keys": [plain(k) for k in row.keys], "labels": list(row.labels),
                      "values": {k: plain(v) for k, v in row.values.items()}}
                     for row in result.rows],
            "totals": {k: plain(v) for k, v in result.totals.items()},
            "truncated": result.truncated}, ensure_ascii=False, indent=2))
        return
    click.echo(_clean(r.label_for(locale)))
    heads = [measure_text(rs, r, m, locale) for m in r.measures]
    for row in result.rows:
        values = ", ".join(f"{h}: {_number(row.values.get(m.key))}"
                           for h, m in zip(heads, r.measures, strict=True))
        click.echo(f"  {_clean(' / '.join(row.labels))}: {values}")
    totals = ", ".join(f"{h}: {_number(result.totals.get(m.key))}"
                       for h, m in zip(heads, r.measures, strict=True))
    click.echo(_("Total: %(values)s", values=totals))
    if result.truncated:
        click.echo(_("(only the first %(n)s groups are shown)", n=r.limit))


def _number(value: Any) -> str:
    from app.i18n import format_number

    if value is None:
        return "-"
    if isinstance(value, int | float) or type(value).__name__ == "Decimal":
        return format_number(value)
    return str(value)


@report.command("alerts")
@click.option("--run", "run_now", is_flag=True, help="check every alert now and notify")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_obj
@friendly
def alerts(ctx: Context, run_now: bool, as_json: bool) -> None:
    """The config's alerts and what their last check saw (--run: check them now)."""
    from app.reports.alerts import check_alerts, states

    rs = _live(ctx)
    checked = {c.alert: c for c in check_alerts(rs, ctx.settings, force=True)} \
        if run_now else {}
    with ctx.engine.connect() as conn:
        seen = states(conn)
    locale = get_locale()
    rows = []
    for a in rs.meta.alerts.values():
        st = seen.get(a.name)
        done = checked.get(a.name)
        rows.append({
            "alert": a.name, "label": a.label_for(locale), "report": a.report,
            "condition": f"{a.measure} {a.op} {_number(a.threshold)}",
            "every_minutes": a.every_minutes,
            "last_checked_at": st.last_checked_at.isoformat() if st and st.last_checked_at
            else None,
            "last_value": st.last_value if st else None, "firing": bool(st and st.firing),
            "error": st.last_error if st else None,
            "notified": list(done.notified) if done else []})
    if as_json:
        click.echo(json.dumps({"alerts": rows}, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(_("No alerts."))
        return
    for row in rows:
        state = _("firing") if row["firing"] else _("quiet")
        click.echo(f"{row['alert']}: {_clean(row['label'])} - {row['report']} "
                   f"{row['condition']} ({state}; "
                   + _("last value %(value)s, checked %(at)s",
                       value=_number(row["last_value"]), at=row["last_checked_at"] or "-")
                   + ")")
        if row["error"]:
            click.secho("  " + _clean(row["error"]), fg="red")
        if row["notified"]:
            click.echo("  " + _("notified %(n)s user(s)", n=len(row["notified"])))
