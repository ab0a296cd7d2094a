"""Plugin hooks around each write: validation problems, changing values before the write,
and failures that roll the whole operation back (row, audit, autonumber, roll-ups)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.model.system import audit, sequences
from app.plugins import hookimpl, make_plugin_manager
from app.records import Change, RecordError, ValidationFailed
from tests.factories import deal, rollup_account, rows, service, write_schema


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_after_save = False
        self.fail_after_commit = False

    @hookimpl
    def crm_record_validate(self, change: Change) -> list[tuple[str | None, str]]:
        self.calls.append(("validate", change.action))
        if change.values.get("name") == "forbidden":
            return [("name", "This name is taken by policy.")]
        return []

    @hookimpl
    def crm_record_before_save(self, change: Change) -> None:
        self.calls.append(("before", change.action))
        if change.action == "create" and change.values.get("name"):
            change.values["name"] = change.values["name"].strip().title()

    @hookimpl
    def crm_record_after_save(self, change: Change) -> None:
        self.calls.append(("after", change.action))
        if self.fail_after_save:
            raise RecordError("the after-write hook refused")

    @hookimpl
    def crm_record_before_validate(self, change: Change) -> None:
        self.calls.append(("before_validate", change.action))
        if isinstance(change.values.get("name"), str):
            change.values["name"] = change.values["name"].replace("\t", " ")

    @hookimpl
    def crm_record_before_delete(self, change: Change) -> None:
        self.calls.append(("before_delete", change.action))
        if change.old.get("name") == "Keep Me":
            raise RecordError("this deal is protected")

    @hookimpl
    def crm_record_after_delete(self, change: Change) -> None:
        self.calls.append(("after_delete", change.action))

    @hookimpl
    def crm_record_before_transition(self, change: Change, field: str, old: Any, new: Any
                                     ) -> None:
        self.calls.append(("before_transition", f"{field}:{old}->{new}"))
        if new == "lost" and old is None:
            raise RecordError("a deal cannot start lost")

    @hookimpl
    def crm_record_after_transition(self, change: Change, field: str, old: Any, new: Any
                                    ) -> None:
        self.calls.append(("after_transition", f"{field}:{old}->{new}"))

    @hookimpl
    def crm_record_after_commit(self, change: Change) -> None:
        self.calls.append(("commit", change.action))
        if self.fail_after_commit:
            raise RuntimeError("notifier down")


@pytest.fixture
def plugin() -> Recorder:
    return Recorder()


@pytest.fixture
def rec(tmp_path: Path, engine: sa.Engine, plugin: Recorder) -> Any:
    write_schema(tmp_path / "s", "account", rollup_account())
    write_schema(tmp_path / "s", "deal", deal())
    return service(engine, tmp_path / "s", plugins=make_plugin_manager(
        [plugin], entry_points=False))


def test_hooks_run_in_order_and_may_adjust_values(rec: Any, plugin: Recorder) -> None:
    made = rec.create("deal", {"name": "  big deal "})
    assert made["name"] == "Big Deal"
    assert plugin.calls == [("before_validate", "create"), ("validate", "create"),
                            ("before", "create"), ("before_transition", "stage:None->open"),
                            ("after", "create"), ("after_transition", "stage:None->open"),
                            ("commit", "create")]


def test_before_validate_values_are_validated(rec: Any) -> None:
    made = rec.create("deal", {"name": "a\tb"})
    assert made["name"] == "A B"


def test_delete_hooks_run_and_may_refuse(rec: Any, plugin: Recorder) -> None:
    kept = rec.create("deal", {"name": "keep me"})
    with pytest.raises(RecordError, match="protected"):
        rec.delete("deal", kept["id"])
    assert rec.get("deal", kept["id"])["deleted_at"] is None
    gone = rec.create("deal", {"name": "gone"})
    plugin.calls.clear()
    rec.delete("deal", gone["id"])
    assert plugin.calls == [("before_delete", "delete"), ("after_delete", "delete"),
                            ("commit", "delete")]
    plugin.calls.clear()
    rec.restore("deal", gone["id"])
    assert plugin.calls == [("before", "restore"), ("after", "restore"), ("commit", "restore")]


def test_transition_hooks_see_each_stage_move(rec: Any, plugin: Recorder) -> None:
    made = rec.create("deal", {"name": "moving", "stage": "open"})
    assert ("before_transition", "stage:None->open") in plugin.calls
    plugin.calls.clear()
    rec.update("deal", made["id"], {"stage": "won", "close_date": "2026-01-05"})
    assert [c for c in plugin.calls if "transition" in c[0]] == [
        ("before_transition", "stage:open->won"), ("after_transition", "stage:open->won")]
    plugin.calls.clear()
    rec.update("deal", made["id"], {"amount": 3})
    assert not [c for c in plugin.calls if "transition" in c[0]]
    with pytest.raises(RecordError, match="cannot start lost"):
        rec.create("deal", {"name": "doomed", "stage": "lost", "loss_reason": "price"})


def test_validate_hook_refuses_with_a_field_message(rec: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        rec.create("deal", {"name": "forbidden"})
    assert err.value.errors == {"name": ["This name is taken by policy."]}


def test_failing_after_save_rolls_everything_back(rec: Any, plugin: Recorder,
                                                   engine: sa.Engine) -> None:
    acc = rec.create("account", {"name": "A"})
    plugin.fail_after_save = True
    with pytest.raises(RecordError):
        rec.create("deal", {"name": "x", "account": acc["id"], "amount": 5})
    assert rows(engine, "ent_deal") == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit)
                            .where(audit.c.entity == "deal")).scalar_one() == 0
        assert conn.execute(sa.select(sequences.c.value)).all() == []
    plugin.fail_after_save = False
    assert rec.get("account", acc["id"])["deals"] == 0


def test_failing_after_commit_is_logged_not_raised(rec: Any, plugin: Recorder,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    plugin.fail_after_commit = True
    with caplog.at_level(logging.ERROR):
        made = rec.create("deal", {"name": "kept"})
    assert rec.get("deal", made["id"])["name"] == "Kept"
    assert "crm_record_after_commit hook failed" in caplog.text

