"""The compose page (/<entity>/<id>/email/new, endpoint email.compose): the "Send email" button
on records with someone to write to, To prefilled from the record, ?attach= / ?subject= /
?body= prefill, CSRF, problems at their fields (422, nothing sent), success back on the record
with "Email queued to …" and the mail at the SMTP server with the ticked file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.records.attachments import AttachmentStore
from tests import mailkit
from tests.commskit import actor_of, comms_deployment, count, customer, emails, records
from tests.mailkit import MailBox
from tests.webkit import csrf, sign_in, web_app

mail_server = mailkit.mail_server


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, mail_server: MailBox) -> Iterator[Context]:
    c = comms_deployment(tmp_path, database_url, mail_server)
    try:
        yield c
    finally:
        c.dispose()


@pytest.fixture
def app(ctx: Context) -> Flask:
    return web_app(ctx)


@pytest.fixture
def rep(app: Flask) -> FlaskClient:
    c = app.test_client()
    sign_in(c, "rep")
    return c


def test_compose_prefills_and_sends(ctx: Context, app: Flask, rep: FlaskClient,
                                    mail_server: MailBox) -> None:
    me = actor_of(ctx, "rep")
    cust = customer(records(ctx), me)
    files = AttachmentStore(ctx.engine, ctx.settings.attachments_dir)
    pdf = files.save("opportunity", cust.opportunity, "quote.pdf", b"%PDF quote", user_id=me.id)
    other = files.save("opportunity", cust.opportunity, "notes.txt", b"notes", user_id=me.id)

    page = rep.get(f"/opportunity/{cust.opportunity}").text
    assert 'id="send-email"' in page and f"/opportunity/{cust.opportunity}/email/new" in page
    url = f"/opportunity/{cust.opportunity}/email/new"
    form = rep.get(f"{url}?attach={pdf.id}&subject=Quote%20Q-1&body=Dear%20Li").text
    assert 'value="buyer@example.com"' in form  # the deal's primary contact
    assert 'value="Quote Q-1"' in form and ">Dear Li</textarea>" in form
    assert f'value="{pdf.id}" id="attach-{pdf.id}" checked' in form
    assert f'value="{other.id}" id="attach-{other.id}">' in form

    assert rep.post(url, data={"to": "buyer@example.com", "subject": "x",
                               "body": "y"}).status_code == 400  # no CSRF token
    resp = rep.post(url, data={"to": "buyer@example.com, boss@example.com", "subject": "报价 Q-1",
                               "body": "Dear Li,\n\nsee https://example.com/q1",
                               "attachment": [str(pdf.id)], "csrf_token": csrf(form)})
    assert resp.status_code == 303 and resp.location.endswith(f"/opportunity/{cust.opportunity}")
    shown = rep.get(resp.location).text
    assert "Email queued to buyer@example.com, boss@example.com." in shown
    assert len(mail_server.messages) == 2
    msg = mail_server.messages[0]
    assert msg["To"] == "buyer@example.com, boss@example.com"
    html = MailBox.html(msg)
    assert html is not None and '<a href="https://example.com/q1">' in html
    assert [a.get_filename() for a in msg.iter_attachments()] == ["quote.pdf"]
    [email] = emails(ctx)
    assert email["status"] == "sent" and email["related_opportunity"] == cust.opportunity


def test_problems_are_shown_at_their_fields(ctx: Context, app: Flask, rep: FlaskClient,
                                            mail_server: MailBox) -> None:
    cust = customer(records(ctx), actor_of(ctx, "rep"))
    url = f"/contact/{cust.contact}/email/new"
    form = rep.get(url).text
    assert 'value="buyer@example.com"' in form  # the contact's own address
    resp = rep.post(url, data={"to": "buyer@example.com, nobody@", "cc": "<script>",
                               "subject": "", "body": "x", "attachment": ["999"],
                               "csrf_token": csrf(form)})
    assert resp.status_code == 422
    page = resp.text
    assert 'data-error="to"' in page and "&#39;nobody@&#39; is not an email address" in page
    assert 'data-error="cc"' in page and "&lt;script&gt;" in page and "<script>" not in \
        page.split('id="compose"')[1]
    assert 'data-error="subject"' in page and 'data-error="attachments"' in page
    assert 'value="buyer@example.com, nobody@"' in page  # what they typed is kept
    assert count(ctx, "sys_mail") == 0 and count(ctx, "ent_email") == 0
    assert mail_server.messages == []


def test_who_may_send_from_where(ctx: Context, app: Flask, rep: FlaskClient) -> None:
    rs = records(ctx)
    theirs = customer(rs, actor_of(ctx, "rep2"), email="x@example.com")
    # reps read only their own deals: someone else's is as good as missing
    assert rep.get(f"/opportunity/{theirs.opportunity}/email/new").status_code == 404
    product = rs.create("product", {"name": "Widget", "code": "W-1"})
    assert 'id="send-email"' not in rep.get(f"/product/{product['id']}").text
    assert rep.get(f"/product/{product['id']}/email/new").status_code == 404
    account = rep.get(f"/account/{theirs.account}/email/new").text  # reps read all accounts
    assert 'value="x@example.com"' in account  # the account's first contact with an address
