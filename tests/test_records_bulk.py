"""The records service's bulk path (imports): the checks of `create` per row, each row all or
nothing (bad rows reported, good rows written), hooks, audit, autonumbers, unique values within
the import, roll-ups, dry runs, updates, and the bulk soft delete of undo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.model.system import audit
from app.plugins import hookimpl, make_plugin_manager
from app.records import Change, Forbidden, RecordError
from app.records.bulk import BulkRow, BulkWriter
from app.records.bulk_delete import delete_many
from tests.factories import deal, make_user, rollup_account, rows, service, write_schema


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.refuse_after_save = "never"

    @hookimpl
    def crm_record_before_validate(self, change: Change) -> None:
        self.calls.append(("before_validate", change.values.get("name")))

    @hookimpl
    def crm_record_validate(self, change: Change) -> list[tuple[str | None, str]]:
        self.calls.append(("validate", change.values.get("name")))
        return [("name", "Taken by policy.")] if change.values.get("name") == "Policy" else []

    @hookimpl
    def crm_record_before_save(self, change: Change) -> None:
        change.values["name"] = str(change.values["name"]).strip().title()

    @hookimpl
    def crm_record_after_save(self, change: Change) -> None:
        self.calls.append(("after", change.record["name"], change.id))
        if change.record["name"] == self.refuse_after_save:
            raise RecordError("the after-save hook refused")

    @hookimpl
    def crm_record_after_commit(self, change: Change) -> None:
        self.calls.append(("commit", change.action, change.id))

    @hookimpl
    def crm_record_after_delete(self, change: Change) -> None:
        self.calls.append(("deleted", change.id))


@pytest.fixture
def plugin() -> Recorder:
    return Recorder()


@pytest.fixture
def rec(tmp_path: Path, engine: sa.Engine, plugin: Recorder) -> Any:
    acc = rollup_account()
    acc["fields"]["code"] = {"type": "string", "unique": True}
    write_schema(tmp_path / "s", "account", acc)
    write_schema(tmp_path / "s", "deal", deal())
    return service(engine, tmp_path / "s", plugins=make_plugin_manager(
        [plugin], entry_points=False))


def test_good_rows_are_written_bad_rows_reported(rec: Any, plugin: Recorder,
                                                 engine: sa.Engine) -> None:
    acme = rec.create("account", {"name": "Acme"})["id"]
    out = rec.import_rows("deal", [
        BulkRow(2, {"name": " big deal ", "account": acme, "amount": "8000"}),
        BulkRow(3, {"amount": "-5"}),
        BulkRow(4, {"name": "won", "stage": "won"}),
        BulkRow(5, {"name": "x", "account": 999}),
        BulkRow(6, {"name": "Policy"}),
        BulkRow(7, {"name": "small", "account": acme, "stage": "won",
                    "close_date": "2026-01-02", "amount": 100}),
    ])
    assert [(d.key, d.action) for d in out.done] == [(2, "created"), (7, "created")]
    assert {f.key: f.errors for f in out.failed} == {
        3: {"name": ["Name is required."], "amount": ["The value must be at least 0."]},
        4: {"close_date": ["A won deal needs a close date"]},
        5: {"account": ["Account: there is no Account #999."]},
        6: {"name": ["Taken by policy."]},
    }
    big = rec.get("deal", out.done[0].record_id)
    assert (big["name"], big["number"], big["stage"], big["probability"]) == (
        "Big Deal", "D-0001", "open", 10)  # before-save hook, autonumber, defaults
    assert rec.get("deal", out.done[1].record_id)["number"] == "D-0002"
    assert rec.get("account", acme)["deals"] == 2 and rec.get("account", acme)["won"] == 100
    assert [r[1:] for r in rows(engine, "sys_audit", "entity", "action", "record_id")[-2:]] == [
        ("deal", "create", out.done[0].record_id), ("deal", "create", out.done[1].record_id)]
    assert ("commit", "create", out.done[1].record_id) in plugin.calls
    history = rec.history("deal", out.done[0].record_id)
    assert history[0]["changes"]["name"] == [None, "Big Deal"]


def test_unique_values_within_the_import_and_the_table(rec: Any) -> None:
    rec.create("account", {"name": "Old", "code": "A1"})
    writer = BulkWriter(rec, "account", rec.actor)
    first = writer.write([BulkRow(2, {"name": "a", "code": "A1"}),
                          BulkRow(3, {"name": "b", "code": "B2"}),
                          BulkRow(4, {"name": "c", "code": "B2"})])
    assert [d.key for d in first.done] == [3]
    assert first.failed[0].errors["code"] == [
        "Code must be unique: another record already has 'A1'."]
    assert first.failed[1].errors["code"] == [
        "Code must be unique: row 3 of this import already has 'B2'."]
    dry = BulkWriter(rec, "account", rec.actor, dry_run=True)
    assert not dry.write([BulkRow(5, {"name": "d", "code": "C3"})]).failed
    again = dry.write([BulkRow(6, {"name": "e", "code": "C3"})])
    assert "row 5 of this import" in again.failed[0].errors["code"][0]
    assert rec.recycle_bin("account") == [] and len(rec_ids(rec, "account")) == 2


def test_a_dry_run_writes_nothing(rec: Any, plugin: Recorder, engine: sa.Engine) -> None:
    out = rec.import_rows("deal", [BulkRow(2, {"name": "a"}), BulkRow(3, {})], dry_run=True)
    assert [d.key for d in out.done] == [2] and [f.key for f in out.failed] == [3]
    assert rec_ids(rec, "deal") == [] and rows(engine, "sys_audit") == []
    assert not [c for c in plugin.calls if c[0] == "commit"]
    assert rec.create("deal", {"name": "real"})["number"] == "D-0001"  # no number was drawn


def test_a_row_refused_while_writing_keeps_the_others(rec: Any, plugin: Recorder) -> None:
    plugin.refuse_after_save = "Bad"
    out = rec.import_rows("deal", [BulkRow(2, {"name": "good"}), BulkRow(3, {"name": "bad"}),
                                   BulkRow(4, {"name": "fine"})])
    assert [d.key for d in out.done] == [2, 4]
    assert out.failed[0].key == 3 and out.failed[0].errors == {
        "__record__": ["the after-save hook refused"]}
    assert sorted(r["name"] for r in all_of(rec, "deal")) == ["Fine", "Good"]


def test_updates_and_permissions(rec: Any, engine: sa.Engine) -> None:
    made = rec.create("deal", {"name": "Old", "amount": 5})
    out = rec.import_rows("deal", [BulkRow(2, {"amount": 7}, record_id=made["id"]),
                                   BulkRow(3, {"amount": 7}, record_id=made["id"]),
                                   BulkRow(4, {"amount": -1}, record_id=made["id"])])
    assert [(d.key, d.action, d.before, d.version) for d in out.done] == [
        (2, "updated", {"amount": "5.00"}, 2), (3, "unchanged", {}, 2)]
    assert out.failed[0].errors == {"amount": ["The value must be at least 0."]}
    nobody = make_user(engine, "nobody", ("marketing",))  # no grant on the small pack
    with pytest.raises(Forbidden):
        rec.import_rows("deal", [BulkRow(2, {"name": "x"})], nobody)


def test_bulk_soft_delete(rec: Any, plugin: Recorder) -> None:
    acme = rec.create("account", {"name": "Acme"})["id"]
    ids = [rec.create("deal", {"name": f"d{i}", "account": acme})["id"] for i in range(3)]
    rec.delete("deal", ids[2])
    plugin.calls.clear()
    out = delete_many(rec, "deal", ids, rec.actor)
    assert out.deleted == ids[:2]
    assert out.failed == {ids[2]: f"Deal #{ids[2]} does not exist or was deleted."}
    assert sorted(r["id"] for r in rec.recycle_bin("deal")) == ids
    assert rec.get("account", acme)["deals"] == 0
    assert [c for c in plugin.calls if c[0] == "deleted"] == [("deleted", i) for i in ids[:2]]
    assert rec.history("deal", ids[0])[0]["action"] == "delete"


def rec_ids(rec: Any, entity: str) -> list[int]:
    return [r["id"] for r in all_of(rec, entity)]


def all_of(rec: Any, entity: str) -> list[dict[str, Any]]:
    table = rec.table(entity)
    with rec.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            rec.full_select(entity).where(table.c.deleted_at.is_(None)).order_by(table.c.id))]


def test_audit_is_one_insert_per_batch(rec: Any, engine: sa.Engine) -> None:
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda *a: seen.append(a[2]) if "sys_audit" in a[2] else None)
    rec.import_rows("deal", [BulkRow(i, {"name": f"n{i}"}) for i in range(50)])
    assert len(seen) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit)).scalar() == 50
