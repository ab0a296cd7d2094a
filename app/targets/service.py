"""Attainment and the leaderboard: targets against what each rep and team reached.

    board = attainment(records, actor, period, metric)     # Board: reps and teams, ranked
    board.reps[0].percent, board.reps[0].rank, board.teams ...

What a board holds (no Flask here; the web page, the API and the CLI show the same board):

- **reps**: every user with a target of this metric for this period, and every user who
  reached something in it without one (no rank, shown after the ranked ones);
- **teams**: the teams of the access config with a team target, or whose members have
  targets or reached something: a team's actual is the sum of its members' (a user in two
  teams counts in both); its target is the team's own target, else the sum of its members'
  targets (`from_reps`).

Ranking: by attainment (actual / target), highest first; equal attainment shares a rank
(1, 2, 2, 4), listed by name. No target (or one of 0): no rank.

Who sees what: only users who may read `sales_target` at all (Forbidden otherwise). Everyone
who may sees the names, ranks and percentages of all reps and teams (the leaderboard is
public within sales). Amounts (target and actual) only where the viewer's read scope on
`sales_target` reaches the rep (own: their own row; subordinates / team / all: those users;
administrators everything), and a team's amounts only when it reaches every member; never
when the target field, or the metric's summed field, is hidden from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from app import clock
from app.i18n import _, get_locale
from app.meta.targets import TARGET_ENTITY, MetricDef
from app.meta.types import label_text
from app.model.access import user_teams
from app.model.system import users
from app.records.change import Actor
from app.records.errors import Forbidden, NotFound, RecordError
from app.records.service import Records
from app.targets.compute import actuals
from app.targets.periods import Period, PeriodError, parse_period

Number = int | Decimal
REP, TEAM = "rep", "team"
#: the period a board shows when none is asked for
DEFAULT_PERIOD = "this_quarter"


class TargetsError(RecordError):
    """A period or metric that cannot be read (400), naming what was given."""

    status = 400


@dataclass(frozen=True)
class Line:
    """One rep or team of a board. `target` and `actual` are None where the viewer may not
    see amounts (`amounts` False); `percent` is the attainment to one decimal place."""

    kind: str
    key: str
    name: str
    target: Number | None
    actual: Number | None
    percent: Decimal | None
    rank: int | None
    amounts: bool
    user_id: int | None = None
    team: str | None = None
    #: a rep's teams (names) and their labels
    teams: tuple[str, ...] = ()
    team_labels: tuple[str, ...] = ()
    #: the sales_target record (None: no target of its own, or amounts not shown)
    target_id: int | None = None
    #: a team without a target of its own: the sum of its members' targets
    from_reps: bool = False
    members: int = 0
    #: the exact attainment, for ranking (None: no target)
    ratio: Fraction | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Board:
    period: Period
    metric: MetricDef
    reps: tuple[Line, ...]
    teams: tuple[Line, ...]
    #: whether the viewer sees any amount (a manager) or only names and percentages (a rep)
    amounts: bool


def metrics_of(records: Records) -> Mapping[str, MetricDef]:
    return records.meta.feature("targets")


def metric_named(records: Records, name: str | None) -> MetricDef:
    """The metric `name` (the first one when None); NotFound names the metrics there are."""
    found = metrics_of(records)
    if not found:
        raise NotFound(_("No target metrics are configured (targets: in workflows/*.yaml)."))
    if name is None or name == "":
        return next(iter(found.values()))
    metric = found.get(name)
    if metric is None:
        raise NotFound(_("There is no metric '%(name)s'; the metrics are: %(names)s.",
                         name=str(name)[:60], names=", ".join(found)))
    return metric


def period_from(text: str | None, today: date | None = None) -> Period:
    """The period of `text` (default: this quarter); TargetsError when it is not one."""
    day = today or clock.now().date()
    try:
        return parse_period(text or DEFAULT_PERIOD, day)
    except PeriodError as exc:
        raise TargetsError(str(exc)) from None


def board_for(records: Records, actor: Actor, period: str | None, metric: str | None,
              today: date | None = None) -> Board:
    """`attainment` from the texts of a request or a command line."""
    return attainment(records, actor, period_from(period, today), metric_named(records, metric))


# --- who sees what ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Visibility:
    #: user ids whose amounts the viewer sees (None: everyone's)
    owners: frozenset[int] | None
    #: False: no amounts at all (a hidden field)
    any: bool

    def user(self, uid: int) -> bool:
        return self.any and (self.owners is None or uid in self.owners)

    def team(self, members: Iterable[int]) -> bool:
        ids = set(members)
        if not self.any:
            return False
        if self.owners is None:
            return True
        return bool(ids) and ids <= self.owners


def visibility(records: Records, actor: Actor, metric: MetricDef) -> Visibility:
    """What `actor` may see of boards of `metric` (Forbidden: no board at all)."""
    acc = records.access(actor)
    if TARGET_ENTITY not in records.meta.entities or \
            not acc.allows(TARGET_ENTITY, "read"):
        label = records.meta.entities[TARGET_ENTITY].plural_for(get_locale()) \
            if TARGET_ENTITY in records.meta.entities else TARGET_ENTITY
        raise Forbidden(_("You may not see %(entities)s.", entities=label))
    if acc.unrestricted:
        return Visibility(None, True)
    hidden = metric.target_field in acc.hidden(TARGET_ENTITY) or (
        metric.field is not None and metric.field in acc.hidden(metric.entity))
    owners = acc.owners(acc.entity(TARGET_ENTITY).scope("read"))
    return Visibility(None if owners is None else frozenset(owners), not hidden)


def may_set(records: Records, actor: Actor) -> bool:
    """Whether `actor` may set targets at all (create sales_target records)."""
    return TARGET_ENTITY in records.meta.entities and \
        records.access(actor).allows(TARGET_ENTITY, "create")


# --- reading targets --------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    id: int
    version: int
    user_id: int | None
    team: str | None
    value: Number | None


def targets_of(records: Records, metric: MetricDef, period: Period,
               conn: sa.Connection | None = None) -> list[Target]:
    """The live targets of `metric` for `period` (every one, whoever may read it)."""
    table = records.table(TARGET_ENTITY)
    stmt = records.full_select(TARGET_ENTITY).where(
        table.c.deleted_at.is_(None), table.c.metric == metric.name,
        table.c.period_type == period.kind, table.c.period_start == period.start)

    def read(c: sa.Connection) -> list[Target]:
        return [Target(int(row.id), int(row.version), row.assignee, row.team,
                       _number(metric, getattr(row, metric.target_field)))
                for row in c.execute(stmt.order_by(table.c.id))]

    if conn is not None:
        return read(conn)
    with records.engine.connect() as own:
        return read(own)


def _number(metric: MetricDef, value: Any) -> Number | None:
    if value is None:
        return None
    if metric.whole:
        return int(value)
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class People:
    names: Mapping[int, str]
    active: frozenset[int]
    teams: Mapping[int, tuple[str, ...]]
    members: Mapping[str, tuple[int, ...]]


def people(conn: sa.Connection) -> People:
    """Every user's name, who is active, and the teams (one query each)."""
    names: dict[int, str] = {}
    active: set[int] = set()
    for r in conn.execute(sa.select(users.c.id, users.c.username, users.c.full_name,
                                    users.c.active)):
        names[int(r.id)] = r.full_name or r.username
        if r.active:
            active.add(int(r.id))
    teams: dict[int, list[str]] = {}
    members: dict[str, list[int]] = {}
    for link in conn.execute(sa.select(user_teams.c.user_id, user_teams.c.team)
                             .order_by(user_teams.c.team, user_teams.c.user_id)):
        teams.setdefault(int(link.user_id), []).append(str(link.team))
        members.setdefault(str(link.team), []).append(int(link.user_id))
    return People(names, frozenset(active), {k: tuple(v) for k, v in teams.items()},
                  {k: tuple(v) for k, v in members.items()})


def team_labels(records: Records, locale: str | None = None) -> dict[str, str]:
    """Team name -> its label, in the access config's order."""
    access = records.meta.access
    loc = locale or get_locale()
    return {t.name: label_text(t.label, loc, t.name)
            for t in (access.teams.values() if access is not None else ())}


# --- the board --------------------------------------------------------------------------------
def _ratio(actual: Number, target: Number | None) -> Fraction | None:
    if target is None or target <= 0:
        return None
    return Fraction(actual) / Fraction(target)


def _percent(ratio: Fraction | None) -> Decimal | None:
    if ratio is None:
        return None
    exact = Decimal(ratio.numerator) * 100 / Decimal(ratio.denominator)
    return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _ranked(lines: Sequence[Line], actual_of: Mapping[str, Number]) -> tuple[Line, ...]:
    """Ranked lines first (attainment, highest first; ties share a rank, by name), then the
    unranked by what they reached, then name."""
    from dataclasses import replace

    with_target = sorted((ln for ln in lines if ln.ratio is not None),
                         key=lambda ln: (-(ln.ratio or 0), ln.name.casefold(), ln.key))
    out: list[Line] = []
    previous: Fraction | None = None
    rank = 0
    for i, ln in enumerate(with_target, 1):
        if ln.ratio != previous:
            rank, previous = i, ln.ratio
        out.append(replace(ln, rank=rank))
    rest = sorted((ln for ln in lines if ln.ratio is None),
                  key=lambda ln: (-actual_of.get(ln.key, 0), ln.name.casefold(), ln.key))
    return tuple(out + rest)


def attainment(records: Records, actor: Actor, period: Period, metric: MetricDef) -> Board:
    """The board of `metric` for `period` as `actor` may see it (see the module docstring):
    one grouped query for the actuals, one for the targets, one for the people."""
    seen = visibility(records, actor, metric)
    with records.engine.connect() as conn:
        reached = actuals(records, metric, period, conn)
        targets = targets_of(records, metric, period, conn)
        who = people(conn)
    labels = team_labels(records)
    rep_target = {t.user_id: t for t in targets if t.user_id is not None}
    team_target = {t.team: t for t in targets if t.team is not None and t.user_id is None}
    zero: Number = 0 if metric.whole else Decimal("0.00")
    uids = [u for u in dict.fromkeys([*rep_target, *reached]) if u in who.names]
    reps: list[Line] = []
    actual_of: dict[str, Number] = {}
    for uid in uids:
        t = rep_target.get(uid)
        actual = reached.get(uid, zero)
        if t is None and not actual:
            continue
        ratio = _ratio(actual, t.value if t else None)
        show = seen.user(uid)
        key = str(uid)
        actual_of[key] = actual
        mine = tuple(n for n in who.teams.get(uid, ()) if n in labels)
        reps.append(Line(REP, key, who.names[uid], t.value if t and show else None,
                         actual if show else None, _percent(ratio), None, show, user_id=uid,
                         teams=mine, team_labels=tuple(labels[n] for n in mine),
                         target_id=t.id if t and show else None, ratio=ratio))
    teams: list[Line] = []
    for name, label in labels.items():
        members = who.members.get(name, ())
        own = team_target.get(name)
        member_targets: list[Number] = [
            v for v in (rep_target[m].value for m in members if m in rep_target)
            if v is not None]
        actual = sum((reached.get(m, zero) for m in members), zero)
        if own is None and not member_targets and not actual:
            continue
        target: Number | None = own.value if own is not None else (
            sum(member_targets, zero) if member_targets else None)
        ratio = _ratio(actual, target)
        show = seen.team(members)
        actual_of[name] = actual
        teams.append(Line(TEAM, name, label, target if show else None,
                          actual if show else None, _percent(ratio), None, show, team=name,
                          target_id=own.id if own is not None and show else None,
                          from_reps=own is None, members=len(members), ratio=ratio))
    return Board(period, metric, _ranked(reps, actual_of), _ranked(teams, actual_of),
                 any(ln.amounts for ln in (*reps, *teams)) or (seen.any and seen.owners is None))


def leaderboard(records: Records, actor: Actor, period: Period, metric: MetricDef
                ) -> Board:
    """The ranked reps and the team subtotals of `metric` for `period`: the board of
    `attainment` (its lines are in rank order already)."""
    return attainment(records, actor, period, metric)


# --- JSON -------------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def line_json(line: Line) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": line.kind, "name": line.name, "rank": line.rank,
                           "percent": plain(line.percent), "amounts": line.amounts}
    if line.kind == REP:
        out["user_id"] = line.user_id
        out["teams"] = list(line.teams)
    else:
        out["team"] = line.team
        out["members"] = line.members
        out["target_from_reps"] = line.from_reps
    if line.amounts:
        out["target"] = plain(line.target)
        out["actual"] = plain(line.actual)
        out["target_id"] = line.target_id
    return out


def board_json(board: Board, locale: str) -> dict[str, Any]:
    m = board.metric
    return {"period": board.period.key, "period_label": board.period.label(locale),
            "period_type": board.period.kind, "start": board.period.start.isoformat(),
            "end": board.period.last_day.isoformat(),
            "metric": m.name, "metric_label": m.label_for(locale), "kind": m.kind,
            "amounts": board.amounts,
            "reps": [line_json(ln) for ln in board.reps],
            "teams": [line_json(ln) for ln in board.teams]}
