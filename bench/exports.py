"""Export benchmark: 1,000,000 opportunities exported as CSV and XLSX through the real
`/opportunity/export.csv|xlsx` (the `Runtime` that `crm serve` runs, werkzeug's test client,
signed in as admin, the stream consumed chunk by chunk and thrown away), against a hand-written
baseline: one SQLAlchemy Core select of the same columns (account and owner names joined),
`stream_results` + `yield_per`, into `csv.writer` over a null sink, or into openpyxl's
write-only workbook in a temporary file that is then read back in 64 KiB chunks.

    .venv/bin/python bench/exports.py [--rows N] [--quick] [--postgres URL]

Setup (not timed): the default CRM pack published to a fresh database (a temporary SQLite file,
or a fresh PostgreSQL schema dropped afterwards) with admin and 19 sales reps, N/100 accounts
and N opportunities inserted by plain `executemany` (20,000 rows a statement). Each
measurement runs in a fresh Python process: build the app (or the baseline's tables), one
warm-up export of about 1 % of the rows (every module imported, every cache filled), then the
timed export of every row. Memory is measured twice: the process's peak resident set growth
(VmHWM after the export minus VmRSS before it; the peak is reset through /proc/self/clear_refs
first) in the timed run, and tracemalloc's peak (Python allocations only) in a second process,
because tracing slows Python down. Nothing here asserts a time; see bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

if __package__ in (None, ""):  # run as a script: make `app` and `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engine import BACKENDS, postgres_schema, sqlite_file

ROOT = Path(__file__).resolve().parents[1]
INSERT_BATCH = 20_000
YIELD_PER = 2_000
CHUNK = 64 * 1024
#: the warm-up exports the deals closing before this day: about 1 % of them
WARM_UP_BEFORE = "2024-01-15"
KINDS = ("ours-csv", "base-csv", "ours-xlsx", "base-xlsx")
LABELS = {"ours-csv": "CSV  ours (GET /opportunity/export.csv)",
          "base-csv": "CSV  baseline (Core + csv.writer)",
          "ours-xlsx": "XLSX ours (GET /opportunity/export.xlsx)",
          "base-xlsx": "XLSX baseline (Core + openpyxl)"}
WORDS = ("Nova", "Orion", "Apex", "Lumen", "Vertex", "Cobalt", "Summit", "Harbor", "华东",
         "华北", "深圳", "杭州")
DEALS = ("CRM rollout", "Annual renewal", "Data platform", "Support plan", "试点项目",
         "年度续约", "云迁移", "=SUM(A1)")


# -- setup (not timed) ------------------------------------------------------------------------
@dataclass
class Setup:
    folder: Path
    url: str
    rows: int
    seconds: float


def _insert(engine: sa.Engine, table: sa.Table, rows: Iterator[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == INSERT_BATCH:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)


def load(folder: Path, url: str, rows: int, seed: int = 5) -> Setup:
    """The default pack in `folder`, published to `url` (admin + 19 reps: bench/views_data),
    with rows/100 accounts and `rows` opportunities owned by random users."""
    from app.meta.loader import load_meta
    from app.model.build import build_models
    from bench.views_data import REPS, deploy

    began = time.perf_counter()
    ctx = deploy(folder, url)
    try:
        meta = load_meta(ctx.settings.schema_dirs, ctx.settings.roles)
        tables = build_models(meta, orm_classes=False).tables
        opp = meta.entity("opportunity").fields
        stages = [(c.value, c.extra.get("probability", 0)) for c in opp["stage"].choices]
        n_acc = max(1, rows // 100)
        now = datetime(2025, 6, 1, tzinfo=UTC)

        def system(i: int, rng: random.Random) -> dict[str, Any]:
            owner = rng.randint(1, REPS + 1)
            return {"id": i, "version": 1, "created_at": now, "updated_at": now,
                    "created_by_id": owner, "updated_by_id": owner, "owner_id": owner}

        def accounts() -> Iterator[dict[str, Any]]:
            rng = random.Random(seed)
            for i in range(1, n_acc + 1):
                yield {**system(i, rng), "name": f"{WORDS[i % len(WORDS)]} Holdings {i}"}

        def opportunities() -> Iterator[dict[str, Any]]:
            rng = random.Random(seed + 1)
            for i in range(1, rows + 1):
                stage, prob = rng.choice(stages)
                yield {**system(i, rng), "name": f"{DEALS[i % len(DEALS)]} {i}",
                       "account_id": rng.randint(1, n_acc), "stage": stage,
                       "amount": Decimal(rng.randrange(100_000, 50_000_000)) / 100,
                       "probability": Decimal(prob),
                       "close_date": date(2024, 1, 1) + timedelta(days=rng.randrange(1460)),
                       "loss_reason": "price" if stage == "lost" else None}

        _insert(ctx.engine, tables["account"], accounts())
        _insert(ctx.engine, tables["opportunity"], opportunities())
        with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if conn.dialect.name == "postgresql":
                for name in ("ent_account", "ent_opportunity"):
                    conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{name}', 'id')"
                                         f", (SELECT coalesce(max(id), 1) FROM {name}))")
                conn.exec_driver_sql("VACUUM ANALYZE")
            else:
                conn.exec_driver_sql("ANALYZE")
    finally:
        ctx.dispose()
    return Setup(folder, url, rows, time.perf_counter() - began)


# -- the exports, as run in a child process ---------------------------------------------------
Export = Callable[[bool], int]  # (warm_up) -> bytes produced


def ours(folder: Path, url: str, fmt: str) -> tuple[Export, Callable[[], None]]:
    """The real export route of the app `crm serve` runs, signed in as admin; the response is
    read chunk by chunk and each chunk dropped."""
    from werkzeug.test import Client

    from app.context import Context
    from app.runtime import Runtime
    from app.settings import load_settings
    from bench.views import client_fetch, sign_in

    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": url, "CRM_SECRET_KEY": "bench-secret"}))
    fetch = client_fetch(Runtime(ctx))
    sign_in(fetch)
    client: Client = fetch.client  # type: ignore[attr-defined]

    def run(warm_up: bool) -> int:
        query = f"?f.close_date.lt={WARM_UP_BEFORE}" if warm_up else ""
        resp = client.get(f"/opportunity/export.{fmt}{query}", buffered=False)
        if resp.status_code != 200:
            raise RuntimeError(f"export answered {resp.status_code}: {resp.get_data()[:300]!r}")
        size = 0
        try:
            for chunk in resp.iter_encoded():
                size += len(chunk)
        finally:
            resp.close()
        return size

    return run, ctx.dispose


class NullSink:
    """A text file that only counts the UTF-8 bytes written to it."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text.encode("utf-8"))
        return len(text)


def baseline(url: str, fmt: str) -> tuple[Export, Callable[[], None]]:
    """The same rows and columns by hand: one Core select, streamed."""
    engine = sa.create_engine(url)
    md = sa.MetaData()
    opp = sa.Table("ent_opportunity", md, autoload_with=engine)
    acc = sa.Table("ent_account", md, autoload_with=engine)
    users = sa.Table("sys_user", md, autoload_with=engine)
    header = ["Opportunity name", "Account", "Stage", "Amount", "Probability (%)", "Close date",
              "Owner"]

    def select(warm_up: bool) -> sa.Select[Any]:
        s = (sa.select(opp.c.name, acc.c.name.label("account"), opp.c.stage, opp.c.amount,
                       opp.c.probability, opp.c.close_date, users.c.full_name)
             .select_from(opp.outerjoin(acc, acc.c.id == opp.c.account_id)
                          .outerjoin(users, users.c.id == opp.c.owner_id))
             .where(opp.c.deleted_at.is_(None))
             .order_by(opp.c.close_date.desc(), opp.c.id.desc()))
        return s.where(opp.c.close_date < date.fromisoformat(WARM_UP_BEFORE)) if warm_up else s

    def rows(warm_up: bool) -> Iterator[Sequence[Any]]:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=YIELD_PER).execute(
                select(warm_up))
            for part in result.partitions():
                yield from part

    def run_csv(warm_up: bool) -> int:
        sink = NullSink()
        writer = csv.writer(sink)
        writer.writerow(header)
        writer.writerows(rows(warm_up))
        return sink.size

    def run_xlsx(warm_up: bool) -> int:
        from openpyxl import Workbook

        fd, name = tempfile.mkstemp(suffix=".xlsx")
        os.close(fd)
        try:
            book = Workbook(write_only=True)
            sheet = book.create_sheet("Opportunities")
            sheet.append(header)
            for row in rows(warm_up):
                sheet.append(list(row))
            book.save(name)
            size = 0
            with open(name, "rb") as f:
                while block := f.read(CHUNK):
                    size += len(block)
            return size
        finally:
            os.unlink(name)

    return (run_csv if fmt == "csv" else run_xlsx), engine.dispose


def _status(key: str) -> int:
    """A VmRSS / VmHWM line of /proc/self/status, in bytes (0 where there is none)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux: 5 > /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def prepare(job: dict[str, Any]) -> tuple[Export, Callable[[], None]]:
    """The export of job["kind"] (ours or the baseline, CSV or XLSX), warmed up once."""
    side, fmt = job["kind"].split("-")
    run, dispose = (ours(Path(job["folder"]), job["url"], fmt) if side == "ours"
                    else baseline(job["url"], fmt))
    run(True)
    return run, dispose


def timed(kind: str, run: Export, trace: bool) -> dict[str, Any]:
    """One full export: seconds, bytes, RSS growth, and tracemalloc's peak when `trace`."""
    if trace:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    reset = _reset_peak()
    rss = _status("VmRSS")
    t = time.perf_counter()
    size = run(False)
    seconds = time.perf_counter() - t
    out = {"kind": kind, "seconds": seconds, "bytes": size,
           "rss_growth": max(0, _status("VmHWM") - rss) if reset else None}
    if trace:
        out["py_peak"] = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
    return out


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """One measurement, in a fresh process (see `_run_child`): build, warm up, then time one
    full export, with tracemalloc (job["trace"]) or without."""
    run, dispose = prepare(job)
    try:
        return timed(job["kind"], run, bool(job["trace"]))
    finally:
        dispose()


def _run_child(job: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(job)],
        cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# -- the whole run ----------------------------------------------------------------------------
@dataclass
class Measure:
    kind: str
    seconds: float
    bytes: int
    rss_growth: int | None
    py_peak: int


@dataclass
class Result:
    backend: str
    rows: int
    setup: float
    measures: dict[str, Measure]


def measure_all(setup: Setup, *, fresh: bool = True,
                report: Callable[[str], None] = lambda msg: None) -> Result:
    """Every export of KINDS on a loaded database: timed (with the RSS growth) and traced,
    each in a fresh process; in this one, each export built once, when not `fresh` (for the
    smoke test: the figures then mean little)."""
    found: dict[str, Measure] = {}
    for kind in KINDS:
        job = {"kind": kind, "folder": str(setup.folder), "url": setup.url, "trace": False}
        report(f"  {kind}: timing ...")
        if fresh:
            plain = _run_child(job)
            report(f"  {kind}: {plain['seconds']:.2f} s; tracing ...")
            traced = _run_child({**job, "trace": True})
        else:
            run, dispose = prepare(job)
            try:
                plain, traced = timed(kind, run, False), timed(kind, run, True)
            finally:
                dispose()
        found[kind] = Measure(kind, float(plain["seconds"]), int(plain["bytes"]),
                              plain["rss_growth"], int(traced["py_peak"]))
    backend = sa.make_url(setup.url).get_backend_name()
    return Result(BACKENDS.get(backend, backend), setup.rows, setup.seconds, found)


def bench(url: str, rows: int, *, report: Callable[[str], None] = lambda msg: None
          ) -> Result:
    """Load `rows` opportunities at `url`, then measure every export."""
    with tempfile.TemporaryDirectory(prefix="crm-bench-exports-") as tmp:
        report(f"  loading {rows:,} opportunities ...")
        setup = load(Path(tmp), url, rows)
        report(f"  loaded in {setup.seconds:.1f} s")
        return measure_all(setup, report=report)


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f} MB"


def _ratio(ours: float | None, base: float | None) -> str:
    return f"{ours / base:.1f}x" if ours is not None and base else "-"


def render(result: Result) -> str:
    title = f"export, {result.backend}"
    head = (f"{title:<42} {'rows':>10} {'seconds':>9} {'py peak':>10} {'RSS growth':>11} "
            f"{'output':>10}")
    out = [head, "-" * len(head)]
    for fmt in ("csv", "xlsx"):
        o, b = result.measures[f"ours-{fmt}"], result.measures[f"base-{fmt}"]
        for m in (o, b):
            out.append(f"{LABELS[m.kind]:<42} {result.rows:>10,} {m.seconds:>8.2f}s "
                       f"{_mb(m.py_peak):>10} {_mb(m.rss_growth):>11} {_mb(m.bytes):>10}")
        out.append(f"{'     ratio ours / baseline':<42} {'':>10} "
                   f"{_ratio(o.seconds, b.seconds):>9} {_ratio(o.py_peak, b.py_peak):>10} "
                   f"{_ratio(o.rss_growth, b.rss_growth):>11}")
    out.append(f"    py peak: tracemalloc's peak during the export (a second, traced run); RSS "
               f"growth: VmHWM after minus VmRSS before; fresh process each; setup "
               f"{result.setup:.1f} s not counted")
    return "\n".join(out)


@contextmanager
def database(postgres: str | None) -> Iterator[str]:
    if postgres:
        with postgres_schema(postgres) as url:
            yield url
    else:
        with sqlite_file() as url:
            yield url


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        print(json.dumps(measure(json.loads(argv[1]))))
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--postgres", default=None, help="also run on this PostgreSQL URL")
    parser.add_argument("--only-postgres", action="store_true", help="skip SQLite")
    args = parser.parse_args(argv)
    rows = 100_000 if args.quick else args.rows
    targets = ([] if args.only_postgres else [None]) + ([args.postgres] if args.postgres else [])
    tables = []
    for postgres in targets:
        print(f"{'PostgreSQL' if postgres else 'SQLite'}, {rows:,} rows:", file=sys.stderr)
        with database(postgres) as url:
            tables.append(render(bench(url, rows, report=lambda m: print(m, file=sys.stderr))))
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
