"""bench/imports.py runs end to end at a tiny size (SQLite). No timing is asserted: the
benchmark prints its figures for people to read (see bench/README.md)."""

from __future__ import annotations

from bench import imports as bench
from bench.engine import sqlite_file


def test_the_import_benchmark_runs() -> None:
    with sqlite_file() as url:
        result = bench.bench(url, 300)
    counts = result.counts
    assert counts["processed"] == 300
    assert counts["created"] + counts["skipped"] + counts["failed"] == 300
    assert counts["failed"] and counts["duplicates"] and counts["created"] > 250
    assert result.run > 0 and result.dry_run > 0 and result.baseline > 0
    text = bench.render(bench.lines(result))
    assert "import 300 messy contacts, SQLite" in text and "dry run of the same file" in text
