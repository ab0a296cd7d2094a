"""Webhook deliveries end to end: records service -> outbox -> immediate queue -> a local
HTTP receiver; signature, headers, payload, retries, final failure, no redirects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.events import outbox, signing
from tests.webhookkit import deliveries, events_deployment, receiver, records

HOOK = """
webhooks:
  erp:
    url_env: TEST_ERP_URL
    secret_env: TEST_ERP_SECRET
    events: [account.created, account.updated]
"""


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("TEST_ERP_SECRET", "s3cret")
    monkeypatch.setattr(outbox, "RETRY_BASE", 0.0)  # immediate queue: retries run at once
    c = events_deployment(tmp_path, database_url, HOOK)
    c.queue  # noqa: B018  (the process's queue: after commit, deliveries go to it)
    try:
        yield c
    finally:
        c.dispose()


def test_delivery_is_signed_and_carries_the_event(ctx: Context,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver() as rx:
        monkeypatch.setenv("TEST_ERP_URL", rx.url + "/hooks/crm")
        rec = records(ctx).create("account", {"name": "Acme", "employees": 12})
    assert len(rx.requests) == 1
    got = rx.requests[0]
    assert got.path == "/hooks/crm"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-CRM-Event"] == "account.created"
    row = deliveries(ctx)[0]
    assert got.headers["X-CRM-Delivery"] == str(row["id"])
    assert signing.verify("s3cret", got.body, got.headers["X-CRM-Signature"])
    assert not signing.verify("other", got.body, got.headers["X-CRM-Signature"])
    body = got.json
    assert set(body) == {"id", "event", "entity", "record_id", "occurred_at", "actor", "data",
                         "changes"}
    assert body["event"] == "account.created" and body["entity"] == "account"
    assert body["record_id"] == rec["id"] and body["data"]["name"] == "Acme"
    assert body["actor"] == {"id": None, "username": "system"}
    assert row["status"] == "delivered" and row["attempts"] == 1
    assert row["last_status_code"] == 200


def test_update_sends_the_changes(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver() as rx:
        monkeypatch.setenv("TEST_ERP_URL", rx.url)
        service = records(ctx)
        rec = service.create("account", {"name": "Acme", "employees": 12})
        service.update("account", rec["id"], {"employees": 40})
    assert [r.headers["X-CRM-Event"] for r in rx.requests] == ["account.created",
                                                               "account.updated"]
    assert rx.requests[1].json["changes"] == {"employees": [12, 40]}


def test_a_500_is_retried_until_it_succeeds(ctx: Context,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver([500, 503, 200]) as rx:
        monkeypatch.setenv("TEST_ERP_URL", rx.url)
        records(ctx).create("account", {"name": "Acme"})
    assert len(rx.requests) == 3
    assert len({r.json["id"] for r in rx.requests}) == 1  # the same event each time
    row = deliveries(ctx)[0]
    assert row["status"] == "delivered" and row["attempts"] == 3


def test_final_failure_after_max_attempts(ctx: Context,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver([500]) as rx:
        monkeypatch.setenv("TEST_ERP_URL", rx.url)
        records(ctx).create("account", {"name": "Acme"})
    assert len(rx.requests) == 3  # webhook_max_attempts: 3
    row = deliveries(ctx)[0]
    assert row["status"] == "failed" and row["attempts"] == 3
    assert row["last_status_code"] == 500 and "500" in row["last_error"]


def test_a_redirect_is_not_followed(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver([302]) as rx:
        monkeypatch.setenv("TEST_ERP_URL", rx.url)
        records(ctx).create("account", {"name": "Acme"})
    assert all(r.path == "/" for r in rx.requests)
    row = deliveries(ctx)[0]
    assert row["status"] == "failed" and row["last_status_code"] == 302


def test_missing_secret_sends_nothing(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_ERP_SECRET")
    with receiver() as rx:
        monkeypatch.setenv("TEST_ERP_URL", rx.url)
        records(ctx).create("account", {"name": "Acme"})
    assert rx.requests == []
    row = deliveries(ctx)[0]
    assert row["status"] == "failed" and "TEST_ERP_SECRET" in row["last_error"]


def test_backoff_doubles() -> None:
    assert [outbox.backoff(n) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
    assert outbox.backoff(40) == outbox.MAX_DELAY


def test_only_a_permanent_answer_gives_up_at_once(ctx: Context,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from app.events import http, tasks

    def says_gone(url: str, body: bytes, headers: dict[str, str], timeout: float
                  ) -> http.Answer:  # a receiver's error text must not end the retries
        return http.Answer(500, "HTTP 500: webhook 'erp' is no longer declared")

    monkeypatch.setattr(http, "post", says_gone)
    monkeypatch.setenv("TEST_ERP_URL", "http://127.0.0.1:9/")
    records(ctx).create("account", {"name": "Acme"})
    row = deliveries(ctx)[0]
    assert row["status"] == "failed" and row["attempts"] == 3  # webhook_max_attempts: 3
    gone = outbox.new_ping(ctx.engine, "not_declared")
    answer = tasks.deliver(ctx, gone)
    assert answer is not None and answer.permanent
    row = deliveries(ctx)[-1]
    assert row["status"] == "failed" and row["attempts"] == 1
