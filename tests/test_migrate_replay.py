"""Migration files: staging records them, production replays exactly the same steps, and a
database that drifted from the recorded history is refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.db import make_engine
from app.migrate import files
from app.migrate.publish import PublishConflict, PublishError, active_version, replay
from tests.factories import account, apply, columns, insert, rows, small_pack


@pytest.fixture
def prod(new_database_url: Callable[[], str]) -> Iterator[sa.Engine]:
    """A second deployment's database (production, when `engine` is staging)."""
    eng = make_engine(new_database_url())
    yield eng
    eng.dispose()


def first_files(history: Path, n: int, tmp_path: Path) -> Path:
    """A copy of the first `n` migration files: a deployment that is `n` versions behind."""
    folder = tmp_path / f"first_{n}"
    folder.mkdir()
    for mf in files.read_all(history)[:n]:
        folder.joinpath(mf.path.name).write_text(mf.path.read_text())
    return folder


def test_production_replays_stagings_steps(
        tmp_path: Path, engine: sa.Engine, prod: sa.Engine) -> None:
    pack, history = tmp_path / "schemas", tmp_path / "migrations"
    small_pack(pack)
    apply(engine, pack, migrations_dir=history)
    changed = account(rating={"type": "picklist", "choices": ["hot", "cold"]},
                      headcount={"type": "integer", "renamed_from": "employees"})
    del changed["fields"]["employees"]
    small_pack(pack, changed)
    apply(engine, pack, migrations_dir=history, message="rating and headcount")
    recorded = files.read_all(history)
    assert [len(m.steps) for m in recorded] == [2, 2]
    assert "rename_column" in history.joinpath(recorded[1].path.name).read_text()

    # production already runs the first version, with its own data
    assert replay(prod, first_files(history, 1, tmp_path)) == [recorded[0].id]
    insert(prod, "ent_account", {"name": "Prod Co", "employees": 7})
    assert replay(prod, history) == [recorded[1].id]
    assert {"rating", "headcount"} <= columns(prod, "ent_account")
    assert rows(prod, "ent_account", "headcount") == [(1, 7)]
    with prod.connect() as conn:
        _, live = active_version(conn)
    assert live is not None and live.digest == recorded[1].to_digest
    assert replay(prod, history) == []  # idempotent


def test_replay_refuses_a_database_at_another_version(
        tmp_path: Path, engine: sa.Engine, new_database_url: Callable[[], str]) -> None:
    pack, history = tmp_path / "schemas", tmp_path / "migrations"
    small_pack(pack)
    apply(engine, pack, migrations_dir=history)
    other = make_engine(new_database_url())
    try:
        small_pack(tmp_path / "other", account(fax={"type": "phone"}))
        apply(other, tmp_path / "other")
        with pytest.raises(PublishConflict):
            replay(other, history)
    finally:
        other.dispose()


def test_replay_checks_the_data_of_the_target(
        tmp_path: Path, engine: sa.Engine, prod: sa.Engine) -> None:
    pack, history = tmp_path / "schemas", tmp_path / "migrations"
    small_pack(pack, account(code={"type": "string"}))
    apply(engine, pack, migrations_dir=history)
    small_pack(pack, account(code={"type": "integer"}))
    apply(engine, pack, migrations_dir=history)

    replay(prod, first_files(history, 1, tmp_path))
    insert(prod, "ent_account", {"name": "X", "code": "not a number"})
    with pytest.raises(PublishError) as refused:
        replay(prod, history)
    assert refused.value.plan is not None and refused.value.plan.unsupported
    assert rows(prod, "ent_account", "code") == [(1, "not a number")]


def test_label_only_changes_and_zero_defaults_replay(
        tmp_path: Path, engine: sa.Engine, prod: sa.Engine) -> None:
    pack, history = tmp_path / "schemas", tmp_path / "migrations"
    small_pack(pack)
    apply(engine, pack, migrations_dir=history)
    relabelled = account()
    relabelled["label"] = {"en": "Customer", "zh": "客户"}
    small_pack(pack, relabelled)
    apply(engine, pack, migrations_dir=history)  # no DDL, still a recorded version
    small_pack(pack, {**relabelled, "fields": {**relabelled["fields"],
                                                "score": {"type": "integer", "default": 0}}})
    apply(engine, pack, migrations_dir=history)
    assert len(files.read_all(history)) == 3
    replay(prod, first_files(history, 1, tmp_path))
    insert(prod, "ent_account", {"name": "P"})
    assert len(replay(prod, history)) == 2
    assert rows(prod, "ent_account", "score") == [(1, 0)]
    with prod.connect() as conn:
        _, live = active_version(conn)
    assert live is not None and live.entities["account"].label["en"] == "Customer"


def test_a_recorded_purge_needs_confirmation_on_replay(
        tmp_path: Path, engine: sa.Engine, prod: sa.Engine) -> None:
    pack, history = tmp_path / "schemas", tmp_path / "migrations"
    small_pack(pack)
    apply(engine, pack, migrations_dir=history)
    acc = account()
    del acc["fields"]["website"]
    small_pack(pack, acc)
    apply(engine, pack, migrations_dir=history)
    apply(engine, pack, migrations_dir=history, purge=True, allow_destructive=True)
    replay(prod, first_files(history, 2, tmp_path))
    insert(prod, "ent_account", {"name": "P", "website": "https://p.example"})
    with pytest.raises(PublishError, match="confirm it here"):
        replay(prod, history)
    assert "website" in columns(prod, "ent_account")
    assert len(replay(prod, history, allow_destructive=True)) == 1
    assert "website" not in columns(prod, "ent_account")
