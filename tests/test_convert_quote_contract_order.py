"""Quote -> contract -> order through the records service (workflows/contracts.yaml): numbers
and lines carried over in order, totals by roll-up, audit, the source linked and kept, refusal
when the quote is not accepted or was converted, and nothing half saved when a line is refused.
The tests share one deployment (each makes its own quotes); overlays get one of their own."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.context import Context
from app.model.system import audit
from app.records import SYSTEM, Forbidden, NotFound, ValidationFailed
from app.workflow.convert import (
    ConditionFails,
    NotConvertible,
    convert,
    plan_conversion,
    run_conversion,
)
from tests.convertkit import (
    TO_CONTRACT,
    TO_ORDER,
    accepted_quote,
    contract_ctx,
    contract_deployment,
    count,
    module_database_url,
    signed,
    uses_database,
)
from tests.stageskit import actor, records

pytestmark = uses_database()
__all__ = ["contract_ctx", "module_database_url"]


@pytest.fixture
def ctx(contract_ctx: Context) -> Context:
    return contract_ctx


def lines_of(ctx: Context, entity: str, link: str, parent: int) -> list[dict[str, Any]]:
    rs = records(ctx)
    table = rs.table(entity)
    with ctx.engine.connect() as conn:
        rows = conn.execute(rs.full_select(entity).where(
            table.c[f"{link}_id"] == parent, table.c.deleted_at.is_(None))
            .order_by(table.c.sort_order, table.c.id)).all()
    return [rs.to_record(r) for r in rows]


def creates_audited(ctx: Context, entity: str, ids: list[int]) -> list[Any]:
    with ctx.engine.connect() as conn:
        return list(conn.execute(sa.select(audit.c.record_id, audit.c.user_id).where(
            audit.c.entity == entity, audit.c.action == "create",
            audit.c.record_id.in_(ids)).order_by(audit.c.record_id)).all())


def audited(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(audit)).scalar_one())


def serial(number: str) -> int:
    """The counter of an autonumber (`CON-2030-0007` -> 7)."""
    found = re.fullmatch(r"[A-Z]+-\d{4}-(\d{4})", number)
    assert found, number
    return int(found.group(1))


def test_an_accepted_quote_becomes_a_contract_with_its_lines(ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    qid = accepted_quote(ctx, rep)
    done = run_conversion(records(ctx), TO_CONTRACT, qid, rep)
    cid = done.ids["contract"]
    assert cid is not None and done.lines == {"contract": {"contract_line": 3}}
    rs = records(ctx)
    quote, contract = rs.get("quote", qid), rs.get("contract", cid)
    assert contract["number"].startswith("CON-")
    assert (contract["name"], contract["account"], contract["quote"], contract["quote_number"],
            contract["currency"], contract["discount"], contract["terms"]) == (
        "Acme rollout", quote["account"], qid, quote["number"], "USD", Decimal("5"), "Net 30")
    assert (contract["status"], contract["owner_id"]) == ("draft", rep.id)
    # the lines, in the quote's order (sort_order), with the same amounts
    qlines = lines_of(ctx, "quote_line", "quote", qid)
    clines = lines_of(ctx, "contract_line", "contract", cid)
    keys = ("product", "description", "quantity", "unit_price", "line_discount", "sort_order",
            "line_total")
    assert [[ln[k] for k in keys] for ln in clines] == [[ln[k] for k in keys] for ln in qlines]
    assert [ln["description"] for ln in clines] == ["Item 3", "Item 2", "Item 1"]
    assert {ln["owner_id"] for ln in clines} == {rep.id}
    # roll-ups on the new contract are right at once
    assert contract["line_count"] == 3
    assert contract["subtotal"] == quote["subtotal"] == Decimal("7895.50")
    assert contract["total"] == quote["total"]
    # the quote stays accepted, linked to its contract (set by the system)
    assert (quote["status"], quote["converted_contract"]) == ("accepted", cid)
    # audited: the contract and each line created by the rep
    assert creates_audited(ctx, "contract", [cid]) == [(cid, rep.id)]
    assert [r.user_id for r in creates_audited(ctx, "contract_line",
                                               [ln["id"] for ln in clines])] == [rep.id] * 3
    assert rs.history("quote", qid)[0]["changes"] == {"converted_contract": [None, cid]}


def test_a_signed_contract_becomes_an_order(ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    qid = accepted_quote(ctx, rep)
    cid = convert(records(ctx), TO_CONTRACT, qid, rep)["contract"]
    assert cid is not None
    with pytest.raises(ConditionFails):  # a draft contract is not ready for an order
        convert(records(ctx), TO_ORDER, cid, rep)
    signed(ctx, cid, rep)
    oid = convert(records(ctx), TO_ORDER, cid, rep)["sales_order"]
    assert oid is not None
    rs = records(ctx)
    quote, contract, order = rs.get("quote", qid), rs.get("contract", cid), rs.get(
        "sales_order", oid)
    assert order["number"].startswith("ORD-")
    assert (order["contract"], order["contract_number"], order["quote_number"],
            order["account"], order["status"]) == (
        cid, contract["number"], quote["number"], quote["account"], "new")
    olines = lines_of(ctx, "sales_order_line", "sales_order", oid)
    assert [(ln["description"], ln["line_total"]) for ln in olines] == [
        (ln["description"], ln["line_total"])
        for ln in lines_of(ctx, "contract_line", "contract", cid)]
    assert (order["line_count"], order["subtotal"], order["total"]) == (
        3, contract["subtotal"], contract["total"])
    assert (contract["status"], contract["converted_order"]) == ("signed", oid)
    with pytest.raises(NotConvertible):
        convert(records(ctx), TO_ORDER, cid, rep)


def test_a_quote_not_accepted_is_refused(ctx: Context) -> None:
    qid = accepted_quote(ctx, status="sent")
    plan = plan_conversion(records(ctx), TO_CONTRACT, qid, SYSTEM)
    assert any("status == 'accepted'" in p for p in plan.problems)
    before = count(ctx, "contract"), count(ctx, "contract_line")
    with pytest.raises(ConditionFails) as info:
        convert(records(ctx), TO_CONTRACT, qid, SYSTEM)
    assert info.value.status == 422
    assert (count(ctx, "contract"), count(ctx, "contract_line")) == before


def test_a_second_conversion_is_refused(ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    qid = accepted_quote(ctx, rep)
    convert(records(ctx), TO_CONTRACT, qid, rep)
    before = count(ctx, "contract"), count(ctx, "contract_line")
    with pytest.raises(NotConvertible) as info:
        convert(records(ctx), TO_CONTRACT, qid, rep)
    assert info.value.status == 409 and "converted already" in info.value.message
    assert (count(ctx, "contract"), count(ctx, "contract_line")) == before
    assert any("converted already" in p
               for p in plan_conversion(records(ctx), TO_CONTRACT, qid, rep).problems)


def test_a_refused_line_leaves_nothing_half_saved(ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    rs = records(ctx)
    last = rs.get("contract", convert(rs, TO_CONTRACT, accepted_quote(ctx, rep), rep)[
        "contract"] or 0)["number"]
    qid = accepted_quote(ctx, rep)
    second = lines_of(ctx, "quote_line", "quote", qid)[1]
    gone = rs.create("product", {"name": "Discontinued", "unit_price": Decimal("1")})["id"]
    rs.update("quote_line", second["id"], {"product": gone})
    rs.delete("product", gone)  # the product of the quote's 2nd line is gone since
    before = count(ctx, "contract"), count(ctx, "contract_line"), audited(ctx)
    with pytest.raises(ValidationFailed) as info:
        convert(rs, TO_CONTRACT, qid, rep)
    assert list(info.value.errors) == ["contract.contract_line[2].product"]
    assert info.value.message.startswith("Contract: Contract line 2: Product: ")
    assert (count(ctx, "contract"), count(ctx, "contract_line"), audited(ctx)) == before
    assert rs.get("quote", qid)["converted_contract"] is None
    rs.update("quote_line", second["id"], {"product": None})  # fixed, it goes through
    cid = convert(rs, TO_CONTRACT, qid, rep)["contract"]
    assert serial(rs.get("contract", cid or 0)["number"]) == serial(last) + 1  # no gap


def test_who_may_convert(ctx: Context) -> None:
    rep, rep2 = actor(ctx, "rep", "sales_rep"), actor(ctx, "rep2", "sales_rep")
    agent = actor(ctx, "admin", "service_agent")
    qid = accepted_quote(ctx, rep)
    with pytest.raises(NotFound):  # another rep's quote is not theirs to see
        convert(records(ctx), TO_CONTRACT, qid, rep2)
    with pytest.raises(Forbidden):  # service roles may not touch quotes (nor contracts)
        convert(records(ctx), TO_CONTRACT, qid, agent)
    acc = records(ctx).access(agent)
    assert not acc.allows("contract", "read") and not acc.allows("sales_order", "create")
    assert records(ctx).get("quote", qid)["converted_contract"] is None


def test_two_hundred_lines_in_one_go(ctx: Context) -> None:
    rs = records(ctx)
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    small = accepted_quote(ctx, lines=[(1, "10.00", 0)] * 2)
    big = accepted_quote(ctx, lines=[(i % 7 + 1, "12.50", i % 3) for i in range(200)])
    sa.event.listen(ctx.engine, "before_cursor_execute", seen)
    try:
        convert(rs, TO_CONTRACT, small, SYSTEM)
        few = len(statements)
        statements.clear()
        cid = convert(rs, TO_CONTRACT, big, SYSTEM)["contract"]
    finally:
        sa.event.remove(ctx.engine, "before_cursor_execute", seen)
    assert len(statements) - few < 10, "lines are copied in one go, not row by row"
    contract, quote = rs.get("contract", cid or 0), rs.get("quote", big)
    assert (contract["line_count"], contract["subtotal"], contract["total"]) == (
        200, quote["subtotal"], quote["total"])


# --- overlays: a repeatable conversion; a role that may not create the lines -------------------
AGAIN = """\
conversions:
  quote_to_contract_again:
    from: quote
    when: "status == 'accepted'"
    repeatable: true
    creates:
      contract:
        fields: {name: name, account: account, quote: "@source", quote_number: number}
        lines:
          - {from: quote_line, via: quote, to: contract_line, link: contract,
             fields: {description: description, quantity: quantity, unit_price: unit_price}}
    then:
      set: {converted_contract: "@contract"}
"""


def test_an_overlay_may_allow_a_second_conversion_or_refuse_the_lines(
        tmp_path: Path, database_url: str) -> None:
    ctx = contract_deployment(tmp_path, database_url, extra=AGAIN, schema_edits={
        "contract_line.yaml": ("permissions:\n", "permissions:\n  sales_rep: {create: false}\n")})
    try:
        rs = records(ctx)
        # a repeatable conversion runs again; the shipped one does not
        qid = accepted_quote(ctx, lines=[(1, "10.00", 0)])
        first = convert(rs, "quote_to_contract_again", qid, SYSTEM)["contract"]
        second = convert(rs, "quote_to_contract_again", qid, SYSTEM)["contract"]
        assert first != second
        assert (count(ctx, "contract"), count(ctx, "contract_line")) == (2, 2)
        assert rs.get("quote", qid)["converted_contract"] == second
        with pytest.raises(NotConvertible):
            convert(rs, TO_CONTRACT, qid, SYSTEM)
        # a rep who may not create contract lines is told so, by name, before and on trying
        rep = actor(ctx, "rep", "sales_rep")
        mine = accepted_quote(ctx, rep)
        assert "You may not create Contract lines." in plan_conversion(
            rs, TO_CONTRACT, mine, rep).problems
        with pytest.raises(Forbidden) as info:
            convert(rs, TO_CONTRACT, mine, rep)
        assert info.value.message == "Contract: You may not create Contract lines."
        assert count(ctx, "contract") == 2
    finally:
        ctx.dispose()
