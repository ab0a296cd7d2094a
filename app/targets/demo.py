"""Demo sales targets: for each demo sales rep and each of their teams, one target per metric
for this quarter and the last one, so the Targets page has content after `make run`.

Made after the demo users own their part of the demo records (`crm setup`), from what each
rep reached: a target somewhat above or below it (a repeatable spread of attainments), or a
round figure where they reached nothing. A team's target is a little above the sum of its
reps'. Rows go straight into the table, as the rest of the demo data (app/demo.py). A rep's
targets are owned by the rep, a team's by the first sales manager (else nobody).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from app import clock
from app.meta.targets import TARGET_ENTITY, MetricDef
from app.meta.types import Meta, label_text
from app.model.build import build_models
from app.records.service import Records
from app.targets.compute import actuals
from app.targets.periods import Period
from app.targets.service import Number, people

REP_ROLE, MANAGER_ROLE = "sales_rep", "sales_manager"
#: what a rep is asked for when they reached nothing: amounts, counts
DEFAULT_AMOUNT, DEFAULT_COUNT = Decimal("200000"), 3


def _goal(metric: MetricDef, reached: Number, rnd: random.Random) -> Number:
    factor = Decimal(str(round(rnd.uniform(0.7, 1.6), 2)))
    if metric.whole:
        return max(1, int((Decimal(reached or DEFAULT_COUNT) * factor)
                          .quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    base = Decimal(reached) if reached else DEFAULT_AMOUNT
    return max(Decimal(10000), (base * factor / 10000).quantize(
        Decimal(1), rounding=ROUND_HALF_UP) * 10000)


def load_demo_targets(conn: sa.Connection, meta: Meta, *, seed: int = 42,
                      today: date | None = None) -> int:
    """Insert the demo targets (see the module docstring); how many were made. Nothing when
    the config has no targets (no `sales_target` entity or no `targets:` metrics)."""
    metrics = meta.feature("targets")
    if not metrics or TARGET_ENTITY not in meta.entities:
        return 0
    models = build_models(meta, orm_classes=False)
    rs = Records(conn.engine, models)
    table = models.table(TARGET_ENTITY)
    columns = rs.spec(TARGET_ENTITY).columns
    who = people(conn)
    roles = _roles(conn)
    reps = sorted(u for u in who.active if REP_ROLE in roles.get(u, ()))
    managers = sorted(u for u in who.active if MANAGER_ROLE in roles.get(u, ()))
    teams = {t: [u for u in members if u in reps] for t, members in who.members.items()}
    teams = {t: m for t, m in teams.items() if m}
    rnd = random.Random(seed)
    now = clock.now()
    quarter = Period.quarter_of(today or now.date())
    rows: list[dict[str, Any]] = []
    for period in (quarter.shifted(-1), quarter):
        for metric in metrics.values():
            reached = actuals(rs, metric, period, conn)
            goals = {uid: _goal(metric, reached.get(uid, 0), rnd) for uid in reps}
            for uid, goal in goals.items():
                rows.append(_row(metric, period, goal, who.names[uid], owner=uid,
                                 assignee=uid))
            for team, members in teams.items():
                total = sum((goals[m] for m in members), Decimal(0))
                goal = int(total * Decimal("1.1")) if metric.whole else \
                    (total * Decimal("1.1") / 10000).quantize(Decimal(1)) * 10000
                rows.append(_row(metric, period, goal, _team_label(meta, team),
                                 owner=managers[0] if managers else None, team=team))
    stamp = datetime(now.year, now.month, now.day, tzinfo=UTC)
    out = [{columns.get(k, k): v for k, v in row.items()} | {
        "version": 1, "created_at": stamp, "updated_at": stamp,
        "created_by_id": row["owner_id"], "updated_by_id": row["owner_id"],
        "deleted_at": None} for row in rows]
    if out:
        conn.execute(table.insert(), [{k: v for k, v in r.items() if k in table.c}
                                      for r in out])
    return len(out)


def _roles(conn: sa.Connection) -> dict[int, tuple[str, ...]]:
    from app.model.system import users

    return {int(r.id): tuple(r.roles or ()) for r in
            conn.execute(sa.select(users.c.id, users.c.roles))}


def _team_label(meta: Meta, team: str) -> str:
    access = meta.access
    found = access.teams.get(team) if access is not None else None
    return label_text(found.label, "en", team) if found is not None else team


def _row(metric: MetricDef, period: Period, goal: Number, who: str, *, owner: int | None,
         assignee: int | None = None, team: str | None = None) -> dict[str, Any]:
    return {"name": f"{metric.label_for('en')} · {who} · {period.label('en')}",
            "metric": metric.name, "period_type": period.kind, "period_start": period.start,
            "assignee": assignee, "team": team, "target_amount": None, "target_count": None,
            "notes": None, metric.target_field: goal, "owner_id": owner}
