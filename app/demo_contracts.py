"""Demo contracts and orders for the default pack, made from the accepted demo quotes the way the
conversions of workflows/contracts.yaml make them: name, account, contact, currency, discount and
terms carried over, the quote's (and the contract's) number copied, the lines copied in order,
and the source linked to what was made (`converted_contract`, `converted_order`).

The builders run after every other one (app/demo_values.py `build_all`), with a random source of
their own, so adding them left the other entities' demo rows as they were. The numbers copied
are the ones `app.demo.number_rows` gives the quotes and contracts of a fresh CRM (demo data is
only loaded into an empty one).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from app.demo import Ref, number_rows
from app.demo_values import Ctx, Row

#: contract statuses of the demo, by weight (a contract is mostly in force)
CONTRACT_STATUS = {"draft": 1, "pending_signature": 2, "signed": 2, "active": 6, "expired": 1,
                   "terminated": 0.5}
ORDER_STATUS = {"new": 1, "confirmed": 2, "shipped": 2, "delivered": 2, "invoiced": 4,
                "cancelled": 0.5}
#: the quote's line fields a contract (and order) line copies
LINE_FIELDS = ("product", "description", "quantity", "unit_price", "line_discount",
               "sort_order")


def _rnd(ctx: Ctx) -> random.Random:
    found: random.Random | None = ctx.__dict__.get("_contracts_rnd")
    if found is None:
        found = ctx.__dict__["_contracts_rnd"] = random.Random(f"contracts:{ctx.now:%Y%m%d}")
    return found


def _numbers(ctx: Ctx, entity: str, rows: list[Row]) -> list[Any]:
    """The autonumbers (`number`) the demo gives `rows` of `entity` (None without one)."""
    e = ctx.meta.entities.get(entity)
    if e is None or "number" not in e.fields:
        return [None] * len(rows)
    numbered: list[dict[str, Any]] = [{"created_at": r["created_at"]} for r in rows]
    number_rows(e, numbered)
    return [r.get("number") for r in numbered]


def _renamed(name: str, old: tuple[str, str], new: tuple[str, str]) -> str:
    """A quote's name as its contract's (or a contract's as its order's)."""
    return name.replace(old[0], new[0]).replace(old[1], new[1])


def contracts(ctx: Ctx) -> list[Row]:
    """One contract per accepted quote, with the quote's lines (as `contract_line` rows)."""
    rnd = _rnd(ctx)
    quotes, qlines = ctx.rows.get("quote", []), ctx.rows.get("quote_line", [])
    numbers = _numbers(ctx, "quote", quotes)
    rows: list[Row] = []
    lines: list[Row] = []
    for q, quote in enumerate(quotes):
        if quote.get("status") != "accepted" or not quote.get("account"):
            continue
        created = min(ctx.now, quote["created_at"] + timedelta(days=rnd.randint(1, 10)))
        status = rnd.choices(list(CONTRACT_STATUS), weights=list(CONTRACT_STATUS.values()))[0]
        signed = None if status in ("draft", "pending_signature") else min(
            ctx.now, created + timedelta(days=rnd.randint(1, 7)))
        start = (signed + timedelta(days=rnd.randint(0, 10))).date() if signed else None
        end = start + timedelta(days=rnd.choice((180, 365, 365, 730))) if start else None
        if status == "expired" and end and end >= ctx.now.date():
            status = "active"  # too recent to have run out
        if status == "active" and end and end < ctx.now.date():
            status = "expired"
        if status in ("active", "expired") and start and start > ctx.now.date():
            status = "signed"  # in force from its start date on
        c = len(rows)
        rows.append({
            "name": _renamed(quote["name"], ("报价", "Quote"), ("合同", "Contract")),
            "account": quote["account"],
            "contact": quote.get("contact"), "opportunity": quote.get("opportunity"),
            "quote": Ref("quote", q), "quote_number": numbers[q], "status": status,
            "start_date": start, "end_date": end, "signed_at": signed,
            "currency": quote.get("currency"), "discount": quote.get("discount"),
            "terms": quote.get("terms"), "created_at": created,
        })
        quote["converted_contract"] = Ref("contract", c)
        lines += [{**{k: line.get(k) for k in LINE_FIELDS}, "contract": Ref("contract", c),
                   "created_at": created}
                  for line in sorted((ln for ln in qlines if ln["quote"].row == q),
                                     key=lambda ln: ln.get("sort_order") or 0)]
    ctx.rows["contract_line"] = lines
    return rows


def sales_orders(ctx: Ctx) -> list[Row]:
    """An order for most signed contracts, with the contract's lines (`sales_order_line`)."""
    rnd = _rnd(ctx)
    contract_rows, clines = ctx.rows.get("contract", []), ctx.rows.get("contract_line", [])
    numbers = _numbers(ctx, "contract", contract_rows)
    rows: list[Row] = []
    lines: list[Row] = []
    for c, contract in enumerate(contract_rows):
        if contract["signed_at"] is None or contract["status"] == "terminated" \
                or rnd.random() > 0.75:
            continue
        created = min(ctx.now, contract["signed_at"] + timedelta(days=rnd.randint(1, 7)))
        o = len(rows)
        rows.append({
            "name": _renamed(contract["name"], ("合同", "Contract"), ("订单", "Order")),
            "account": contract["account"], "contact": contract["contact"],
            "contract": Ref("contract", c), "contract_number": numbers[c],
            "quote_number": contract["quote_number"],
            "status": rnd.choices(list(ORDER_STATUS), weights=list(ORDER_STATUS.values()))[0],
            "order_date": created.date(), "currency": contract["currency"],
            "discount": contract["discount"], "created_at": created,
        })
        contract["converted_order"] = Ref("sales_order", o)
        lines += [{**{k: line.get(k) for k in LINE_FIELDS}, "sales_order": Ref("sales_order", o),
                   "created_at": created}
                  for line in clines if line["contract"].row == c]
    ctx.rows["sales_order_line"] = lines
    return rows


#: (entity, builder) in the order app/demo_values.py `build_all` runs them (after the others)
BUILDERS: tuple[tuple[str, Callable[[Ctx], list[Row]]], ...] = (
    ("contract", contracts), ("contract_line", lambda c: c.rows["contract_line"]),
    ("sales_order", sales_orders), ("sales_order_line", lambda c: c.rows["sales_order_line"]))
