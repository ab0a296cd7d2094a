"""bench/views.py runs end to end at a tiny size: the setup loads the rows, ours and the
hand-written baseline show the same records, and the table prints every line. No timing is
asserted: the benchmark prints ratios for people to read (see bench/README.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench import views as bench
from bench.views_baseline import Tables
from bench.views_data import DELETED_EVERY, deploy, load_data

ROWS = 2_000


@pytest.fixture
def loaded(tmp_path: Path, database_url: str) -> Iterator[str]:
    """The default pack with ROWS opportunities, on SQLite (or PostgreSQL in CI)."""
    ctx = deploy(tmp_path / "deploy", database_url)
    try:
        data = load_data(ctx, ROWS)
        assert data.rows == ROWS and data.accounts == ROWS // 100
    finally:
        ctx.dispose()
    yield database_url


def test_setup_loads_realistic_rows(loaded: str) -> None:
    engine = sa.create_engine(loaded)
    with engine.connect() as conn:
        count = conn.exec_driver_sql("SELECT count(*) FROM ent_opportunity").scalar_one()
        deleted = conn.exec_driver_sql(
            "SELECT count(*) FROM ent_opportunity WHERE deleted_at IS NOT NULL").scalar_one()
        stages = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT stage FROM ent_opportunity")}
        audits = conn.exec_driver_sql(
            "SELECT count(*) FROM sys_audit WHERE entity = 'opportunity'").scalar_one()
        orphans = conn.exec_driver_sql(
            "SELECT count(*) FROM ent_opportunity o LEFT JOIN ent_account a "
            "ON a.id = o.account_id WHERE a.id IS NULL").scalar_one()
    engine.dispose()
    assert count == ROWS and deleted == ROWS // DELETED_EVERY
    assert {"prospecting", "won", "lost"} <= stages
    assert audits == ROWS and orphans == 0


def test_the_baseline_pages_the_same_rows_as_the_list_query(loaded: str) -> None:
    tables = Tables(loaded)
    rows, count = tables.list_page()
    later, _count = tables.list_page((rows[49].close_date, rows[49].id))
    tables.engine.dispose()
    assert len(rows) == 51 and count == ROWS - ROWS // DELETED_EVERY
    keys = [(r.close_date, r.id) for r in rows[:50] + later[:50]]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == 100


def test_the_whole_benchmark_runs_and_prints_every_line(database_url: str) -> None:
    run = bench.bench_views(database_url, ROWS, requests=8, profile=True)
    text = bench.render(run)
    for line in ("list, first page", f"list, page {bench.LATER_PAGE} (keyset)",
                 "detail, random ids", "list query only", "first list page, median latency",
                 "first list page, p95 latency", "ratio", "r/s", f"{ROWS:,} opportunities"):
        assert line in text, line
    assert all(len(r.ours) == len(r.base) >= 8 for r in run.results)
    assert "render lists/list.html" in run.profiles["list, first page: wall clock by step"]
    assert "related_lists" in run.profiles["detail, random ids: wall clock by step"]
    assert "web/lists.py" in run.profiles["list, first page: cProfile top 25"]


def test_the_command_line_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--rows", "1000", "--requests", "4"]) == 0
    out = capsys.readouterr().out
    assert "SQLite, 1,000 opportunities" in out and "detail, random ids" in out
