"""Emails hold people's addresses: a contact's personal data export lists the emails linked to
them, and erasing the contact empties the recipients of those emails (the log itself stays)."""

from __future__ import annotations

from pathlib import Path

from app.comms.email import OutgoingEmail, send_email
from app.records.privacy import erase, personal_data
from tests.commskit import actor_of, comms_deployment, customer, emails, records


def test_export_and_erase(tmp_path: Path, database_url: str) -> None:
    ctx = comms_deployment(tmp_path, database_url)
    try:
        rs = records(ctx)
        rep, admin = actor_of(ctx, "rep"), actor_of(ctx, "admin")
        cust = customer(rs, rep)
        send_email(rs, rep, OutgoingEmail(
            to=("buyer@example.com",), cc=("boss@example.com",), subject="Hello",
            body_text="Hi", entity="contact", record_id=cust.contact))
        data = personal_data(rs, "contact", cust.contact)
        [linked] = data["linked"]["email"]
        assert linked["fields"]["to"] == "buyer@example.com"
        erase(rs, "contact", cust.contact, admin)
        [email] = emails(ctx)
        assert email["to"].startswith("Erased") and email["cc"] is None
        assert email["subject"] == "Hello" and email["status"] == "queued"
    finally:
        ctx.dispose()
