"""Turning `encrypted` on and off for a field that holds data: the plan says so and the apply
step encrypts (or decrypts) every stored value; nothing is lost or garbled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from app import crypto
from app.migrate.publish import PublishError, plan_change
from app.model.build import build_models
from app.model.system import create_system_tables
from app.records import Records
from tests.factories import apply, contact, insert, meta_of, rows, small_pack

IDS = ["11010119900307123X", "110101199003071234", None]


def pack(folder: Path, **spec: Any) -> Path:
    return small_pack(folder, con=contact(id_number={"type": "string", "max_length": 18,
                                                     **spec}))


@pytest.fixture
def filled(engine: sa.Engine, tmp_path: Path) -> Path:
    """A published pack whose contacts hold clear ID numbers."""
    with engine.begin() as conn:
        create_system_tables(conn)
    apply(engine, pack(tmp_path / "v1"))
    insert(engine, "ent_contact", *({"last_name": f"P{i}", "id_number": v}
                                    for i, v in enumerate(IDS)))
    return tmp_path


def test_encrypt_then_decrypt_existing_values(engine: sa.Engine, filled: Path) -> None:
    key = crypto.new_key()
    crypto.attach(engine, crypto.KeyRing(key))
    plan = plan_change(engine, meta_of(pack(filled / "v2", encrypted=True)))
    step = next(s for s in plan.steps if s.op == "encrypt_column")
    assert step.rows == 2 and "encrypt contact.id_number" in step.summary
    apply(engine, filled / "v2")
    stored = [v for _, v in rows(engine, "ent_contact", "id_number")]
    assert stored[2] is None and not set(stored[:2]) & set(IDS)
    assert [Fernet(key.encode()).decrypt(v.encode()).decode() for v in stored[:2]] == IDS[:2]
    rec = Records(engine, build_models(meta_of(filled / "v2")))
    assert [rec.get("contact", i)["id_number"] for i in (1, 2, 3)] == IDS
    assert [s.op for s in plan_change(engine, meta_of(pack(filled / "v3"))).steps] \
        == ["decrypt_column"]
    apply(engine, filled / "v3")
    assert [v for _, v in rows(engine, "ent_contact", "id_number")] == IDS


def test_encrypting_data_without_a_key_changes_nothing(engine: sa.Engine,
                                                       filled: Path) -> None:
    with pytest.raises(PublishError, match="no encryption key"):
        apply(engine, pack(filled / "v2", encrypted=True))
    assert [v for _, v in rows(engine, "ent_contact", "id_number")] == IDS


def test_decrypting_with_the_wrong_key_changes_nothing(engine: sa.Engine, filled: Path) -> None:
    crypto.attach(engine, crypto.KeyRing(crypto.new_key()))
    apply(engine, pack(filled / "v2", encrypted=True))
    before = rows(engine, "ent_contact", "id_number")
    crypto.attach(engine, crypto.KeyRing(crypto.new_key()))
    with pytest.raises(PublishError, match=r"contact\.id_number.*cannot be decrypted"):
        apply(engine, pack(filled / "v3"))
    assert rows(engine, "ent_contact", "id_number") == before


def test_type_change_with_encryption_is_refused(engine: sa.Engine, filled: Path) -> None:
    crypto.attach(engine, crypto.KeyRing(crypto.new_key()))
    folder = small_pack(filled / "v2", con=contact(id_number={"type": "text",
                                                              "encrypted": True}))
    plan = plan_change(engine, meta_of(folder))
    assert plan.unsupported and "two steps" in plan.unsupported[0].problems[0]


def test_new_encrypted_field_with_a_default_is_filled_encrypted(engine: sa.Engine,
                                                                 filled: Path) -> None:
    crypto.attach(engine, crypto.KeyRing(crypto.new_key()))
    folder = small_pack(filled / "v2", con=contact(
        id_number={"type": "string", "max_length": 18},
        code={"type": "string", "encrypted": True, "default": "n/a"}))
    apply(engine, folder)
    assert all(v not in (None, "n/a") for _, v in rows(engine, "ent_contact", "code"))
    rec = Records(engine, build_models(meta_of(folder)))
    assert rec.get("contact", 1)["code"] == "n/a"
