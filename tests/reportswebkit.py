"""Test kit for the report and dashboard pages: the default CRM pack with the shipped reports/
(reports, role dashboards) published, the users of tests.webkit plus a sales manager and a
service agent, signed-in test clients, some opportunities, and the builder's form."""

from __future__ import annotations

import html as html_text
import re
import shutil
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.migrate.publish import publish
from app.model.system import create_system_tables
from app.records.change import SYSTEM
from app.settings import load_settings
from app.users import create_user
from tests.dbtemplates import prefill
from tests.webkit import ROLES, ROOT, USERS, csrf, records_of, sign_in, user_id

#: (username, password, roles): tests.webkit.USERS, a sales manager and a service agent
REPORT_USERS = (*USERS, ("manager", "manager-pass-1", ["sales_manager"]),
                ("agent", "agent-pass-12", ["service_agent"]))
PASSWORDS = {u: p for u, p, _r in REPORT_USERS}
#: (stage, amount, owner) of the opportunities `seed_deals` makes
DEALS = (("prospecting", 100, "rep"), ("prospecting", 250, "rep2"), ("proposal", 1000, "rep"),
         ("won", 5000, "rep"), ("won", 700, "rep2"), ("lost", 40, "rep2"))


def report_deployment(folder: Path, database_url: str) -> Context:
    """The default pack and the shipped reports/, published once, with REPORT_USERS (the
    caller disposes the Context)."""
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    shutil.copytree(ROOT / "reports", folder / "reports")
    (folder / "config.yaml").write_text(
        f"schemas: schemas\nreports: reports\nroles: [{', '.join(ROLES)}]\n"
        "migrations: migrations\nlogin_rate_limit: 1000 per minute\ntask_queue: immediate\n",
        encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    prefill(ctx, folder, _fill_reports, REPORT_USERS)
    return ctx


def _fill_reports(ctx: Context) -> None:
    """What `report_deployment` writes to its database (tests/dbtemplates.py copies it)."""
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, password, roles in REPORT_USERS:
            create_user(conn, username, password, roles, ctx.settings.roles,
                        full_name=username.capitalize())
    publish(ctx.engine, ctx.yaml_meta())


def client_for(web: Flask, username: str) -> FlaskClient:
    c = web.test_client()
    sign_in(c, username, PASSWORDS[username])
    return c


def seed_deals(web: Flask, ctx: Context) -> dict[str, int]:
    """An account and the DEALS; returns {"account": id}."""
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme 中国"}, SYSTEM)["id"]
    for i, (stage, amount, owner) in enumerate(DEALS):
        rec.create("opportunity", {
            "name": f"Deal {i}", "account": acc, "stage": stage, "amount": amount,
            "close_date": "2026-03-15" if stage in ("won", "lost") else None,
            **({"loss_reason": "price"} if stage == "lost" else {}),
            "owner": user_id(ctx, owner)}, SYSTEM)
    return {"account": acc}


def builder_form(entity: str = "opportunity", *, groups: tuple[tuple[str, str], ...] = (
        ("stage", ""),), measures: tuple[tuple[str, str], ...] = (("count", ""),),
                 filters: tuple[tuple[str, str, str], ...] = (), chart: str = "bar",
                 label: str = "", shared: bool = False, action: str = "save"
                 ) -> dict[str, str]:
    """The builder's posted fields."""
    data = {"entity": entity, "chart": chart, "label": label, "action": action}
    if shared:
        data["shared"] = "1"
    for i, (field, op, value) in enumerate(filters):
        data.update({f"f_field_{i}": field, f"f_op_{i}": op, f"f_value_{i}": value})
    for i, (field, bucket) in enumerate(groups, start=1):
        data.update({f"g{i}_field": field, f"g{i}_bucket": bucket})
    for i, (agg, field) in enumerate(measures):
        data.update({f"m_agg_{i}": agg, f"m_field_{i}": field})
    return data


def post_builder(client: FlaskClient, data: dict[str, str], url: str = "/reports/new") -> Any:
    token = csrf(client.get(url).text)
    return client.post(url, data={**data, "csrf_token": token})


def save_report(client: FlaskClient, **kw: Any) -> str:
    """Build and save a report; its ref (`u<id>`)."""
    resp = post_builder(client, builder_form(**kw))
    assert resp.status_code == 302, resp.text
    found = re.search(r"/reports/(u\d+)$", resp.headers["Location"])
    assert found, resp.headers["Location"]
    return found.group(1)


def problems(html: str) -> list[str]:
    """The problems the builder shows, by where: 'where: message'."""
    return [f"{w}: {html_text.unescape(m.strip())}" for w, m in re.findall(
        r'crm-problem" data-where="([^"]+)">([^<]+)<', html)]
