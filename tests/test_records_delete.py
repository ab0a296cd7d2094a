"""Soft delete, the recycle bin and restore; master-detail children go and come back with
their parent; roll-ups ignore deleted children."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.records import Conflict, NotFound, RecordError
from tests.factories import deal, rollup_account, service, write_schema


@pytest.fixture
def rec(tmp_path: Path, engine: sa.Engine) -> Any:
    write_schema(tmp_path / "s", "account", rollup_account())
    write_schema(tmp_path / "s", "deal", deal())
    write_schema(tmp_path / "s", "line", {"entity": "line", "fields": {
        "deal": {"type": "master_detail", "to": "deal"},
        "qty": {"type": "integer"}}})
    return service(engine, tmp_path / "s")


def test_delete_moves_to_the_bin_and_restore_brings_back(rec: Any) -> None:
    made = rec.create("deal", {"name": "A"})
    rec.delete("deal", made["id"], version=1)
    with pytest.raises(NotFound):
        rec.get("deal", made["id"])
    assert [r["id"] for r in rec.recycle_bin("deal")] == [made["id"]]
    back = rec.restore("deal", made["id"])
    assert back["deleted_at"] is None and back["version"] == 3
    assert rec.recycle_bin("deal") == []
    assert [h["action"] for h in rec.history("deal", made["id"])] == [
        "restore", "delete", "create"]


def test_delete_with_a_stale_version_conflicts(rec: Any) -> None:
    made = rec.create("deal", {"name": "A"})
    rec.update("deal", made["id"], {"name": "B"})
    with pytest.raises(Conflict):
        rec.delete("deal", made["id"], version=1)
    assert rec.get("deal", made["id"])["name"] == "B"


def test_restoring_a_live_record_is_refused(rec: Any) -> None:
    made = rec.create("deal", {"name": "A"})
    with pytest.raises(RecordError):
        rec.restore("deal", made["id"])


def test_master_detail_children_follow_their_parent(rec: Any) -> None:
    d = rec.create("deal", {"name": "A"})
    lines = [rec.create("line", {"deal": d["id"], "qty": q})["id"] for q in (1, 2)]
    gone_before = rec.create("line", {"deal": d["id"], "qty": 3})["id"]
    rec.delete("line", gone_before)
    rec.delete("deal", d["id"])
    assert {r["id"] for r in rec.recycle_bin("line")} == {*lines, gone_before}
    rec.restore("deal", d["id"])
    assert {r["id"] for r in rec.recycle_bin("line")} == {gone_before}
    assert all(rec.get("line", i)["deleted_at"] is None for i in lines)


def test_rollups_follow_creates_moves_and_deletes(rec: Any) -> None:
    a = rec.create("account", {"name": "A"})
    b = rec.create("account", {"name": "B"})
    d1 = rec.create("deal", {"name": "1", "account": a["id"], "amount": 100, "stage": "won",
                             "close_date": "2026-02-01"})
    rec.create("deal", {"name": "2", "account": a["id"], "amount": 50})
    acc = rec.get("account", a["id"])
    assert (acc["deals"], float(acc["won"])) == (2, 100)
    rec.update("deal", d1["id"], {"account": b["id"]})
    assert rec.get("account", a["id"])["deals"] == 1
    assert float(rec.get("account", a["id"])["won"]) == 0
    assert float(rec.get("account", b["id"])["won"]) == 100
    rec.delete("deal", d1["id"])
    assert rec.get("account", b["id"])["deals"] == 0
    rec.restore("deal", d1["id"])
    assert float(rec.get("account", b["id"])["won"]) == 100


def test_bulk_delete(rec: Any) -> None:
    ids = [rec.create("deal", {"name": str(i)})["id"] for i in range(3)]
    assert rec.bulk_delete("deal", ids[:2]) == 2
    assert {r["id"] for r in rec.recycle_bin("deal")} == set(ids[:2])


def test_restrict_lookup_blocks_deleting_its_target(tmp_path: Path, engine: sa.Engine) -> None:
    folder = tmp_path / "r"
    write_schema(folder, "account", rollup_account())
    write_schema(folder, "deal", deal(
        account={"type": "lookup", "to": "account", "on_delete": "restrict"}))
    rec = service(engine, folder)
    acc = rec.create("account", {"name": "Kept"})
    d = rec.create("deal", {"name": "A", "account": acc["id"]})
    with pytest.raises(RecordError) as err:
        rec.delete("account", acc["id"])
    assert "1" in err.value.message and "refer to it" in err.value.message
    rec.delete("deal", d["id"])
    rec.delete("account", acc["id"])  # only deleted records point to it now
