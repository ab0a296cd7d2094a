"""Demo targets: every demo sales rep and their teams get one target per metric for this and
the last quarter, made from what they reached, so the Targets page has content after
`crm setup` (`make run`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.context import Context
from app.records.change import SYSTEM
from app.targets import attainment
from app.targets.demo import load_demo_targets
from app.targets.periods import Period
from tests.factories import ROLES
from tests.targetskit import deal, deployment, records, uid

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 24)


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def test_targets_for_the_reps_and_their_teams(ctx: Context) -> None:
    deal(ctx, "alice", "120000", date(2026, 11, 2))
    deal(ctx, "carol", "80000", date(2026, 8, 2))
    rs = records(ctx)
    with ctx.engine.begin() as conn:
        made = load_demo_targets(conn, rs.meta, today=TODAY)
    # reps alice, bob, carol; teams east (alice, bob) and north (carol): 5 x 3 metrics x 2
    assert made == 30
    table = rs.table("sales_target")
    with ctx.engine.connect() as conn:
        rows = conn.execute(table.select()).all()
    assert {r.period_start for r in rows} == {date(2026, 7, 1), date(2026, 10, 1)}
    assert all((r.assignee_id is None) != (r.team is None) for r in rows)
    assert all(r.owner_id == r.assignee_id for r in rows if r.assignee_id is not None)
    assert {r.owner_id for r in rows if r.team} == {uid(ctx, "manager")}
    revenue = rs.meta.feature("targets")["revenue"]
    board = attainment(rs, SYSTEM, Period("quarter", date(2026, 10, 1)), revenue)
    assert {ln.name for ln in board.reps} == {"Alice East", "Bob East", "Carol North"}
    assert all(ln.rank is not None for ln in board.reps)
    assert [ln.team for ln in board.teams] == ["east", "north"]
    alice = next(ln for ln in board.reps if ln.name == "Alice East")
    assert alice.actual == 120000 and alice.target is not None and alice.target % 10000 == 0


def test_setup_loads_them(tmp_path: Path, database_url: str,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(f"schemas: {ROOT / 'schemas'}\nworkflows: {ROOT / 'workflows'}\n"
                      f"roles: [{', '.join(ROLES)}]\nmigrations: {tmp_path / 'migrations'}\n",
                      encoding="utf-8")
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    monkeypatch.setenv("CRM_ENCRYPTION_KEY", "Xb2fU3sY1V0rQm1kz7c7r1m0FzQeGd0p3c8k5h2vJ8o=")
    result = CliRunner().invoke(main, ["--config", str(config), "setup"])
    assert result.exit_code == 0, result.output
    ctx = Context.from_env(config)
    try:
        from app.model.build import build_models
        from app.targets.service import period_from

        with ctx.engine.connect() as conn:
            from app.migrate.publish import active_version

            _, meta = active_version(conn)
            assert meta is not None
            table = build_models(meta, orm_classes=False).table("sales_target")
            count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        # rep1 (east) and rep2 (north), and their two teams: 4 x 3 metrics x 2 quarters
        assert count == 24
        from app.records import Records

        rs = Records(ctx.engine, build_models(meta, orm_classes=False))
        board = attainment(rs, SYSTEM, period_from("this_quarter"),
                           meta.feature("targets")["revenue"])
        assert len(board.reps) >= 2 and {t.team for t in board.teams} == {"east", "north"}
    finally:
        ctx.dispose()
