"""Merging in the shipped default pack: every record pointing at the merged account or
contact moves, whatever its entity (found from the config: no live record of any entity still
points at a loser), including the loser account's contacts with their own activities (the
second level stays with them), and the sales manager's default `merge` grant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.context import Context
from app.dedupe import find, merge
from app.dedupe.plan import links_to
from app.records import Records
from tests.mergekit import actor, current, default_pack_deployment, records


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = default_pack_deployment(tmp_path, database_url)
    yield c
    c.dispose()


def pointing_at(rs: Records, entity: str, record_id: int) -> dict[str, int]:
    """entity.field -> live records of any entity whose link points at the record."""
    out: dict[str, int] = {}
    with rs.engine.connect() as conn:
        for link in links_to(rs, entity):
            table = rs.table(link.entity.name)
            col = table.c[rs.spec(link.entity.name).columns[link.field.name]]
            n = conn.execute(sa.select(sa.func.count()).select_from(table).where(
                col == record_id, table.c.deleted_at.is_(None))).scalar_one()
            if n:
                out[f"{link.entity.name}.{link.field.name}"] = int(n)
    return out


def test_accounts_and_contacts_take_everything_along(ctx: Context) -> None:
    rs = records(ctx)
    manager = actor(ctx, "manager")
    rep = actor(ctx, "rep")
    keep = rs.create("account", {"name": "Acme"}, rep)
    lose = rs.create("account", {"name": "ACME Co., Ltd.", "phone": "010-12345678"}, rep)
    branch = rs.create("account", {"name": "Acme Shanghai", "parent": lose["id"]}, rep)
    li = rs.create("contact", {"last_name": "Li", "account": lose["id"],
                               "email": "li@acme.cn"}, rep)
    call = rs.create("activity", {"subject": "Call Li", "related_contact": li["id"],
                                  "related_account": lose["id"]}, rep)
    deal = rs.create("opportunity", {"name": "ERP", "account": lose["id"],
                                     "primary_contact": li["id"], "amount": 1000}, rep)
    ticket = rs.create("case", {"subject": "Broken", "account": lose["id"]}, rep)
    quote = rs.create("quote", {"name": "Q1", "account": lose["id"],
                                "opportunity": deal["id"]}, rep)
    note = rs.create("note", {"title": "Met them", "related_account": lose["id"]}, rep)
    before = pointing_at(rs, "account", lose["id"])
    assert {"account.parent", "contact.account", "activity.related_account",
            "opportunity.account", "case.account", "quote.account",
            "note.related_account"} <= set(before)

    assert [set(g.ids) for g in find(rs, manager, "account", rule="account_name")] \
        == [{keep["id"], lose["id"]}]
    done = merge(rs, manager, "account", keep["id"], [lose["id"]],
                 choices={"phone": lose["id"]})
    assert pointing_at(rs, "account", lose["id"]) == {}
    assert pointing_at(rs, "account", keep["id"]) == before
    assert sum(done.moved.values()) == sum(before.values())
    assert current(ctx, "account", keep["id"])["phone"] == "010-12345678"
    for entity, rid, name in (("account", branch["id"], "parent"),
                              ("contact", li["id"], "account"),
                              ("opportunity", deal["id"], "account"),
                              ("case", ticket["id"], "account"),
                              ("quote", quote["id"], "account"),
                              ("note", note["id"], "related_account")):
        assert current(ctx, entity, rid)[name] == keep["id"], entity
    # the second level: Li's activity stays Li's, and Li is now the survivor's contact
    assert current(ctx, "activity", call["id"])["related_contact"] == li["id"]
    assert current(ctx, "account", keep["id"])["won_revenue"] is not None
    assert current(ctx, "account", keep["id"])["open_opportunities"] == 1
    assert current(ctx, "account", lose["id"])["deleted_at"] is not None

    # contacts: the duplicate of Li (same email) takes its related records along too
    twin = rs.create("contact", {"last_name": "Li", "email": "LI@acme.cn",
                                 "mobile": "13800138000"}, rep)
    campaign = rs.create("campaign", {"name": "Expo"})
    member = rs.create("campaign_member", {"campaign": campaign["id"], "contact": twin["id"]})
    chat = rs.create("activity", {"subject": "WeChat", "related_contact": twin["id"]}, rep)
    merge(rs, manager, "contact", li["id"], [twin["id"]])
    assert pointing_at(rs, "contact", twin["id"]) == {}
    assert current(ctx, "campaign_member", member["id"])["contact"] == li["id"]
    assert current(ctx, "activity", chat["id"])["related_contact"] == li["id"]
    assert current(ctx, "contact", li["id"])["mobile"] == "13800138000"
