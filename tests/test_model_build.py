"""Per-version models: a fresh DeclarativeBase each time, formulas computed in SQL (so they sort
and filter), lookups as relationships, and old classes left untouched by a new version."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import orm

from app.model.build import build_models
from tests.factories import account, apply, contact, insert, meta_of, small_pack


def pack(tmp_path: Path) -> Path:
    return small_pack(tmp_path / "schemas", account(
        revenue={"type": "currency"},
        margin={"type": "percent"},
        profit={"type": "formula", "expr": "revenue * margin / 100", "result": "currency"},
        parent={"type": "lookup", "to": "account"}), contact())


def test_formulas_sort_and_filter_in_sql(tmp_path: Path, engine: sa.Engine) -> None:
    folder = pack(tmp_path)
    apply(engine, folder)
    insert(engine, "ent_account", {"name": "A", "revenue": 1000, "margin": 10},
           {"name": "B", "revenue": 500, "margin": 50},
           {"name": "C", "revenue": None, "margin": None})
    models = build_models(meta_of(folder))
    Account = models.cls("account")
    with orm.Session(engine) as session:
        rows = session.scalars(sa.select(Account).where(Account.profit > 0)
                               .order_by(Account.profit.desc())).all()
        assert [(a.name, Decimal(a.profit)) for a in rows] == [
            ("B", Decimal("250.00")), ("A", Decimal("100.00"))]


def test_lookups_are_relationships_including_self(tmp_path: Path, engine: sa.Engine) -> None:
    folder = pack(tmp_path)
    apply(engine, folder)
    insert(engine, "ent_account", {"name": "Parent", "parent_id": None},
           {"name": "Child", "parent_id": 1})
    insert(engine, "ent_contact", {"last_name": "Li", "account_id": 2})
    models = build_models(meta_of(folder))
    with orm.Session(engine) as session:
        li = session.scalars(sa.select(models.cls("contact"))).one()
        assert li.account.name == "Child" and li.account.parent.name == "Parent"


def test_each_version_gets_its_own_classes(tmp_path: Path) -> None:
    folder = pack(tmp_path)
    first = build_models(meta_of(folder))
    small_pack(folder, account(fax={"type": "phone"}), contact())
    second = build_models(meta_of(folder))
    assert first.base is not second.base
    assert "fax" not in first.table("account").c and "fax" in second.table("account").c
    assert not hasattr(first.cls("account"), "fax")
    core_only = build_models(meta_of(folder), orm_classes=False)
    assert core_only.classes == {} and "fax" in core_only.table("account").c
