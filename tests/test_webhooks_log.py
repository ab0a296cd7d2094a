"""The delivery log: `crm webhooks list/log/redeliver/test` and the back-office view with its
"redeliver" action."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.context import Context
from tests.webhookkit import deliveries, events_deployment, receiver, records

HOOK = """
webhooks:
  erp:
    url_env: TEST_LOG_URL
    events: [account.created]
"""


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    c = events_deployment(tmp_path, database_url, HOOK)
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    try:
        yield c
    finally:
        c.dispose()


def crm(ctx: Context, *args: str) -> tuple[int, str]:
    from app.cli import main

    result = CliRunner().invoke(main, ["--config", str(ctx.settings.config_file), *args])
    return result.exit_code, result.output


def test_cli_list_log_redeliver_and_test(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = crm(ctx, "webhooks", "list")
    assert code == 0 and "erp: account.created -> $TEST_LOG_URL (unsigned)" in out
    records(ctx).create("account", {"name": "Acme"})  # no queue here: stays pending
    code, out = crm(ctx, "webhooks", "log", "--status", "pending")
    assert code == 0 and "erp account.created" in out and "pending" in out
    with receiver([500, 200]) as rx:
        monkeypatch.setenv("TEST_LOG_URL", rx.url)
        delivery = deliveries(ctx)[0]["id"]
        code, out = crm(ctx, "webhooks", "redeliver", str(delivery))
        assert code == 1 and "failed: HTTP 500" in out
        code, out = crm(ctx, "webhooks", "redeliver", str(delivery))
        assert code == 0 and "HTTP 200" in out
        code, out = crm(ctx, "webhooks", "test", "erp")
        assert code == 0 and "HTTP 200" in out
        assert rx.requests[-1].headers["X-CRM-Event"] == "ping"
        assert rx.requests[-1].json["data"] == {"webhook": "erp"}
    code, out = crm(ctx, "webhooks", "log", "--status", "failed")
    assert code == 0 and "No deliveries." in out
    code, out = crm(ctx, "webhooks", "test", "nope")
    assert code == 1 and "no webhook 'nope'" in out
    code, out = crm(ctx, "webhooks", "redeliver", "999")
    assert code == 1 and "no delivery #999" in out


def test_back_office_lists_and_redelivers(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.webkit import csrf, sign_in, web_app

    records(ctx).create("account", {"name": "Acme"})
    app = web_app(ctx)
    client = app.test_client()
    sign_in(client)
    page = client.get("/admin/system/webhooks/")
    assert page.status_code == 200
    assert "erp" in page.text and "account.created" in page.text and "Pending" in page.text
    row = deliveries(ctx)[0]
    detail = client.get(f"/admin/system/webhooks/details/?id={row['id']}")
    assert detail.status_code == 200 and "evt_" in detail.text
    with receiver() as rx:
        monkeypatch.setenv("TEST_LOG_URL", rx.url)
        ctx.queue  # noqa: B018  (immediate: the action's enqueue delivers at once)
        resp = client.post("/admin/system/webhooks/action/", data={
            "action": "redeliver", "rowid": [str(row["id"])], "csrf_token": csrf(page.text)})
        assert resp.status_code == 302
        assert len(rx.requests) == 1
    assert deliveries(ctx)[0]["status"] == "delivered"
    rep = app.test_client()
    sign_in(rep, "rep")
    assert client.get("/admin/system/webhooks/").status_code == 200
    assert rep.get("/admin/system/webhooks/").status_code in (302, 403)
