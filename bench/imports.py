"""Import benchmark: 100,000 messy contacts imported through the full path (parsing, mapping,
validation, lookups, duplicate check, the records service's bulk writes, tags, progress),
against a raw bulk insert of the same rows, already clean, into the same table.

    .venv/bin/python bench/imports.py [--rows N] [--postgres URL] [--quick] [--profile]

Setup (not timed): the default CRM pack published to a fresh database (a temporary SQLite file,
or a fresh PostgreSQL schema dropped afterwards), 6 accounts, 1,000 existing contacts, and a
generated CSV file (tests/importkit.py: Chinese and English names from Faker zh_CN / en_US,
phones and dates written every which way, 2 % bad rows, 3 % duplicates; seeded). Timed: the
dry run and the run of that file (date order dmy, duplicates by email and mobile, normalised,
skipped), as `crm import` runs them; then the baseline: one transaction of `executemany`
INSERTs (1,000 rows each) of the good rows' clean values with their system columns. Nothing
here asserts a time; see bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `app`, `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engine import BACKENDS, Line, postgres_schema, render, sqlite_file

#: the goal of the import of 100,000 rows (seconds, SQLite)
GOAL = 30.0
EXISTING = 1000


@dataclass
class Result:
    backend: str
    rows: int
    dry_run: float
    run: float
    baseline: float
    setup: float
    counts: dict[str, int]
    profile: str = ""


@contextmanager
def database(postgres: str | None) -> Iterator[str]:
    if postgres:
        with postgres_schema(postgres) as url:
            yield url
    else:
        with sqlite_file() as url:
            yield url


def bench(url: str, rows: int, *, profile: bool = False, seed: int = 8) -> Result:
    """Set up, run the import (dry run, then run) and the baseline on `url`."""
    from app.imports import ImportOptions, configure, start, upload
    from tests.importkit import (
        MAPPING,
        admin,
        csv_bytes,
        import_deployment,
        live,
        make_accounts,
        messy_contacts,
        store,
    )

    began = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="crm-bench-imports-"))
    ctx = import_deployment(folder, url)
    try:
        who = admin(ctx)
        rs = live(ctx, who)
        accounts = make_accounts(rs)
        existing = [f"old{i}@example.com" for i in range(EXISTING)]
        from app.records.bulk import BulkRow

        rs.import_rows("contact", [BulkRow(i, {"last_name": f"Old {i}", "email": email})
                                   for i, email in enumerate(existing)])
        messy = messy_contacts(rows, seed=seed, existing=existing[:max(1, rows // 100)])
        data = csv_bytes(messy.rows)
        files = store(ctx)
        job = upload(rs, files, who, "contact", "contacts.csv", io.BytesIO(data))
        options = ImportOptions.from_json({**job.options, "date_order": "dmy",
                                           "dedupe": ["email", "mobile"]})
        configure(rs, files, who, job.id, MAPPING, options)
        setup = time.perf_counter() - began

        t = time.perf_counter()
        start(rs, files, who, job.id, dry_run=True)
        dry_run = time.perf_counter() - t
        profiler = cProfile.Profile() if profile else None
        t = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        done = start(rs, files, who, job.id, dry_run=False)
        if profiler is not None:
            profiler.disable()
        run = time.perf_counter() - t
        counts = {k: int(getattr(done, k)) for k in ("processed", "created", "updated",
                                                      "skipped", "failed", "duplicates")}
        baseline = raw_insert(ctx.engine, rs, [messy.clean[r] for r in messy.good], accounts)
        text = ""
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            text = out.getvalue()
        return Result(BACKENDS.get(ctx.engine.dialect.name, ctx.engine.dialect.name), rows,
                      dry_run, run, baseline, setup, counts, text)
    finally:
        ctx.dispose()


def raw_insert(engine: Any, rs: Any, clean: list[dict[str, Any]], accounts: dict[str, int]
               ) -> float:
    """The baseline: the same rows, already clean, by executemany (1,000 a statement) in one
    transaction, with the system columns an insert needs."""
    table = rs.table("contact")
    now = datetime.now(UTC)
    rows = [{"last_name": c["last_name"], "first_name": c["first_name"], "email": c["email"],
             "mobile": c["mobile"], "birthday": c["birthday"], "lead_source": c["lead_source"],
             "account_id": accounts[c["account"]], "mailing_country": "CN", "version": 1,
             "created_at": now, "updated_at": now, "owner_id": None} for c in clean]
    t = time.perf_counter()
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(table.insert(), rows[start:start + 1000])
    return time.perf_counter() - t


def lines(result: Result) -> list[Line]:
    c = result.counts
    detail = (f"{c['processed']:,} rows: {c['created']:,} created, {c['skipped']:,} skipped "
              f"({c['duplicates']:,} duplicates), {c['failed']:,} failed; setup "
              f"{result.setup:.1f} s not counted")
    goal = GOAL * result.rows / 100_000
    return [
        Line(f"import {result.rows:,} messy contacts, {result.backend}", result.run,
             result.baseline, goal, detail + "; baseline: raw executemany of the good rows"),
        Line(f"dry run of the same file, {result.backend}", result.dry_run, result.baseline,
             goal, "every row checked and written, then rolled back"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 rows")
    parser.add_argument("--postgres", default=None, help="also run on this PostgreSQL URL")
    parser.add_argument("--only-postgres", action="store_true", help="skip SQLite")
    parser.add_argument("--profile", action="store_true", help="cProfile's top 25 of the run")
    args = parser.parse_args(argv)
    rows = 10_000 if args.quick else args.rows
    targets = ([] if args.only_postgres else [None]) + ([args.postgres] if args.postgres else [])
    found: list[Line] = []
    for postgres in targets:
        print(f"setting up {'PostgreSQL' if postgres else 'SQLite'} with {rows:,} rows ...",
              file=sys.stderr)
        with database(postgres) as url:
            result = bench(url, rows, profile=args.profile)
        found += lines(result)
        if result.profile:
            print(result.profile, file=sys.stderr)
    print(render(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
