"""Automations: `call_webhook` runs only when `when` holds, with the rendered body, and a
failing action is retried like a delivery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.events import outbox, signing
from tests.webhookkit import events_deployment, receiver, records, runs

AUTOMATIONS = """
automations:
  big_finance:
    entity: account
    events: [created, transition]
    when: "industry == 'finance' and employees >= 100"
    actions:
      - call_webhook: {url_env: TEST_AUTO_URL, secret_env: TEST_AUTO_SECRET,
                       body: "{name} has {employees} people"}
      - call_webhook: {url_env: TEST_AUTO_URL}
"""


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("TEST_AUTO_SECRET", "auto-secret")
    monkeypatch.setattr(outbox, "RETRY_BASE", 0.0)
    c = events_deployment(tmp_path, database_url, AUTOMATIONS)
    c.queue  # noqa: B018
    try:
        yield c
    finally:
        c.dispose()


def test_runs_only_when_the_condition_holds(ctx: Context,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver() as rx:
        monkeypatch.setenv("TEST_AUTO_URL", rx.url)
        service = records(ctx)
        service.create("account", {"name": "Small", "industry": "finance", "employees": 5})
        service.create("account", {"name": "Shop", "industry": "retail", "employees": 500})
        assert rx.requests == [] and runs(ctx) == []
        big = service.create("account", {"name": "Bank", "industry": "finance",
                                         "employees": 900})
    # a create is one `created` event (no `transition` for its picklists): one run, two steps
    assert [r["event"] for r in runs(ctx)] == ["account.created"]
    assert all(r["status"] == "delivered" and r["steps_done"] == 2 for r in runs(ctx))
    assert len(rx.requests) == 2
    texts = [r for r in rx.requests if r.headers["Content-Type"].startswith("text/plain")]
    assert texts[0].body.decode() == "Bank has 900 people"
    assert signing.verify("auto-secret", texts[0].body, texts[0].headers["X-CRM-Signature"])
    as_json = [r.json for r in rx.requests if r.headers["Content-Type"] == "application/json"]
    assert as_json[0]["record"]["id"] == big["id"] and as_json[0]["entity"] == "account"
    unsigned = next(r for r in rx.requests if r.body.startswith(b"{"))
    assert "X-CRM-Signature" not in unsigned.headers


def test_an_update_that_does_not_match_runs_nothing(ctx: Context,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver() as rx:
        monkeypatch.setenv("TEST_AUTO_URL", rx.url)
        service = records(ctx)
        acc = service.create("account", {"name": "Bank", "industry": "tech", "employees": 900})
        service.update("account", acc["id"], {"employees": 1000})  # no transition: no event
        assert runs(ctx) == []
        service.update("account", acc["id"], {"industry": "finance"})
    assert [r["event"] for r in runs(ctx)] == ["account.transition"]
    assert len(rx.requests) == 2


def test_a_failing_action_is_retried_from_where_it_failed(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver([200, 500, 200]) as rx:
        monkeypatch.setenv("TEST_AUTO_URL", rx.url)
        acc = records(ctx).create("account", {"name": "Bank", "industry": "retail",
                                              "employees": 900})
        records(ctx).update("account", acc["id"], {"industry": "finance"})
    run = runs(ctx)[0]
    assert run["status"] == "delivered" and run["attempts"] == 2 and run["steps_done"] == 2
    assert len(rx.requests) == 3  # step 1 once, step 2 twice
