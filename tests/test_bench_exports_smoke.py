"""bench/exports.py runs end to end at a tiny size (SQLite). No timing is asserted: the
benchmark prints its figures for people to read (see bench/README.md)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import exports as bench
from bench.engine import sqlite_file


def test_every_export_is_measured_and_rendered() -> None:
    with sqlite_file() as url, tempfile.TemporaryDirectory() as tmp:
        setup = bench.load(Path(tmp), url, 300)
        result = bench.measure_all(setup, fresh=False)
        child = bench._run_child({"kind": "ours-xlsx", "folder": tmp, "url": url,
                                  "trace": False})  # what a real run does per measurement
    assert set(result.measures) == set(bench.KINDS) and result.rows == 300
    for m in result.measures.values():
        assert m.seconds > 0 and m.py_peak > 0 and m.bytes > 1000
    csv_ours, csv_base = result.measures["ours-csv"], result.measures["base-csv"]
    assert abs(csv_ours.bytes - csv_base.bytes) < csv_base.bytes  # the same rows, both ways
    text = bench.render(result)
    assert "CSV  ours (GET /opportunity/export.csv)" in text and "XLSX baseline" in text
    assert text.count("ratio ours / baseline") == 2
    assert child["kind"] == "ours-xlsx" and child["seconds"] > 0
    assert abs(child["bytes"] - result.measures["ours-xlsx"].bytes) < 200  # zip timestamps
