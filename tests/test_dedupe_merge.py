"""Merging duplicates (app/dedupe/merge.py): the chosen values land on the survivor, every
record pointing at a loser moves (lookups, master-detail children, read-only links, links to
the entity itself), attachments follow, roll-ups are recomputed, the loser goes to the recycle
bin marked "merged into", and both keep an audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.context import Context
from app.dedupe import find, merge, merged_into, plan
from app.dedupe.merge import MERGE, MERGED, MERGED_INTO_KEY, MERGED_KEY
from app.model.system import attachments
from tests.mergekit import actor, current, deployment, make, records, user_id


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = deployment(tmp_path, database_url)
    yield c
    c.dispose()


def test_values_related_records_bin_and_audit(ctx: Context) -> None:
    rs = records(ctx)
    manager = actor(ctx, "manager")
    acme = make(ctx, "account", name="Acme")
    other = make(ctx, "account", name="Other")
    keep = make(ctx, "contact", "rep", last_name="Li", email="li@acme.cn", account=acme["id"])
    lose = make(ctx, "contact", "rep", last_name="Li", first_name="Lei", mobile="13800138000",
                email="lei@acme.cn", title="CTO", account=other["id"])
    boss = make(ctx, "contact", last_name="Boss", reports_to=lose["id"])
    call = make(ctx, "activity", subject="Call", related_contact=lose["id"])
    badge = make(ctx, "badge", contact=lose["id"], number="B-1")
    lead = rs.create("lead", {"company": "Acme", "converted_contact": lose["id"]})
    with ctx.engine.begin() as conn:
        conn.execute(attachments.insert().values(
            entity="contact", record_id=lose["id"], name="card.png", content_type="image/png",
            size=3, key="0" * 64, uploaded_by_id=None, uploaded_at=sa.func.now()))

    p = plan(rs, manager, "contact", keep["id"], [lose["id"]])
    assert p.defaults["email"] == keep["id"] and p.defaults["mobile"] == lose["id"]
    assert {(link.entity.name, link.field.name): n for link, n in p.moves} == {
        ("contact", "reports_to"): 1, ("activity", "related_contact"): 1,
        ("badge", "contact"): 1, ("lead", "converted_contact"): 1}
    assert p.attachments == 1

    done = merge(rs, manager, "contact", keep["id"], [lose["id"]],
                 choices={"email": lose["id"], "account": lose["id"]},
                 versions={keep["id"]: keep["version"], lose["id"]: lose["version"]})

    survivor = current(ctx, "contact", keep["id"])
    # chosen values, defaults for the survivor's empty fields, its own values otherwise
    assert (survivor["email"], survivor["account"], survivor["mobile"], survivor["title"],
            survivor["first_name"], survivor["last_name"]) == (
        "lei@acme.cn", other["id"], "13800138000", "CTO", "Lei", "Li")
    assert dict(done.taken) == {"email": lose["id"], "account": lose["id"],
                                "mobile": lose["id"], "title": lose["id"],
                                "first_name": lose["id"]}
    assert dict(done.moved) == {"contact": 1, "activity": 1, "badge": 1, "lead": 1}
    assert done.attachments == 1
    assert current(ctx, "contact", boss["id"])["reports_to"] == keep["id"]
    assert current(ctx, "activity", call["id"])["related_contact"] == keep["id"]
    assert current(ctx, "badge", badge["id"])["contact"] == keep["id"]
    assert current(ctx, "lead", lead["id"])["converted_contact"] == keep["id"]
    with ctx.engine.connect() as conn:
        assert conn.execute(sa.select(attachments.c.record_id)).scalar_one() == keep["id"]
    # roll-ups follow: Acme lost its contact, Other has the survivor
    assert current(ctx, "account", acme["id"])["contacts"] == 0
    assert current(ctx, "account", other["id"])["contacts"] == 1

    gone = current(ctx, "contact", lose["id"])
    assert gone["deleted_at"] is not None
    assert [r["id"] for r in rs.recycle_bin("contact")] == [lose["id"]]
    with ctx.engine.connect() as conn:
        assert merged_into(conn, "contact", [gone]) == {lose["id"]: {"id": keep["id"],
                                                                     "title": "Li"}}

    # audit: the survivor's merge entry lists the merged record and the values taken
    entry = rs.history("contact", keep["id"])[0]
    assert entry["action"] == MERGE and entry["user_id"] == user_id(ctx, "manager")
    assert entry["changes"]["email"] == ["li@acme.cn", "lei@acme.cn"]
    assert entry["changes"][MERGED_KEY][1]["records"] == [{"id": lose["id"], "title": "Li"}]
    assert entry["changes"][MERGED_KEY][1]["taken"]["email"] == lose["id"]
    # the loser keeps its trail, then the bin and the merge
    trail = [h["action"] for h in rs.history("contact", lose["id"])]
    assert trail == [MERGED, "delete", "create"]
    assert rs.history("contact", lose["id"])[0]["changes"][MERGED_INTO_KEY][1]["id"] \
        == keep["id"]
    # the moved records' audit entries name the user, read-only link included
    for entity, rid in (("activity", call["id"]), ("lead", lead["id"])):
        assert rs.history(entity, rid)[0]["user_id"] == user_id(ctx, "manager")
    assert find(rs, manager, "contact") == []


def test_owner_unique_values_and_self_links(ctx: Context) -> None:
    rs = records(ctx)
    admin = actor(ctx, "admin")
    parent = make(ctx, "account", name="Group")
    keep = make(ctx, "account", name="Acme", parent=parent["id"])
    lose = make(ctx, "account", "rep", name="ACME Ltd", code="91110000MA01", parent=keep["id"])
    child = make(ctx, "account", name="Branch", parent=lose["id"])
    # the survivor points at the loser: that link is emptied, not turned on itself
    rs.update("account", keep["id"], {"parent": lose["id"]})
    merge(rs, admin, "account", keep["id"], [lose["id"]],
          choices={"code": lose["id"], "owner": lose["id"]})
    survivor = current(ctx, "account", keep["id"])
    assert survivor["code"] == "91110000MA01"  # the unique value moved off the loser
    assert current(ctx, "account", lose["id"])["code"] is None
    assert survivor["owner_id"] == user_id(ctx, "rep")
    assert survivor["parent"] is None
    assert current(ctx, "account", child["id"])["parent"] == keep["id"]


def test_a_merge_that_changes_no_value_still_leaves_a_merge_entry(ctx: Context) -> None:
    rs = records(ctx)
    keep = make(ctx, "account", name="Acme")
    lose = make(ctx, "account", name="Acme")
    done = merge(rs, actor(ctx, "admin"), "account", keep["id"], [lose["id"]])
    assert dict(done.taken) == {} and done.survivor["version"] == keep["version"]
    entry = rs.history("account", keep["id"])[0]
    assert entry["action"] == MERGE and set(entry["changes"]) == {MERGED_KEY}


def test_several_losers_at_once(ctx: Context) -> None:
    rs = records(ctx)
    keep = make(ctx, "contact", last_name="张三")
    losers = [make(ctx, "contact", last_name="张　三", email=f"z{i}@x.cn") for i in range(3)]
    calls = [make(ctx, "activity", subject=f"c{i}", related_contact=r["id"])
             for i, r in enumerate(losers)]
    done = merge(rs, actor(ctx, "admin"), "contact", keep["id"], [r["id"] for r in losers],
                 choices={"email": losers[2]["id"]})
    assert done.survivor["email"] == "z2@x.cn"
    assert {current(ctx, "activity", c["id"])["related_contact"] for c in calls} == {keep["id"]}
    assert all(current(ctx, "contact", r["id"])["deleted_at"] for r in losers)
