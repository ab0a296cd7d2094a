"""bench/engine.py runs end to end at tiny sizes (SQLite only). No timing is asserted: the
benchmark prints ratios for people to read (see bench/README.md)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from app.meta.loader import load_meta
from app.model.build import build_models
from bench import engine as bench


def test_generated_config_loads_and_matches_the_core_baseline(tmp_path: Path) -> None:
    spec = bench.generated_spec(entities=3, fields=14)
    meta = load_meta([bench.write_generated_pack(tmp_path, spec)], bench.ROLES)
    models = build_models(meta)
    core = bench.core_tables(spec)
    assert set(models.tables) == {"e000", "e001", "e002"}
    types = {f.type for e in spec for f in e.fields}
    assert {"formula", "lookup", "picklist", "currency", "email"} <= types
    for name, table in models.tables.items():
        assert {c.name for c in table.columns} == {c.name for c in core.tables[f"ent_{name}"].c}
        assert {f.name for f in spec[int(name[1:])].fields} == set(meta.entity(name).fields)


def test_cold_start_runs_in_fresh_processes(tmp_path: Path) -> None:
    default = bench.cold_start_default_pack(runs=1)
    assert default.entities > 5 and default.load > 0 and default.build > 0
    ours, base = bench.cold_start_generated(tmp_path / "schemas", entities=2, fields=12, runs=1)
    assert ours.entities == 2 and base.build > 0


def test_add_field_on_a_filled_table_keeps_rows(tmp_path: Path) -> None:
    with bench.sqlite_file() as url:
        result = bench.bench_big_table(url, rows=1_000, repeat=2)
    assert result.backend == "sqlite" and result.runs == 2
    assert result.steps == ["add string field bench_item.extra_1"]
    assert result.plan > 0 and result.publish > 0 and result.baseline > 0


def test_add_field_on_a_wide_config(tmp_path: Path) -> None:
    with bench.sqlite_file() as url:
        result = bench.bench_wide_config(url, entities=2, fields=12, repeat=1)
    assert result.steps == ["add string field e001.extra_1"]


def test_twin_table_copies_columns_and_indexes() -> None:
    md = sa.MetaData()
    sa.Table("ent_a", md, sa.Column("id", sa.Integer, primary_key=True))
    table = sa.Table("ent_b", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("a_id", sa.Integer, sa.ForeignKey("ent_a.id")),
                     sa.Index("ix_ent_b_a_id", "a_id"))
    twin = bench._twin_table(table)
    assert twin.name == "bl_b" and [c.name for c in twin.c] == ["id", "a_id"]
    assert {i.name for i in twin.indexes} == {"bl_ix_ent_b_a_id"}
    engine = sa.create_engine("sqlite://")
    twin.metadata.create_all(engine)
    assert {"bl_b", "ent_a"} <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_the_whole_table_renders() -> None:
    lines, results = bench.run_all(rows=500, runs=1, repeat=1, entities=2, fields=12)
    text = bench.render(lines)
    assert "cold start, generated 2x12" in text
    assert "add nullable field, SQLite, 500 rows" in text
    assert "add nullable field, SQLite, 2x12 config" in text
    assert "ratio" in text and len(results) == 2
