"""A `default: false` survives the stored config version: new records get False, not empty."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.migrate.publish import active_version
from app.model.build import build_models
from app.records import Records
from tests.factories import account, apply, meta_of, write_schema


def test_false_and_zero_defaults_round_trip(tmp_path: Path) -> None:
    write_schema(tmp_path, "account", account(
        vip={"type": "boolean", "default": False}, score={"type": "integer", "default": 0}))
    meta = meta_of(tmp_path)
    again = meta_from_dict(meta_to_dict(meta))
    assert again.entity("account").fields["vip"].default is False
    assert again.entity("account").fields["score"].default == 0


def test_a_new_record_gets_the_false_default(tmp_path: Path, engine: sa.Engine) -> None:
    write_schema(tmp_path, "account", account(vip={"type": "boolean", "default": False}))
    apply(engine, tmp_path)
    with engine.connect() as conn:
        _, live = active_version(conn)
    assert live is not None
    records = Records(engine, build_models(live))
    assert records.create("account", {"name": "Acme"})["vip"] is False
