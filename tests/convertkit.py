"""Test kit for the quote -> contract -> order conversions (workflows/contracts.yaml): the
default pack with the shipped workflows/quotes.yaml and workflows/contracts.yaml published, and
factories for products and accepted quotes with lines."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.context import Context
from app.migrate.publish import publish
from app.model.system import create_system_tables
from app.records import SYSTEM, Actor
from app.records.bulk import BulkRow
from app.settings import load_settings
from app.users import create_user
from tests import webkit
from tests.stageskit import STAGE_USERS, records

#: the shipped workflows files a contract deployment publishes
WORKFLOWS = ("quotes.yaml", "contracts.yaml")
TO_CONTRACT, TO_ORDER = "quote_to_contract", "contract_to_order"
#: (quantity, unit price, line discount %) of the lines `accepted_quote` makes by default
LINES = ((2, "1000.00", 0), (10, "99.50", 10), (1, "5000.00", 0))


def contract_deployment(folder: Path, database_url: str, *, extra: str = "",
                        schema_edits: Mapping[str, tuple[str, str]] | None = None) -> Context:
    """The default pack with WORKFLOWS (and `extra`, a further workflows file, when given)
    published once, with STAGE_USERS and the `immediate` task queue. `schema_edits`: file name
    -> (text, replacement) changed in the copied schemas first. Caller disposes."""
    root = webkit.ROOT
    shutil.copytree(root / "schemas", folder / "schemas")
    for name, (old, new) in (schema_edits or {}).items():
        path = folder / "schemas" / name
        text = path.read_text(encoding="utf-8")
        assert old in text, (name, old)
        path.write_text(text.replace(old, new), encoding="utf-8")
    (folder / "workflows").mkdir(parents=True)
    for name in WORKFLOWS:
        shutil.copy(root / "workflows" / name, folder / "workflows" / name)
    if extra:
        (folder / "workflows" / "zz_extra.yaml").write_text(extra, encoding="utf-8")
    (folder / "config.yaml").write_text(
        f"schemas: schemas\nworkflows: workflows\nroles: [{', '.join(webkit.ROLES)}]\n"
        "migrations: migrations\nlogin_rate_limit: 1000 per minute\ntask_queue: immediate\n",
        encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, password, roles in STAGE_USERS:
            create_user(conn, username, password, roles, ctx.settings.roles,
                        full_name=username.capitalize())
    publish(ctx.engine, ctx.yaml_meta())
    return ctx


def product(ctx: Context, name: str = "CRM licence", price: str = "1000.00") -> int:
    return int(records(ctx).create("product", {"name": name, "unit_price": Decimal(price)})["id"])


def accepted_quote(ctx: Context, who: Actor = SYSTEM, *,
                   lines: Sequence[tuple[int, str, int]] = LINES, status: str = "accepted",
                   **values: Any) -> int:
    """A quote of `who` with `lines` (quantity, unit price, discount; sort orders descending,
    so their order is not their ids'), moved draft -> approved -> sent -> `status` through the
    quote's stage machine (stopping early for an earlier status)."""
    rs = records(ctx)
    account = int(rs.create("account", {"name": "Acme Ltd"}, who)["id"])
    prod = product(ctx)
    qid = int(rs.create("quote", {"name": "Acme rollout", "account": account,
                                  "currency": "USD", "discount": Decimal("5"),
                                  "terms": "Net 30", **values}, who)["id"])
    rows = [BulkRow(i, {"quote": qid, "product": prod, "description": f"Item {i + 1}",
                        "quantity": Decimal(q), "unit_price": Decimal(p),
                        "line_discount": Decimal(d), "sort_order": (len(lines) - i) * 10})
            for i, (q, p, d) in enumerate(lines)]
    if rows:
        outcome = rs.import_rows("quote_line", rows, who)
        assert not outcome.failed, outcome.failed
    for step in ("approved", "sent", "accepted"):
        if status == "draft":
            break
        extra = {"valid_until": date(2031, 1, 31)} if step == "sent" else {}
        rs.update("quote", qid, {"status": step, **extra}, who)
        if step == status:
            break
    return qid


def signed(ctx: Context, contract_id: int, who: Actor = SYSTEM) -> None:
    """Move a draft contract to signed through its stage machine."""
    rs = records(ctx)
    rs.update("contract", contract_id, {"status": "pending_signature"}, who)
    rs.update("contract", contract_id, {"status": "signed", "start_date": date(2030, 2, 1),
                                        "signed_at": "2030-01-28T10:00:00+00:00"}, who)


def count(ctx: Context, entity: str) -> int:
    table = records(ctx).table(entity)
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)
                                .where(table.c.deleted_at.is_(None))).scalar_one())


# --- one database for a module (tests that share one deployment) -------------------------------
@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory: pytest.TempPathFactory,
                        request: pytest.FixtureRequest) -> Iterator[str]:
    """One fresh database for a whole module (SQLite, or a PostgreSQL schema when
    CRM_TEST_DATABASE_URL is set): for tests that share one deployment."""
    from tests.conftest import PG_URL

    if not PG_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('convertdb') / 'crm.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def contract_ctx(tmp_path_factory: pytest.TempPathFactory, module_database_url: str
                 ) -> Iterator[Context]:
    """One contract deployment shared by a module's tests (each makes its own quotes)."""
    c = contract_deployment(tmp_path_factory.mktemp("contracts"), module_database_url)
    try:
        yield c
    finally:
        c.dispose()


def uses_database() -> list[pytest.MarkDecorator]:
    """`pytestmark` of a module whose deployment is module-scoped: on the PostgreSQL leg it
    is a database test like any other."""
    from tests.conftest import PG_URL

    return [pytest.mark.usefixtures("postgres_url")] if PG_URL else []
