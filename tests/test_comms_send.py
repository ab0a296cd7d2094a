"""send_email end to end (app/comms/email.py): the email record logged as the sender and linked
to the contact, account and deal, one sys_mail per recipient, the task queue delivering to a real
SMTP server (aiosmtpd) with To/Cc headers, Reply-To and the attachment's bytes, then the record's
status: sent, failed on a refused recipient, skipped without a mail server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.comms.email import OutgoingEmail, send_and_queue, send_email
from app.context import Context
from app.model.comms import email_deliveries, mail_attachments
from app.model.notify import mails
from app.notify import enqueue_pending
from app.records.attachments import AttachmentStore
from tests import mailkit
from tests.commskit import actor_of, comms_deployment, customer, emails, records
from tests.mailkit import MailBox, rows_of

mail_server = mailkit.mail_server


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, mail_server: MailBox) -> Iterator[Context]:
    c = comms_deployment(tmp_path, database_url, mail_server)
    try:
        yield c
    finally:
        c.dispose()


def test_an_email_is_logged_queued_and_delivered(ctx: Context, mail_server: MailBox) -> None:
    rep = actor_of(ctx, "rep")
    rs = records(ctx)
    cust = customer(rs, rep)
    files = AttachmentStore(ctx.engine, ctx.settings.attachments_dir)
    pdf = files.save("opportunity", cust.opportunity, "报价单 Q-1.pdf", b"%PDF-1.4 quote bytes",
                     user_id=rep.id)
    out = OutgoingEmail(to=("Buyer@Example.com",), cc=("boss@example.com",),
                        subject="Your quote 报价", body_text="Dear Li,\n\nsee the quote.",
                        attachment_ids=(pdf.id,), entity="opportunity",
                        record_id=cust.opportunity, kind="quote")
    with rs.transaction() as conn:
        sent = send_email(rs, rep, out, conn=conn, settings=ctx.settings)
        assert mail_server.messages == []  # nothing leaves before the commit
    assert sent.blocked == {} and len(sent.email_ids) == 1 and len(sent.mail_ids) == 2

    [email] = emails(ctx)
    assert email["id"] == sent.email_ids[0]
    assert (email["subject"], email["to"], email["cc"]) == (
        "Your quote 报价", "Buyer@Example.com", "boss@example.com")
    assert (email["status"], email["direction"], email["kind"]) == ("queued", "outbound", "quote")
    assert email["from_user"] == rep.id and email["owner_id"] == rep.id
    assert email["created_by_id"] == rep.id  # audited as the sender
    assert email["attachment_names"] == "报价单 Q-1.pdf"
    assert email["related_opportunity"] == cust.opportunity
    assert email["related_account"] == cust.account
    assert email["related_contact"] == cust.contact  # the deal's primary contact
    queued = rows_of(ctx, mails)
    assert [(m["to_address"], m["status"], m["kind"]) for m in queued] == [
        ("Buyer@Example.com", "pending", "quote"), ("boss@example.com", "pending", "quote")]
    assert {d["email_record_id"] for d in rows_of(ctx, email_deliveries)} == {email["id"]}
    assert len(rows_of(ctx, mail_attachments)) == 2

    assert enqueue_pending(ctx) == 2  # the immediate queue sends them now
    assert sorted(rcpts[0] for _from, rcpts in mail_server.envelopes) == [
        "Buyer@Example.com", "boss@example.com"]  # one envelope per recipient
    msg = mail_server.messages[0]
    assert msg["To"] == "Buyer@Example.com" and msg["Cc"] == "boss@example.com"
    assert msg["Reply-To"] == "rep@example.com"
    assert msg["From"] == "Rep <crm@localhost>"
    assert msg["Subject"] == "Your quote 报价"
    assert msg["Auto-Submitted"] is None  # a person's email
    assert MailBox.text(msg).startswith("Dear Li,\n\nsee the quote.")
    html = MailBox.html(msg)
    assert html is not None and "<p>Dear Li,</p>" in html
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == "报价单 Q-1.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == b"%PDF-1.4 quote bytes"

    [email] = emails(ctx)
    assert email["status"] == "sent" and email["sent_at"] is not None and email["error"] is None
    assert {m["status"] for m in rows_of(ctx, mails)} == {"sent"}


def test_a_refused_recipient_fails_the_email(ctx: Context, mail_server: MailBox) -> None:
    rep = actor_of(ctx, "rep")
    rs = records(ctx)
    cust = customer(rs, rep)
    mail_server.refuse_recipients = "550 5.1.1 no such user"
    sent = send_and_queue(ctx, rs, rep, OutgoingEmail(
        to=("buyer@example.com",), subject="Hello", body_text="Hi",
        entity="contact", record_id=cust.contact))
    [email] = emails(ctx)
    assert email["id"] == sent.email_ids[0]
    assert email["status"] == "failed" and email["sent_at"] is None
    assert "buyer@example.com" in email["error"] and "550" in email["error"]
    assert email["related_contact"] == cust.contact and email["related_account"] == cust.account
    assert mail_server.messages == []


def test_the_contact_is_found_by_the_address(ctx: Context, mail_server: MailBox) -> None:
    rep = actor_of(ctx, "rep")
    rs = records(ctx)
    cust = customer(rs, rep)
    send_and_queue(ctx, rs, rep, OutgoingEmail(
        to=("BOSS@example.com",), subject="No record", body_text="Hi"))
    [email] = emails(ctx)
    assert email["related_contact"] == cust.colleague
    assert email["related_account"] == cust.account
    assert email["status"] == "sent"


def test_without_a_mail_server_the_email_is_skipped(tmp_path: Path, database_url: str) -> None:
    ctx = comms_deployment(tmp_path, database_url)
    try:
        rep = actor_of(ctx, "rep")
        rs = records(ctx)
        cust = customer(rs, rep)
        send_and_queue(ctx, rs, rep, OutgoingEmail(
            to=("buyer@example.com",), subject="Hello", body_text="Hi",
            entity="account", record_id=cust.account))
        [email] = emails(ctx)
        assert email["status"] == "skipped" and "mail_url" in email["error"]
        assert [m["status"] for m in rows_of(ctx, mails)] == ["skipped"]
        # without the settings the mail is pending, and its first attempt skips it
        send_email(rs, rep, OutgoingEmail(to=("buyer@example.com",), subject="Again",
                                          body_text="Hi"))
        assert emails(ctx)[1]["status"] == "queued"
        enqueue_pending(ctx)
        assert emails(ctx)[1]["status"] == "skipped"
    finally:
        ctx.dispose()


def test_the_system_sends_on_behalf_of_the_record_owner(ctx: Context,
                                                        mail_server: MailBox) -> None:
    rep = actor_of(ctx, "rep")
    rs = records(ctx)
    cust = customer(rs, rep)
    from app.records import SYSTEM

    send_and_queue(ctx, rs, SYSTEM, OutgoingEmail(
        to=("buyer@example.com",), subject="Survey", body_text="How did we do?",
        body_html="<p>How did we do?</p>", entity="contact", record_id=cust.contact,
        kind="survey"))
    [email] = emails(ctx)
    assert email["owner_id"] == rep.id and email["from_user"] is None
    msg = mail_server.messages[0]
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Reply-To"] is None
    assert msg["From"] == "CRM <crm@localhost>"
    assert MailBox.html(msg) == "<p>How did we do?</p>\n"
    with ctx.engine.connect() as conn:
        assert conn.execute(sa.select(mails.c.kind)).scalar_one() == "survey"
