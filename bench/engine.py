"""Engine benchmarks: cold start of a config, and plan + apply of one new field on a big table.

    .venv/bin/python bench/engine.py [--rows N] [--postgres URL] [--quick] [--profile]

Each line compares our code with a hand-written baseline doing the same work directly in
SQLAlchemy (ratio = ours / baseline) and prints the goal next to it. Nothing here asserts a
time: `tests/test_bench_smoke.py` only proves the functions run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parents[1]
ROLES = ("admin", "sales_director", "sales_manager", "sales_rep", "service_manager",
         "service_agent", "marketing")  # config.yaml's roles (the access file names them)

#: goals printed next to the results (seconds)
GOAL_GENERATED_BUILD = 1.5
GOAL_ADD_COLUMN = 1.0

#: field types of the generated config, in the order they repeat within an entity; a formula
#: adds the integer and the decimal just before it
FIELD_CYCLE = ("string", "integer", "decimal", "formula", "text", "currency", "date",
               "datetime", "boolean", "picklist", "email", "lookup")
PICKLIST_CHOICES = ["alpha", "beta", "gamma", "delta", "epsilon"]

#: the one entity of the big-table benchmark (see ITEM)
ENTITY = "bench_item"
INSERT_BATCH = 50_000


# -- generated config ------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EntitySpec:
    name: str
    fields: tuple[FieldSpec, ...]


def generated_spec(entities: int = 200, fields: int = 30, seed: int = 42) -> list[EntitySpec]:
    """The generated config as plain data: both the YAML writer and the Core baseline read it,
    so they describe exactly the same tables. Lookups point to a random earlier entity (the
    first entity has none: its lookups become strings)."""
    rng = random.Random(seed)
    out: list[EntitySpec] = []
    for i in range(entities):
        specs: list[FieldSpec] = []
        for j in range(fields):
            ftype = FIELD_CYCLE[j % len(FIELD_CYCLE)]
            name = f"{ftype}_{j:02d}"
            if ftype == "lookup" and i == 0:
                specs.append(FieldSpec(f"string_{j:02d}", "string"))
            elif ftype == "lookup":
                specs.append(FieldSpec(name, "lookup", {"to": f"e{rng.randrange(i):03d}"}))
            elif ftype == "formula":
                a, b = specs[-2].name, specs[-1].name  # the integer and decimal just before
                specs.append(FieldSpec(name, "formula", {"expr": f"{a} + {b}",
                                                         "result": "decimal"}))
            elif ftype == "picklist":
                specs.append(FieldSpec(name, "picklist", {"choices": list(PICKLIST_CHOICES)}))
            else:
                specs.append(FieldSpec(name, ftype))
        out.append(EntitySpec(f"e{i:03d}", tuple(specs)))
    return out


def write_generated_pack(folder: Path, spec: Sequence[EntitySpec]) -> Path:
    """One YAML file per entity, as an implementer would write them."""
    folder.mkdir(parents=True, exist_ok=True)
    for ent in spec:
        body = {
            "entity": ent.name,
            "label": {"en": f"Entity {ent.name}", "zh": f"实体 {ent.name}"},
            "title": ent.fields[0].name,
            "fields": {f.name: {"type": f.type, **f.options} for f in ent.fields},
        }
        (folder / f"{ent.name}.yaml").write_text(
            yaml.safe_dump(body, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return folder


# -- hand-written baseline: the same tables in SQLAlchemy Core -------------------------------
CORE_TYPES: dict[str, Callable[[], sa.types.TypeEngine[Any]]] = {
    "string": lambda: sa.String(255),
    "text": sa.Text,
    "integer": sa.BigInteger,
    "decimal": lambda: sa.Numeric(18, 4),
    "currency": lambda: sa.Numeric(18, 2),
    "date": sa.Date,
    "datetime": lambda: sa.DateTime(timezone=True),
    "boolean": sa.Boolean,
    "picklist": lambda: sa.String(80),
    "email": lambda: sa.String(254),
}


def core_tables(spec: Sequence[EntitySpec]) -> sa.MetaData:
    """What a programmer would write by hand for the generated config: system columns, one
    column per stored field, foreign keys and the same indexes. No YAML, no checks."""
    md = sa.MetaData()
    sa.Table("sys_user", md, sa.Column("id", sa.Integer, primary_key=True))
    for ent in spec:
        table = f"ent_{ent.name}"
        cols: list[Any] = [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("version", sa.Integer, nullable=False, server_default="1"),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                      server_default=sa.func.current_timestamp()),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                      server_default=sa.func.current_timestamp()),
            *(sa.Column(c, sa.Integer, sa.ForeignKey("sys_user.id", ondelete="SET NULL"))
              for c in ("created_by_id", "updated_by_id", "owner_id")),
            sa.Column("deleted_at", sa.DateTime(timezone=True)),
            sa.Index(f"ix_{table}_owner_id", "owner_id"),
            sa.Index(f"ix_{table}_deleted_at", "deleted_at"),
        ]
        for f in ent.fields:
            if f.type == "formula":
                continue
            if f.type == "lookup":
                col = f"{f.name}_id"
                cols.append(sa.Column(col, sa.Integer, sa.ForeignKey(
                    f"ent_{f.options['to']}.id", ondelete="SET NULL")))
                cols.append(sa.Index(f"ix_{table}_{col}", col))
            else:
                cols.append(sa.Column(f.name, CORE_TYPES[f.type]()))
        sa.Table(table, md, *cols)
    return md


# -- cold start, measured in fresh processes --------------------------------------------------
@dataclass
class ColdStart:
    label: str
    imports: float
    load: float
    build: float
    entities: int
    runs: int

    @property
    def total(self) -> float:
        return self.load + self.build


def _child(job: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh interpreter (see `_run_child`): import, then time one load + build."""
    t0 = time.perf_counter()
    if job["kind"] == "core":
        spec = generated_spec(job["entities"], job["fields"])
        t1 = time.perf_counter()
        md = core_tables(spec)
        t2 = time.perf_counter()
        return {"imports": t1 - t0, "load": 0.0, "build": t2 - t1, "entities": len(md.tables)}
    import app.meta.build  # noqa: F401  (load_meta imports it lazily: count it as an import)
    from app.meta.loader import load_meta
    from app.model.build import build_models

    t1 = time.perf_counter()
    meta = load_meta([Path(d) for d in job["dirs"]], tuple(job["roles"]))
    t2 = time.perf_counter()
    models = build_models(meta)
    t3 = time.perf_counter()
    return {"imports": t1 - t0, "load": t2 - t1, "build": t3 - t2,
            "entities": len(models.tables)}


def _run_child(job: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(job)],
        cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def cold_start(label: str, job: dict[str, Any], runs: int = 5) -> ColdStart:
    """The median of `runs` fresh processes (each gets new SQLAlchemy registries)."""
    results = [_run_child(job) for _ in range(runs)]

    def median(key: str) -> float:
        return statistics.median(float(r[key]) for r in results)

    return ColdStart(label, median("imports"), median("load"), median("build"),
                     int(results[0]["entities"]), runs)


def cold_start_default_pack(runs: int = 5, config: Path = ROOT / "config.yaml") -> ColdStart:
    from app.settings import load_settings

    settings = load_settings(config, environ={})
    job = {"kind": "meta", "dirs": [str(d) for d in settings.schema_dirs],
           "roles": list(settings.roles)}
    return cold_start("default pack", job, runs)


def cold_start_generated(folder: Path, entities: int = 200, fields: int = 30, runs: int = 5
                         ) -> tuple[ColdStart, ColdStart]:
    """(ours, hand-written Core baseline) for a generated config of entities x fields."""
    write_generated_pack(folder, generated_spec(entities, fields))
    ours = cold_start(f"generated {entities}x{fields}",
                      {"kind": "meta", "dirs": [str(folder)], "roles": list(ROLES)}, runs)
    base = cold_start(f"core {entities}x{fields}",
                      {"kind": "core", "entities": entities, "fields": fields}, runs)
    return ours, base


# -- plan + apply of one new field ----------------------------------------------------------
#: the one entity of the big-table benchmark
ITEM = EntitySpec(ENTITY, (
    FieldSpec("name", "string", {"required": True, "max_length": 120}),
    FieldSpec("amount", "currency", {"min": 0}),
    FieldSpec("status", "picklist", {"choices": list(PICKLIST_CHOICES)}),
    FieldSpec("due", "date"),
    FieldSpec("note", "text"),
))


def with_extra_fields(ent: EntitySpec, extra: int) -> EntitySpec:
    """`ent` plus `extra` nullable string fields extra_1, extra_2, ..."""
    more = tuple(FieldSpec(f"extra_{k}", "string") for k in range(1, extra + 1))
    return EntitySpec(ent.name, ent.fields + more)


def _twin_table(table: sa.Table) -> sa.Table:
    """A hand-written twin of `table` in its own MetaData: same columns, foreign keys and
    indexes, named `bl_<entity>` (not `ent_...`, so the planner never sees it)."""
    md = sa.MetaData()
    for fk in table.foreign_keys:  # stubs, so the foreign keys resolve when the twin is created
        ref = fk.target_fullname.split(".")[0]
        if ref not in md.tables:
            sa.Table(ref, md, sa.Column("id", sa.Integer, primary_key=True))
    name = "bl_" + table.name.removeprefix("ent_")
    cols = [c._copy() for c in table.columns]
    indexes = [sa.Index(f"bl_{i.name}"[:63], *(c.name for c in i.columns), unique=i.unique)
               for i in table.indexes]
    return sa.Table(name, md, *cols, *indexes)


def _row_values(start: int, stop: int) -> Iterator[tuple[str, int, str]]:
    for i in range(start, stop):
        yield f"Item {i}", i % 100_000, PICKLIST_CHOICES[i % len(PICKLIST_CHOICES)]


def load_rows(engine: sa.Engine, table: sa.Table, rows: int) -> None:
    """Bulk insert into the ITEM table: COPY on PostgreSQL, executemany in batches elsewhere."""
    cols = ("name", "amount", "status")
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            raw: Any = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(
                    f'COPY "{table.name}" ({", ".join(cols)}) FROM STDIN') as copy:
                for row in _row_values(0, rows):
                    copy.write_row(row)
            return
        for start in range(0, rows, INSERT_BATCH):
            batch = [dict(zip(cols, r, strict=True))
                     for r in _row_values(start, min(rows, start + INSERT_BATCH))]
            conn.execute(table.insert(), batch)


@dataclass
class AddColumn:
    backend: str
    #: what the database held: "1,000,000 rows", "200x30 config"
    size: str
    rows: int
    plan: float
    publish: float
    baseline: float
    setup: float
    runs: int
    steps: list[str]
    profile: str = ""

    @property
    def total(self) -> float:
        return self.plan + self.publish


def bench_add_field(url: str, spec: Sequence[EntitySpec], target: str, size: str, *,
                    rows: int = 0, repeat: int = 3, profile: bool = False) -> AddColumn:
    """Publish the config `spec`, optionally fill the ITEM table `target` with `rows` rows, make
    a hand-written twin of `target` holding the same rows, then `repeat` times add one nullable
    string field to `target`: median of plan_change + publish versus median of a bare
    ALTER TABLE ... ADD COLUMN on the twin. Loading the changed YAML is not timed."""
    from app.db import make_engine
    from app.fields import registry
    from app.meta.loader import load_meta
    from app.migrate.publish import plan_change, publish
    from app.model.build import entity_table

    engine = make_engine(url)
    backend = engine.dialect.name
    plans: list[float] = []
    publishes: list[float] = []
    baselines: list[float] = []
    steps: list[str] = []
    prof_text = ""
    by_name = {e.name: e for e in spec}
    try:
        with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
            folder = Path(tmp) / "schemas"
            t0 = time.perf_counter()
            write_generated_pack(folder, spec)
            meta = load_meta([folder], ROLES)
            publish(engine, meta)
            table = entity_table(meta.entity(target), meta, sa.MetaData(), registry)
            twin = _twin_table(table)
            with engine.begin() as conn:
                twin.create(conn)
            if rows:
                load_rows(engine, table, rows)
                with engine.begin() as conn:
                    cols = ", ".join(f'"{c.name}"' for c in table.columns)
                    conn.exec_driver_sql(f'INSERT INTO "{twin.name}" ({cols}) '
                                         f'SELECT {cols} FROM "{table.name}"')
                if backend == "postgresql":  # else autovacuum may wake up during a timing
                    with engine.connect().execution_options(
                            isolation_level="AUTOCOMMIT") as conn:
                        for name in (table.name, twin.name):
                            conn.exec_driver_sql(f'VACUUM ANALYZE "{name}"')
            setup = time.perf_counter() - t0

            for k in range(1, repeat + 1):
                write_generated_pack(folder, [with_extra_fields(by_name[target], k)])
                new_meta = load_meta([folder], ROLES)
                prof = cProfile.Profile() if profile and k == 1 else None
                if prof:
                    prof.enable()
                t1 = time.perf_counter()
                plan = plan_change(engine, new_meta)
                t2 = time.perf_counter()
                published = publish(engine, new_meta)
                t3 = time.perf_counter()
                if prof:
                    prof.disable()
                    out = io.StringIO()
                    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
                    prof_text = out.getvalue()
                plans.append(t2 - t1)
                publishes.append(t3 - t2)
                if k == 1:
                    steps = [s.summary for s in plan.steps]
                if [s.op for s in published.plan.steps] != ["add_column"]:
                    raise RuntimeError(f"unexpected plan:\n{published.plan.render()}")

                t4 = time.perf_counter()
                with engine.begin() as conn:
                    conn.exec_driver_sql(
                        f'ALTER TABLE "{twin.name}" ADD COLUMN "extra_{k}" VARCHAR(255)')
                baselines.append(time.perf_counter() - t4)
    finally:
        engine.dispose()
    return AddColumn(backend, size, rows, statistics.median(plans), statistics.median(publishes),
                     statistics.median(baselines), setup, repeat, steps, prof_text)


def bench_big_table(url: str, rows: int, *, repeat: int = 3, profile: bool = False
                    ) -> AddColumn:
    """One new nullable field on a one-entity config whose table holds `rows` rows."""
    return bench_add_field(url, [ITEM], ENTITY, f"{rows:,} rows", rows=rows, repeat=repeat,
                           profile=profile)


def bench_wide_config(url: str, entities: int = 200, fields: int = 30, *, repeat: int = 2,
                      profile: bool = False) -> AddColumn:
    """One new nullable field on one entity of the generated entities x fields config (empty
    tables): what the planner and publish cost grows with the size of the config."""
    spec = generated_spec(entities, fields)
    return bench_add_field(url, spec, spec[len(spec) // 2].name,
                           f"{entities}x{fields} config", repeat=repeat,
                           profile=profile)


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema (the URL's search_path points to it), dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in base_url else "?"
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def sqlite_file() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


# -- the table --------------------------------------------------------------------------------
@dataclass
class Line:
    label: str
    ours: float
    baseline: float | None = None
    goal: float | None = None
    detail: str = ""


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f} ms" if value < 0.1 else f"{value:.2f} s"


def render(lines: Sequence[Line]) -> str:
    head = f"{'benchmark':<47} {'ours':>10} {'baseline':>10} {'ratio':>9}  goal"
    out = [head, "-" * len(head + " " * 14)]
    for ln in lines:
        ratio = f"{ln.ours / ln.baseline:.1f}x" if ln.baseline else "-"
        goal = ""
        if ln.goal is not None:
            goal = f"< {_secs(ln.goal)}  {'ok' if ln.ours < ln.goal else 'MISSED'}"
        out.append(f"{ln.label:<47} {_secs(ln.ours):>10} {_secs(ln.baseline):>10} "
                   f"{ratio:>9}  {goal}".rstrip())
        if ln.detail:
            out.append(f"    {ln.detail}")
    return "\n".join(out)


def cold_lines(default: ColdStart, ours: ColdStart, base: ColdStart) -> list[Line]:
    def detail(c: ColdStart) -> str:
        return (f"load_meta {_secs(c.load)} + build_models {_secs(c.build)}; imports "
                f"{_secs(c.imports)} not counted; median of {c.runs} fresh processes")

    return [
        Line(f"cold start, {default.label} ({default.entities} entities)", default.total,
             detail=detail(default)),
        Line(f"cold start, {ours.label}", ours.total, base.build, GOAL_GENERATED_BUILD,
             detail(ours) + "; baseline: the same tables as hand-written sa.Table"),
    ]


BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def add_column_line(r: AddColumn) -> Line:
    return Line(f"add nullable field, {BACKENDS.get(r.backend, r.backend)}, {r.size}", r.total,
                r.baseline, GOAL_ADD_COLUMN,
                ("empty tables; " if not r.rows else "")
                + f"plan_change {_secs(r.plan)} + publish {_secs(r.publish)}; median of {r.runs};"
                f" baseline: ALTER TABLE ADD COLUMN on a twin table; setup {_secs(r.setup)} "
                "not counted")


def run_all(*, rows: int, postgres: str = "", runs: int = 5, repeat: int = 3,
            entities: int = 200, fields: int = 30, profile: bool = False,
            report: Callable[[str], None] = lambda msg: None) -> tuple[list[Line], list[AddColumn]]:
    """Every benchmark; returns the table's lines and the plan + apply results."""
    report(f"cold start: default pack, {runs} processes ...")
    default = cold_start_default_pack(runs)
    report(f"cold start: generated {entities}x{fields} and its Core baseline, {runs} processes "
           "each ...")
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        ours, base = cold_start_generated(Path(tmp) / "schemas", entities, fields, runs)
    lines = cold_lines(default, ours, base)

    databases: list[tuple[str, Callable[[], Any]]] = [("SQLite", sqlite_file)]
    if postgres:
        databases.append(("PostgreSQL", lambda: postgres_schema(postgres)))
    results: list[AddColumn] = []
    for name, database in databases:
        report(f"add a field: {name}, {rows:,} rows ...")
        with database() as url:
            results.append(bench_big_table(url, rows, repeat=repeat, profile=profile))
        report(f"add a field: {name}, {entities}x{fields} config ...")
        with database() as url:
            results.append(bench_wide_config(url, entities, fields, repeat=max(1, repeat - 1),
                                             profile=profile))
    lines += [add_column_line(r) for r in results]
    return lines, results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, help="rows in the big table (default 1,000,000)")
    parser.add_argument("--postgres", default=os.environ.get("CRM_BENCH_POSTGRES_URL", ""),
                        help="also run on this PostgreSQL (default: env CRM_BENCH_POSTGRES_URL)")
    parser.add_argument("--quick", action="store_true",
                        help="100,000 rows, 3 processes per cold start, fewer repeats")
    parser.add_argument("--profile", action="store_true",
                        help="print cProfile's top functions of each first plan + apply")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0

    rows = args.rows or (100_000 if args.quick else 1_000_000)
    lines, results = run_all(
        rows=rows, postgres=args.postgres, runs=3 if args.quick else 5,
        repeat=2 if args.quick else 3, profile=args.profile,
        report=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(render(lines))
    for r in results:
        where = f"{BACKENDS.get(r.backend, r.backend)}, {r.size}"
        print(f"\nplan ({where}): " + "; ".join(r.steps))
        if r.profile:
            print(f"cProfile of the first plan_change + publish ({where}):\n{r.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
