"""Writers at the same time: autonumbers stay unique and gap-free, and two edits of one record
from two threads end with one saved and one Conflict, never a silent overwrite."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.records import Conflict
from tests.factories import account, deal, service, write_schema


@pytest.fixture
def rec(tmp_path: Path, engine: sa.Engine) -> Any:
    write_schema(tmp_path / "s", "account", account())
    write_schema(tmp_path / "s", "deal", deal())
    return service(engine, tmp_path / "s")


def run_threads(n: int, work: Any) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def target(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # collected and asserted by the test
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_parallel_creates_get_distinct_numbers(rec: Any) -> None:
    numbers: list[str] = []

    def work(i: int) -> None:
        for j in range(8):
            numbers.append(rec.create("deal", {"name": f"{i}-{j}"})["number"])

    assert run_threads(3, work) == []
    assert sorted(numbers) == [f"D-{k:04d}" for k in range(1, 25)]


def test_parallel_edits_of_one_record_conflict(rec: Any) -> None:
    made = rec.create("deal", {"name": "A", "amount": 1})

    def work(i: int) -> None:
        rec.update("deal", made["id"], {"amount": 100 + i}, version=1)

    errors = run_threads(2, work)
    assert len(errors) == 1 and isinstance(errors[0], Conflict)
    assert rec.get("deal", made["id"])["version"] == 2
