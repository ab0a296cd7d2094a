"""Test kit for documents made from templates: the default CRM pack with workflows/documents.yaml
and documents/ (the shipped files, or others given), published once, with tests.webkit.USERS;
an approved quote of `rep` with lines whose products have Chinese names; PDF text extraction.

    ctx = documents_deployment(tmp_path, database_url)
    quote = approved_quote(ctx)
    made = generate(rs, who(ctx, "rep"), "quote_pdf", quote["id"], setup(ctx))
"""

from __future__ import annotations

import io
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.context import Context
from app.documents import Setup
from app.migrate.publish import publish
from app.model.build import build_models
from app.model.system import create_system_tables
from app.plugins import make_plugin_manager
from app.records import Actor, Records
from app.settings import load_settings
from app.users import create_user
from tests.webkit import ROLES, ROOT, USERS, user_id

DOCUMENTS_YAML = (ROOT / "workflows" / "documents.yaml").read_text(encoding="utf-8")
#: (product name, code, VAT rate, quantity, unit price) of the lines of `approved_quote`
LINES = (("企业版许可证", "ENT-LIC", 13, 2, 50000),
         ("实施服务（华东区）", "IMPL-EAST", 6, 10, 1500),
         ("Premium support 年度运维", "SUP-Y", 6, 1, 12000))


def documents_deployment(folder: Path, database_url: str, *,
                         workflows: str = DOCUMENTS_YAML,
                         templates: Mapping[str, str | bytes] | None = None,
                         extra_config: str = "") -> Context:
    """The default pack with `workflows` as workflows/documents.yaml and documents/ (the
    shipped folder, or `templates`: file name -> text or bytes), published once. The caller
    disposes the Context."""
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    (folder / "workflows").mkdir(parents=True)
    (folder / "workflows" / "documents.yaml").write_text(workflows, encoding="utf-8")
    if templates is None:
        shutil.copytree(ROOT / "documents", folder / "documents")
    else:
        (folder / "documents").mkdir()
        for name, body in templates.items():
            path = folder / "documents" / name
            if isinstance(body, bytes):
                path.write_bytes(body)
            else:
                path.write_text(body, encoding="utf-8")
    (folder / "config.yaml").write_text(
        f"name: Test CRM\nschemas: schemas\nworkflows: workflows\ndocuments: documents\n"
        f"roles: [{', '.join(ROLES)}]\nmigrations: migrations\n"
        f"login_rate_limit: 1000 per minute\ntask_queue: immediate\n{extra_config}",
        encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, password, roles in USERS:
            create_user(conn, username, password, roles, ctx.settings.roles,
                        full_name=username.capitalize())
    publish(ctx.engine, ctx.yaml_meta())
    return ctx


#: a document of the small pack's accounts, listing their contacts
SMALL_YAML = """documents:
  account_sheet:
    entity: account
    label: {en: Account sheet, zh: 客户资料}
    template: sheet.html
    filename: "{name}.pdf"
    lines: {entity: contact, via: account, order: last_name}
"""


def small_deployment(folder: Path, database_url: str, templates: Mapping[str, str | bytes],
                     workflows: str = SMALL_YAML, extra_config: str = "") -> Context:
    """The small pack (account, contact; sales_rep may do everything) with `workflows` and
    `templates`, published, with tests.webkit.USERS. The caller disposes the Context."""
    from tests.factories import small_pack

    small_pack(folder / "schemas")
    (folder / "workflows").mkdir(parents=True)
    (folder / "workflows" / "documents.yaml").write_text(workflows, encoding="utf-8")
    (folder / "documents").mkdir()
    for name, body in templates.items():
        path = folder / "documents" / name
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")
    (folder / "config.yaml").write_text(
        f"name: Small CRM\nschemas: schemas\nworkflows: workflows\n"
        f"roles: [{', '.join(ROLES)}]\nmigrations: migrations\n"
        f"login_rate_limit: 1000 per minute\ntask_queue: immediate\n{extra_config}",
        encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, password, roles in USERS:
            create_user(conn, username, password, roles, ctx.settings.roles,
                        full_name=username.capitalize())
    publish(ctx.engine, ctx.yaml_meta())
    return ctx


def records(ctx: Context) -> Records:
    """The records service of the live version with the built-in plugins (one per Context)."""
    found: Records | None = ctx.__dict__.get("_documents_records")
    if found is None:
        from app.cli_privacy import live_records

        rs = live_records(ctx)
        found = ctx.__dict__["_documents_records"] = Records(
            ctx.engine, build_models(rs.meta), plugins=make_plugin_manager(entry_points=False))
    return found


def who(ctx: Context, username: str, locale: str = "zh_CN") -> Actor:
    roles = {u: r for u, _p, r in USERS}[username]
    return Actor(user_id(ctx, username), username, tuple(roles), locale)


def setup(ctx: Context) -> Setup:
    return Setup.from_settings(ctx.settings)


def approved_quote(ctx: Context, owner: str = "rep", *, status: str = "approved",
                   discount: int = 10, **values: Any) -> dict[str, Any]:
    """A quote of `owner` for a Chinese account and contact, with LINES, in `status`."""
    rs = records(ctx)
    rep = who(ctx, owner)
    account = rs.create("account", {"name": "上海明远科技有限公司", "billing_city": "上海",
                                    "billing_street": "浦东新区张江路 88 号"}, rep)
    contact = rs.create("contact", {"last_name": "王", "first_name": "芳", "account":
                                    account["id"], "email": "wang.fang@example.cn"}, rep)
    quote = rs.create("quote", {"name": "明远科技 2027 年度采购", "account": account["id"],
                                "contact": contact["id"], "discount": discount,
                                "terms": "付款方式：合同签订后 30 日内支付全款。", **values}, rep)
    for i, (name, code, rate, qty, price) in enumerate(LINES):
        product = _product(rs, name, code, rate, price)
        rs.create("quote_line", {"quote": quote["id"], "product": product, "quantity": qty,
                                 "unit_price": price, "sort_order": i,
                                 "description": f"第 {i + 1} 项"}, rep)
    if status != "draft":
        rs.update("quote", int(quote["id"]), {"status": status})
    return rs.get("quote", int(quote["id"]))


def _product(rs: Records, name: str, code: str, rate: int, price: int) -> int:
    table = rs.table("product")
    with rs.engine.connect() as conn:
        found = conn.execute(sa.select(table.c.id).where(
            table.c[rs.spec("product").columns["code"]] == code)).scalar()
    if found is not None:
        return int(found)
    return int(rs.create("product", {"name": name, "code": code, "tax_rate": rate,
                                     "unit_price": price})["id"])


def pdf_text(data: bytes) -> str:
    """Every page's text of a PDF, joined."""
    from pypdf import PdfReader

    assert data.startswith(b"%PDF-"), data[:20]
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


# --- one database for a module (tests that share one deployment) -------------------------------
@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory: pytest.TempPathFactory,
                        request: pytest.FixtureRequest) -> Iterator[str]:
    """One fresh database for a whole module (SQLite, or a PostgreSQL schema when
    CRM_TEST_DATABASE_URL is set): for tests that share one deployment."""
    from tests.conftest import PG_URL

    if not PG_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('docdb') / 'crm.db'}"
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


def uses_database() -> list[pytest.MarkDecorator]:
    """`pytestmark` of a module whose deployment is module-scoped: on the PostgreSQL leg
    (CRM_TEST_DATABASE_ONLY=1) it is a database test like any other."""
    from tests.conftest import PG_URL

    return [pytest.mark.usefixtures("postgres_url")] if PG_URL else []
