"""Converting a lead through the records service: what is created and linked, all or nothing,
matching an existing account, permissions, `when`, and a lead converted twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.access.shares import share
from app.context import Context
from app.records import SYSTEM, Forbidden, NotFound, ValidationFailed
from app.workflow.convert import (
    ConditionFails,
    NotConvertible,
    convert,
    plan_conversion,
)
from tests.stageskit import actor, records, stage_deployment
from tests.webkit import user_id

NAME = "lead_to_customer"


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = stage_deployment(tmp_path, database_url)
    try:
        yield c
    finally:
        c.dispose()


def lead(ctx: Context, who: Any = SYSTEM, **values: Any) -> int:
    body = {"company": "Acme Ltd", "first_name": "Li", "last_name": "Wei",
            "email": "li.wei@example.com", "status": "qualified", "source": "web",
            "industry": "manufacturing", "employees": 50, "address_city": "Shanghai", **values}
    return int(records(ctx).create("lead", body, who)["id"])


def count(ctx: Context, entity: str) -> int:
    table = records(ctx).table(entity)
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_convert_creates_links_and_marks_the_lead(ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    lid = lead(ctx, rep)
    ids = convert(records(ctx), NAME, lid, rep)
    rs = records(ctx)
    acc = rs.get("account", ids["account"])
    assert (acc["name"], acc["industry"], acc["employees"], acc["billing_city"]) == (
        "Acme Ltd", "manufacturing", 50, "Shanghai")
    assert acc["owner_id"] == rep.id
    con = rs.get("contact", ids["contact"])
    assert (con["last_name"], con["email"], con["account"]) == (
        "Wei", "li.wei@example.com", ids["account"])
    opp = rs.get("opportunity", ids["opportunity"])
    assert (opp["name"], opp["account"], opp["primary_contact"], opp["lead_source"]) == (
        "Acme Ltd", ids["account"], ids["contact"], "web")
    assert opp["stage"] in ("prospecting", "qualification")
    assert opp["owner_id"] == rep.id
    done = rs.get("lead", lid)
    assert (done["status"], done["converted"], done["converted_account"],
            done["converted_contact"], done["converted_opportunity"]) == (
        "converted", True, ids["account"], ids["contact"], ids["opportunity"])
    assert done["converted_at"] is not None


def test_opportunity_may_be_left_out_and_renamed(ctx: Context) -> None:
    rs = records(ctx)
    ids = convert(rs, NAME, lead(ctx), SYSTEM, include={"opportunity": False})
    assert ids["opportunity"] is None
    assert count(ctx, "opportunity") == 0
    assert rs.get("lead", lead(ctx, company="Beta"))["converted"] is False
    ids = convert(rs, NAME, lead(ctx, company="Gamma"), SYSTEM,
                  overrides={"opportunity": {"name": "Gamma: first order"}})
    assert rs.get("opportunity", ids["opportunity"])["name"] == "Gamma: first order"


def test_required_targets_cannot_be_left_out(ctx: Context) -> None:
    with pytest.raises(ValidationFailed) as info:
        convert(records(ctx), NAME, lead(ctx), SYSTEM, include={"contact": False})
    assert "include" in info.value.errors
    with pytest.raises(ValidationFailed):
        convert(records(ctx), NAME, lead(ctx), SYSTEM, overrides={"nothing": {}})


def test_failing_contact_rolls_back_the_account(ctx: Context) -> None:
    lid = lead(ctx, last_name=None)  # a contact needs a last name
    with pytest.raises(ValidationFailed) as info:
        convert(records(ctx), NAME, lid, SYSTEM)
    assert "contact.last_name" in info.value.errors
    assert info.value.message.startswith("Contact: ")
    assert count(ctx, "account") == 0
    assert records(ctx).get("lead", lid)["status"] == "qualified"


def test_failing_override_rolls_everything_back(ctx: Context) -> None:
    lid = lead(ctx)
    with pytest.raises(ValidationFailed) as info:
        convert(records(ctx), NAME, lid, SYSTEM, overrides={"opportunity": {"name": ""}})
    assert "opportunity.name" in info.value.errors
    assert (count(ctx, "account"), count(ctx, "contact")) == (0, 0)
    assert records(ctx).get("lead", lid)["converted"] is False


def test_match_reuses_an_existing_account(ctx: Context) -> None:
    rs = records(ctx)
    existing = int(rs.create("account", {"name": "Acme Ltd", "employees": 7})["id"])
    plan = plan_conversion(rs, NAME, lead(ctx), SYSTEM)
    assert plan.targets[0].matched == existing
    assert plan.targets[0].matched_title == "Acme Ltd"
    assert not plan.problems
    ids = convert(rs, NAME, lead(ctx), SYSTEM)
    assert ids["account"] == existing
    assert count(ctx, "account") == 1
    assert rs.get("account", existing)["employees"] == 7  # matched, not changed
    assert rs.get("contact", ids["contact"])["account"] == existing


def test_a_rep_who_may_not_edit_the_lead_is_refused(ctx: Context) -> None:
    rep, rep2 = actor(ctx, "rep", "sales_rep"), actor(ctx, "rep2", "sales_rep")
    lid = lead(ctx, rep)
    share(records(ctx), "lead", lid, rep, user_id=user_id(ctx, "rep2"), access="read")
    with pytest.raises(Forbidden):
        convert(records(ctx), NAME, lid, rep2)
    assert count(ctx, "account") == 0
    plan = plan_conversion(records(ctx), NAME, lid, rep2)
    assert any("may not edit" in p for p in plan.problems)
    other = lead(ctx, rep, company="Hidden")
    with pytest.raises(NotFound):
        convert(records(ctx), NAME, other, rep2)


def test_a_target_the_user_may_not_create_is_refused_by_name(ctx: Context) -> None:
    marketer = actor(ctx, "rep", "marketing")  # may edit leads, may not create accounts
    lid = lead(ctx, marketer)
    with pytest.raises(Forbidden) as info:
        convert(records(ctx), NAME, lid, marketer)
    assert info.value.message == "Account: You may not create Accounts."
    assert count(ctx, "account") == 0
    assert records(ctx).get("lead", lid)["converted"] is False
    plan = plan_conversion(records(ctx), NAME, lid, marketer)
    assert "You may not create Accounts." in plan.problems


def test_a_converted_lead_is_refused(ctx: Context) -> None:
    lid = lead(ctx)
    convert(records(ctx), NAME, lid, SYSTEM)
    with pytest.raises(NotConvertible):
        convert(records(ctx), NAME, lid, SYSTEM)
    assert count(ctx, "account") == 1
    assert plan_conversion(records(ctx), NAME, lid, SYSTEM).problems


def test_when_must_hold(ctx: Context) -> None:
    lid = lead(ctx, status="working")
    with pytest.raises(ConditionFails) as info:
        convert(records(ctx), NAME, lid, SYSTEM)
    assert info.value.status == 422
    assert count(ctx, "account") == 0


def test_unknown_conversion_or_entity(ctx: Context) -> None:
    with pytest.raises(NotFound):
        convert(records(ctx), "nothing", lead(ctx), SYSTEM)
    with pytest.raises(NotFound):
        convert(records(ctx), NAME, lead(ctx), SYSTEM, entity="contact")
