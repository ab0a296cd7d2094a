"""Access control in the records service: scopes (own, team, subordinates, all), hidden and
read-only fields, sharing rules and manual shares, on reads (get, lists, search, related
lists) and writes (create, update, delete, restore, lookups)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.access.shares import share, shares_of, unshare
from app.model.access import user_teams
from app.records import Records
from app.records.change import SYSTEM, Actor
from app.records.errors import Forbidden, NotFound, ValidationFailed
from app.records.query import ListQuery, QueryError, run
from app.records.related import related_lists
from app.records.search import search
from tests.factories import make_user, service, write_schema

ACCESS = {"access": {
    "roles": {
        "sales_manager": {"default": {"create": True, "read": "subordinates",
                                      "edit": "subordinates", "delete": "subordinates"}},
        "sales_rep": {"reports_to": "sales_manager",
                      "default": {"create": True, "read": "own", "edit": "own",
                                  "delete": "own"}},
        "service_agent": {"default": {"read": "team", "edit": "own"}},
        "marketing": {"default": {"read": "own", "edit": "own"}},
    },
    "teams": {"east": {}, "west": {}},
    "sharing": {"big_deals": {"entity": "deal", "when": "amount >= 1000",
                              "roles": ["marketing"], "access": "read"},
                "vip_accounts_deals": {"entity": "deal", "via": "account", "when": "vip",
                                       "teams": ["west"], "access": "edit"}},
}}


def pack(folder: Path) -> Path:
    write_schema(folder, "account", {"entity": "account", "title": "name", "fields": {
        "name": {"type": "string", "required": True},
        "vip": {"type": "boolean", "default": False}},
        "permissions": {"sales_rep": {"read": "all"}, "marketing": {"read": "all"}}})
    write_schema(folder, "deal", {"entity": "deal", "title": "name", "fields": {
        "name": {"type": "string", "required": True},
        "account": {"type": "lookup", "to": "account"},
        "amount": {"type": "currency"},
        "margin": {"type": "percent"},
        "margin_amount": {"type": "formula", "expr": "amount * margin / 100",
                          "result": "currency"},
        "probability": {"type": "percent"}},
        "permissions": {"sales_rep": {"hidden": ["margin"], "read_only": ["probability"]},
                        "marketing": {"hidden": ["margin"]}}})
    write_schema(folder, "_access", ACCESS)
    return folder


@pytest.fixture
def world(engine: sa.Engine, tmp_path: Path) -> dict[str, Any]:
    rec: Records = service(engine, pack(tmp_path / "schemas"))
    people = {
        "boss": make_user(engine, "boss", ("sales_manager",)),
        "rep": make_user(engine, "rep", ("sales_rep",)),
        "rep2": make_user(engine, "rep2", ("sales_rep",)),
        "agent": make_user(engine, "agent", ("service_agent",)),
        "mate": make_user(engine, "mate", ("service_agent",)),
        "mkt": make_user(engine, "mkt", ("marketing",)),
    }
    with engine.begin() as conn:
        conn.execute(sa.insert(user_teams), [
            {"user_id": people["agent"].id, "team": "east"},
            {"user_id": people["mate"].id, "team": "east"},
            {"user_id": people["mkt"].id, "team": "west"}])
    acme = rec.create("account", {"name": "Acme", "vip": True})["id"]
    plain = rec.create("account", {"name": "Plain"})["id"]
    deals = {}
    for who, amount, account in (("rep", 10, plain), ("rep2", 2000, plain),
                                 ("mate", 5, acme), ("boss", 1, plain)):
        deals[who] = rec.create("deal", {"name": f"{who} deal", "amount": amount,
                                         "margin": 30, "account": account,
                                         "owner": people[who].id})["id"]
    return {"rec": rec, "people": people, "deals": deals, "acme": acme, "plain": plain}


def as_(world: dict[str, Any], who: str) -> Records:
    base: Records = world["rec"]
    return Records(base.engine, base.models, actor=world["people"][who])


def visible(world: dict[str, Any], who: str) -> set[str]:
    page = run(as_(world, who), "deal", ListQuery(page_size=100))
    return {r["name"] for r in page.rows}


def test_scopes_limit_lists(world: dict[str, Any]) -> None:
    assert visible(world, "rep") == {"rep deal"}
    # subordinates: own, plus records of users whose role reports to sales_manager
    assert visible(world, "boss") == {"boss deal", "rep deal", "rep2 deal"}
    # team: agent and mate share the east team
    assert visible(world, "agent") == {"mate deal"}
    # sharing rules: big deals to marketing, deals of VIP accounts to the west team
    assert visible(world, "mkt") == {"rep2 deal", "mate deal"}


def test_get_outside_scope_is_not_found(world: dict[str, Any]) -> None:
    rep = as_(world, "rep")
    assert rep.get("deal", world["deals"]["rep"])["name"] == "rep deal"
    with pytest.raises(NotFound):
        rep.get("deal", world["deals"]["rep2"])


def test_entity_without_read_is_forbidden(world: dict[str, Any], engine: sa.Engine) -> None:
    nobody = Records(engine, world["rec"].models,
                     actor=Actor(world["people"]["rep"].id, "x", ("sales_director",)))
    with pytest.raises(Forbidden):
        run(nobody, "deal", ListQuery())
    with pytest.raises(Forbidden):
        nobody.get("deal", world["deals"]["rep"])


def test_hidden_fields_are_absent_and_not_queryable(world: dict[str, Any]) -> None:
    rep = as_(world, "rep")
    record = rep.get("deal", world["deals"]["rep"])
    assert "margin" not in record and "margin_amount" not in record  # formula on margin
    assert record["amount"] == 10
    row = run(rep, "deal", ListQuery()).rows[0]
    assert "margin" not in row
    with pytest.raises(QueryError):
        run(rep, "deal", ListQuery(sort="margin"))
    with pytest.raises(QueryError):
        run(rep, "deal", ListQuery(columns=("name", "margin")))
    assert "margin" not in rep.visible_entity("deal").fields
    assert "margin" in world["rec"].get("deal", world["deals"]["rep"])


def test_hidden_field_cannot_be_written(world: dict[str, Any]) -> None:
    rep = world["people"]["rep"]
    with pytest.raises(ValidationFailed) as err:
        world["rec"].update("deal", world["deals"]["rep"], {"margin": 99}, rep)
    assert "margin" in err.value.errors
    with pytest.raises(ValidationFailed):
        world["rec"].create("deal", {"name": "x", "margin": 1}, rep)
    assert world["rec"].get("deal", world["deals"]["rep"])["margin"] == 30


def test_read_only_field_keeps_its_value(world: dict[str, Any]) -> None:
    rep = world["people"]["rep"]
    rec = world["rec"]
    with pytest.raises(ValidationFailed) as err:
        rec.update("deal", world["deals"]["rep"], {"probability": 50}, rep)
    assert "read-only" in err.value.errors["probability"][0]
    # sending back the value it has is fine (API clients send whole records)
    saved = rec.update("deal", world["deals"]["rep"], {"probability": None, "name": "n"}, rep)
    assert saved["name"] == "n"


def test_edit_and_delete_need_scope(world: dict[str, Any]) -> None:
    rec = world["rec"]
    rep, boss, mkt = (world["people"][k] for k in ("rep", "boss", "mkt"))
    with pytest.raises(NotFound):
        rec.update("deal", world["deals"]["rep2"], {"name": "mine now"}, rep)
    assert rec.update("deal", world["deals"]["rep"], {"name": "boss was here"},
                      boss)["name"] == "boss was here"
    # marketing may read a big deal through the rule, but not change it
    with pytest.raises(Forbidden):
        rec.update("deal", world["deals"]["rep2"], {"name": "x"}, mkt)
    with pytest.raises(Forbidden):
        rec.delete("deal", world["deals"]["rep2"], mkt)
    rec.delete("deal", world["deals"]["rep"], rep)
    with pytest.raises(NotFound):
        rec.restore("deal", world["deals"]["rep"], world["people"]["rep2"])
    rec.restore("deal", world["deals"]["rep"], rep)


def test_edit_sharing_rule_lets_a_team_edit(world: dict[str, Any]) -> None:
    rec = world["rec"]
    # mkt is in team west; vip_accounts_deals shares deals of VIP accounts for edit
    saved = rec.update("deal", world["deals"]["mate"], {"name": "edited by west"},
                       world["people"]["mkt"])
    assert saved["name"] == "edited by west"


def test_create_needs_the_flag(world: dict[str, Any]) -> None:
    with pytest.raises(Forbidden):
        world["rec"].create("deal", {"name": "x"}, world["people"]["mkt"])


def test_lookup_only_to_a_readable_record(world: dict[str, Any]) -> None:
    rec = world["rec"]
    # mate (service_agent: team read on account) sees no account of this pack
    with pytest.raises(ValidationFailed) as err:
        rec.update("deal", world["deals"]["mate"], {"account": world["plain"]},
                   world["people"]["mate"])
    assert "account" in err.value.errors


def test_manual_share_with_user_and_team(world: dict[str, Any]) -> None:
    rec = world["rec"]
    rep, rep2 = world["people"]["rep"], world["people"]["rep2"]
    deal = world["deals"]["rep"]
    with pytest.raises(NotFound):
        share(rec, "deal", deal, rep2, user_id=rep2.id)  # may not even see it
    sid = share(rec, "deal", deal, rep, user_id=rep2.id, access="read")
    assert as_(world, "rep2").get("deal", deal)["name"] == "rep deal"
    with pytest.raises(Forbidden):
        rec.update("deal", deal, {"name": "x"}, rep2)
    share(rec, "deal", deal, rep, user_id=rep2.id, access="edit")  # upgrade, same share
    assert [s.access for s in shares_of(rec, "deal", deal)] == ["edit"]
    rec.update("deal", deal, {"name": "by rep2"}, rep2)
    unshare(rec, "deal", deal, sid, rep)
    with pytest.raises(NotFound):
        as_(world, "rep2").get("deal", deal)
    share(rec, "deal", deal, rep, team="east")
    assert "by rep2" in visible(world, "agent")
    with pytest.raises(ValidationFailed):
        share(rec, "deal", deal, rep, team="nowhere")


def test_search_and_related_lists_obey(world: dict[str, Any]) -> None:
    rep = as_(world, "rep")
    found = {h.title for hits in search(rep, "deal") for h in hits.hits}
    assert found == {"rep deal"}
    lists = related_lists(rep, "account", world["plain"])
    names = {r["name"] for rl in lists for r in rl.rows}
    assert names == {"rep deal"}
    assert all("margin" not in r for rl in lists for r in rl.rows)


def test_system_reads_everything(world: dict[str, Any]) -> None:
    page = run(world["rec"], "deal", ListQuery(page_size=100))
    assert len(page.rows) == 4 and SYSTEM.is_system
