"""Which record events write which outbox rows: every event kind, wildcards, the field
filter, and a rollback that leaves nothing (no queue here: rows stay pending)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.records import ValidationFailed
from tests.webhookkit import deliveries, events_deployment, records

HOOKS = """
webhooks:
  everything:
    url: http://127.0.0.1:9/all
    events: ["*"]
  accounts:
    url: http://127.0.0.1:9/accounts
    events: [account.*]
    fields: [name, industry]
  transitions:
    url: http://127.0.0.1:9/stage
    events: [account.transition]
  contacts_deleted:
    url: http://127.0.0.1:9/gone
    events: [contact.deleted]
  paused:
    url: http://127.0.0.1:9/off
    events: ["*"]
    active: false
"""


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = events_deployment(tmp_path, database_url, HOOKS)
    try:
        yield c
    finally:
        c.dispose()


def _by_hook(ctx: Context) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in deliveries(ctx):
        out.setdefault(row["webhook"], []).append(row["event"])
    return out


def test_each_event_kind_and_wildcards(ctx: Context) -> None:
    service = records(ctx)
    acc = service.create("account", {"name": "Acme"})
    service.update("account", acc["id"], {"industry": "tech"})
    service.update("account", acc["id"], {"employees": 5})
    service.delete("account", acc["id"])
    service.restore("account", acc["id"])
    con = service.create("contact", {"last_name": "Li"})
    service.delete("contact", con["id"])
    hooks = _by_hook(ctx)
    account_events = ["account.created", "account.updated", "account.transition",
                      "account.updated", "account.deleted", "account.restored"]
    assert hooks["accounts"] == account_events
    assert hooks["everything"] == [*account_events, "contact.created", "contact.deleted"]
    assert hooks["transitions"] == ["account.transition"]
    assert hooks["contacts_deleted"] == ["contact.deleted"]
    assert "paused" not in hooks
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in deliveries(ctx))


def test_transition_payload_and_field_filter(ctx: Context) -> None:
    service = records(ctx)
    acc = service.create("account", {"name": "Acme", "industry": "tech", "employees": 3})
    service.update("account", acc["id"], {"industry": "retail", "employees": 4})
    rows = deliveries(ctx)
    stage = next(r for r in rows if r["webhook"] == "transitions"
                 and r["payload"]["transition"]["from"] == "tech")
    assert stage["payload"]["transition"] == {"field": "industry", "from": "tech",
                                              "to": "retail"}
    assert stage["payload"]["changes"] == {"industry": ["tech", "retail"]}
    filtered = [r for r in rows if r["webhook"] == "accounts" and r["event"] == "account.updated"]
    assert filtered[0]["payload"]["data"] == {"id": acc["id"], "name": "Acme",
                                              "industry": "retail"}
    assert filtered[0]["payload"]["changes"] == {"industry": ["tech", "retail"]}
    full = [r for r in rows if r["webhook"] == "everything" and r["event"] == "account.updated"]
    assert full[0]["payload"]["data"]["employees"] == 4
    assert full[0]["payload"]["changes"]["employees"] == [3, 4]


def test_a_refused_write_leaves_no_delivery(ctx: Context) -> None:
    service = records(ctx)
    with pytest.raises(ValidationFailed):
        service.create("account", {"name": ""})
    assert deliveries(ctx) == []


def test_a_hook_failing_after_the_outbox_rolls_it_back(ctx: Context) -> None:
    from app.plugins import hookimpl, make_plugin_manager
    from app.records import Records

    class Boom:
        @hookimpl(trylast=True)
        def crm_record_after_save(self, change: object) -> None:
            raise RuntimeError("boom")

    service = Records(ctx.engine, records(ctx).models,
                      plugins=make_plugin_manager([Boom()], entry_points=False))
    with pytest.raises(RuntimeError):
        service.create("account", {"name": "Acme"})
    assert deliveries(ctx) == []


def test_a_create_is_only_created_even_with_picklist_values(ctx: Context) -> None:
    from app.plugins import hookimpl, make_plugin_manager
    from app.records import Records

    moves: list[tuple[str, object, object]] = []

    class Watch:
        @hookimpl
        def crm_record_after_transition(self, change: object, field: str, old: object,
                                        new: object) -> None:
            moves.append((field, old, new))

    service = Records(ctx.engine, records(ctx).models,
                      plugins=make_plugin_manager([Watch()], entry_points=False))
    service.create("account", {"name": "Acme", "industry": "tech"})
    assert _by_hook(ctx) == {"everything": ["account.created"],
                             "accounts": ["account.created"]}
    assert moves == [("industry", None, "tech")]  # the records hook still fires for plugins


def test_writes_use_the_services_config_not_a_read_per_write(ctx: Context) -> None:
    import sqlalchemy as sa

    service = records(ctx)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(ctx.engine, "before_cursor_execute", seen)
    try:
        acc = service.create("account", {"name": "Acme", "industry": "tech"})
        service.update("account", acc["id"], {"industry": "retail"})
        service.write_many("account", [(None, {"name": f"a{i}"}, None) for i in range(5)])
    finally:
        sa.event.remove(ctx.engine, "before_cursor_execute", seen)
    assert statements and not [s for s in statements if "sys_config_version" in s]
    assert len(_by_hook(ctx)["everything"]) == 1 + 2 + 5
