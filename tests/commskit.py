"""Test kit of the communication centre (app/comms): a default-pack deployment that sends its
mails to the local aiosmtpd server at once (the immediate task queue), actors of its users,
and a customer (account, contact, opportunity) to write to.

    from tests import mailkit
    from tests.commskit import comms_deployment, customer, actor_of

    mail_server = mailkit.mail_server

    def test_it(tmp_path, database_url, mail_server):
        ctx = comms_deployment(tmp_path, database_url, mail_server)
        ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.context import Context
from app.migrate.publish import active_version
from app.model.build import build_models
from app.records import Actor, Records
from tests.mailkit import MailBox, set_user
from tests.webkit import deployment, user_id

ROLES = {"admin": ("admin",), "rep": ("sales_rep",), "rep2": ("sales_rep",)}


def comms_deployment(folder: Path, database_url: str, mail_server: MailBox | None = None,
                     extra: str = "") -> Context:
    """The default pack, the immediate task queue and (with `mail_server`) SMTP to it; the
    users have addresses (admin@, rep@, rep2@example.com). The caller disposes the Context."""
    config = "task_queue: immediate\n" + (mail_server.config if mail_server else "") + extra
    ctx = deployment(folder, database_url, extra_config=config)
    for name in ROLES:
        set_user(ctx, name, email=f"{name}@example.com")
    return ctx


def actor_of(ctx: Context, username: str) -> Actor:
    return Actor(user_id(ctx, username), username, ROLES[username])


def records(ctx: Context, actor: Actor | None = None) -> Records:
    """A records service of the live version (reading as `actor`, default the system)."""
    with ctx.engine.connect() as conn:
        _version, meta = active_version(conn)
    assert meta is not None
    rs = Records(ctx.engine, build_models(meta, orm_classes=False), plugins=ctx.plugins)
    if actor is not None:
        rs.actor = actor
    return rs


@dataclass(frozen=True)
class Customer:
    account: int
    contact: int
    opportunity: int
    #: another contact of the account (with an address)
    colleague: int


def customer(rs: Records, owner: Actor, *, email: str = "buyer@example.com") -> Customer:
    """An account with two contacts (buyer@ and boss@example.com) and an opportunity, owned
    by `owner`."""
    acc = rs.create("account", {"name": "Acme 上海", "owner": owner.id})
    con = rs.create("contact", {"last_name": "Wang", "first_name": "Li", "email": email,
                                "account": acc["id"], "owner": owner.id})
    boss = rs.create("contact", {"last_name": "Zhao", "email": "boss@example.com",
                                 "account": acc["id"], "owner": owner.id})
    opp = rs.create("opportunity", {"name": "Big deal", "account": acc["id"],
                                    "primary_contact": con["id"], "owner": owner.id})
    return Customer(acc["id"], con["id"], opp["id"], boss["id"])


def count(ctx: Context, table: str) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(table)))
                   .scalar_one())


def emails(ctx: Context) -> list[dict[str, Any]]:
    """Every `email` record (as stored), oldest first."""
    rs = records(ctx)
    table = rs.table("email")
    with ctx.engine.connect() as conn:
        return [rs.to_record(r) for r in conn.execute(
            rs.full_select("email").order_by(table.c.id))]
