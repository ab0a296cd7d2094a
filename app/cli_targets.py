"""`crm targets`: attainment of the sales targets and the leaderboard (docs/targets.md).

    crm targets metrics [--json]
    crm targets attainment [--period 2026-11|2026-Q4|this_quarter] [--metric revenue]
                           [--as USER] [--json]
    crm targets leaderboard [same options]

Without `--as` the board is computed as the system (every amount); with it, as that user
sees it on the Targets page (amounts only where they may see them). A refusal prints
"Refused: <why>" and exits 2.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, NoReturn

import click

from app.cli_errors import EXIT_REFUSED, friendly
from app.context import Context
from app.i18n import _, format_number, get_locale
from app.records import RecordError, Records
from app.targets.service import Board, Line, board_for, board_json, metrics_of

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _clean(text: Any) -> str:
    return _CONTROL.sub(" ", str(text))


def _refused(message: str) -> NoReturn:
    click.secho(_("Refused: %(why)s", why=message), fg="red", err=True)
    sys.exit(EXIT_REFUSED)


def _records(ctx: Context, username: str | None) -> Records:
    from app.cli_reports import _as, _live

    return _as(ctx, _live(ctx), username)


@click.group("targets")
def targets_group() -> None:
    """Sales targets: attainment and leaderboard (workflows/targets.yaml; docs/targets.md)."""


@targets_group.command("metrics")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_obj
@friendly
def metrics(ctx: Context, as_json: bool) -> None:
    """The metrics targets can be set on."""
    rs = _records(ctx, None)
    locale = get_locale()
    found = [{"name": m.name, "label": m.label_for(locale), "entity": m.entity,
              "measure": m.measure, "field": m.field, "date": m.date, "user": m.user,
              "when": m.when} for m in metrics_of(rs).values()]
    if as_json:
        click.echo(json.dumps({"metrics": found}, ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo(_("No target metrics are configured (targets: in workflows/*.yaml)."))
    for m in found:
        what = "count" if m["measure"] == "count" else f"sum of {m['field']}"
        when = f", when {_clean(m['when'])}" if m["when"] else ""
        click.echo(f"{m['name']}  {_clean(m['label'])}  ({m['entity']}: {what} by "
                   f"{m['date']}, per {m['user']}{when})")


def _options(fn: Any) -> Any:
    fn = click.option("--json", "as_json", is_flag=True, help="print JSON")(fn)
    fn = click.option("--as", "username", default=None,
                      help="as this user sees it (default: the system, every amount)")(fn)
    fn = click.option("--metric", default=None, help="a metric's name (default: the first)")(fn)
    fn = click.option("--period", default=None,
                      help="2026-11, 2026-Q4, this_month, last_quarter ... "
                           "(default: this quarter)")(fn)
    return fn


def _board(ctx: Context, period: str | None, metric: str | None, username: str | None
           ) -> Board:
    rs = _records(ctx, username)
    try:
        return board_for(rs, rs.actor, period, metric)
    except RecordError as exc:
        _refused(exc.message)


def _amount(value: Any) -> str:
    return "-" if value is None else format_number(value)


def _line(ln: Line, amounts: bool) -> str:
    rank = f"{ln.rank}." if ln.rank is not None else "-"
    percent = f"{format_number(ln.percent)}%" if ln.percent is not None else _("no target")
    text = f"  {rank:>4} {_clean(ln.name)}: {percent}"
    if amounts and ln.amounts:
        text += f"  ({_amount(ln.actual)} / {_amount(ln.target)})"
    if ln.team_labels:
        text += f"  [{_clean(', '.join(ln.team_labels))}]"
    return text


def _print(board: Board) -> None:
    locale = get_locale()
    click.echo(f"{_clean(board.metric.label_for(locale))} · {board.period.label(locale)} "
               f"({board.period.start.isoformat()} .. {board.period.last_day.isoformat()})")
    click.echo(_("Teams:"))
    for ln in board.teams:
        click.echo(_line(ln, board.amounts))
    if not board.teams:
        click.echo("  -")
    click.echo(_("Sales reps:"))
    for ln in board.reps:
        click.echo(_line(ln, board.amounts))
    if not board.reps:
        click.echo("  -")


@targets_group.command("attainment")
@_options
@click.pass_obj
@friendly
def attainment_command(ctx: Context, period: str | None, metric: str | None,
                       username: str | None, as_json: bool) -> None:
    """Target, actual and attainment of every rep and team for one period and metric."""
    board = _board(ctx, period, metric, username)
    if as_json:
        click.echo(json.dumps(board_json(board, get_locale()), ensure_ascii=False, indent=2))
        return
    _print(board)


@targets_group.command("leaderboard")
@_options
@click.pass_obj
@friendly
def leaderboard_command(ctx: Context, period: str | None, metric: str | None,
                        username: str | None, as_json: bool) -> None:
    """The reps ranked by attainment, then the team subtotals."""
    board = _board(ctx, period, metric, username)
    if as_json:
        body = board_json(board, get_locale())
        reps = body.pop("reps")
        body["ranking"] = [r for r in reps if r["rank"] is not None]
        body["unranked"] = [r for r in reps if r["rank"] is None]
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    locale = get_locale()
    click.echo(f"{_clean(board.metric.label_for(locale))} · {board.period.label(locale)}")
    for ln in board.reps:
        click.echo(_line(ln, board.amounts))
    if board.teams:
        click.echo(_("Teams:"))
        for ln in board.teams:
            click.echo(_line(ln, board.amounts))
