"""Test kit for personal data requests: a contact with personal data, the business records around
it, its history and an attachment, on the default pack."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Flask

from app.context import Context
from app.records import Actor, Records
from app.records.attachments import AttachmentStore
from tests.webkit import records_of, user_id

#: the contact's personal values (none of them appears anywhere after an erasure)
PERSON = {"salutation": "ms", "first_name": "Meiling", "last_name": "Zhaoxue",
          "email": "meiling.zhaoxue@example.com", "mobile": "13812345678",
          "phone": "+86 10 5555 1234", "wechat": "mlzhaoxue", "birthday": "1988-07-21",
          "mailing_street": "88 Jianguo Road", "mailing_city": "Hangzhou",
          "mailing_postal_code": "310000", "mailing_country": "CN"}
SECRETS = ("Meiling", "Zhaoxue", "13812345678", "5555 1234", "mlzhaoxue", "1988-07",
           "Jianguo", "Hangzhou", "310000")
FILE_BYTES = b"passport scan of Meiling Zhaoxue"


@dataclass
class World:
    records: Records
    store: AttachmentStore
    admin: Actor
    ids: dict[str, int]


def admin_actor(ctx: Context) -> Actor:
    return Actor(user_id(ctx, "admin"), "admin", ("admin",))


def world(ctx: Context, app: Flask) -> World:
    """A contact with every kind of record around it."""
    rs = records_of(app)
    admin = admin_actor(ctx)
    store = AttachmentStore(ctx.engine, ctx.settings.attachments_dir)
    acc = rs.create("account", {"name": "West Lake Tea Co."}, admin)["id"]
    con = rs.create("contact", {**PERSON, "account": acc}, admin)["id"]
    rs.update("contact", con, {"email": "mz@example.com"}, admin)
    rs.update("contact", con, {"email": PERSON["email"]}, admin)
    other = rs.create("contact", {"last_name": "Other", "first_name": "Olga", "reports_to": con,
                                  "email": "olga@example.com"}, admin)["id"]
    opp = rs.create("opportunity", {"name": "Tea order", "account": acc,
                                    "primary_contact": con, "amount": "1200"}, admin)["id"]
    case = rs.create("case", {"subject": "Late delivery", "contact": con, "account": acc},
                     admin)["id"]
    camp = rs.create("campaign", {"name": "Spring fair"}, admin)["id"]
    member = rs.create("campaign_member", {"campaign": camp, "contact": con,
                                           "member_name": "Meiling Zhaoxue"}, admin)["id"]
    lead = rs.create("lead", {"company": "West Lake Tea Co.", "last_name": "Zhaoxue",
                              "email": PERSON["email"], "converted_contact": con})["id"]
    note = rs.create("note", {"title": "Call notes", "body": "<p>Prefers mornings</p>",
                              "related_contact": con}, admin)["id"]
    act = rs.create("activity", {"subject": "Follow-up call", "kind": "call",
                                 "related_contact": con}, admin)["id"]
    attachment = store.save("contact", con, "passport.pdf", FILE_BYTES, user_id=admin.id)
    return World(rs, store, admin, {
        "account": acc, "contact": con, "other": other, "opportunity": opp, "case": case,
        "campaign": camp, "campaign_member": member, "lead": lead, "note": note,
        "activity": act, "attachment": attachment.id, "date": date.today().year})
