"""send_email refuses a message it cannot send and writes nothing: a bad address (named in the
message), no recipient, a subject too long or on two lines, an attachment of a record the
sender may not see (or removed), a record they may not see, and emails made by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.comms.email import EmailInvalid, OutgoingEmail, send_email, split_addresses
from app.context import Context
from app.records import Forbidden, NotFound, ValidationFailed
from app.records.attachments import AttachmentStore
from tests.commskit import actor_of, comms_deployment, count, customer, records


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = comms_deployment(tmp_path, database_url)
    try:
        yield c
    finally:
        c.dispose()


def _nothing_written(ctx: Context) -> None:
    assert count(ctx, "sys_mail") == 0
    assert count(ctx, "sys_email_delivery") == 0
    assert count(ctx, "ent_email") == 0


def _send(ctx: Context, username: str, **kw: object) -> None:
    values: dict[str, object] = {"to": ("buyer@example.com",), "subject": "Hi",
                                 "body_text": "Hello"}
    values.update(kw)
    send_email(records(ctx), actor_of(ctx, username), OutgoingEmail(**values),  # type: ignore[arg-type]
               settings=ctx.settings)


def test_bad_addresses_are_named(ctx: Context) -> None:
    with pytest.raises(EmailInvalid) as caught:
        _send(ctx, "rep", to=("buyer@example.com", "not-an-address"),
              cc=("Boss <boss@example.com>",))
    assert caught.value.status == 422
    assert "'not-an-address' is not an email address" in caught.value.errors["to"][0]
    assert "'Boss <boss@example.com>'" in caught.value.errors["cc"][0]
    with pytest.raises(EmailInvalid) as caught:
        _send(ctx, "rep", to=())
    assert caught.value.errors == {"to": ["Give at least one recipient."]}
    with pytest.raises(EmailInvalid) as caught:
        _send(ctx, "rep", subject="x" * 256, body_text="a\x00b")
    assert "256 characters" in caught.value.errors["subject"][0]
    assert "NUL" in caught.value.errors["body_text"][0]
    with pytest.raises(EmailInvalid) as caught:
        _send(ctx, "rep", subject="Hi\r\nBcc: everyone@example.com")
    assert "one line" in caught.value.errors["subject"][0]
    _nothing_written(ctx)
    assert split_addresses("a@x.cn, b@y.cn;\nc@z.cn ") == ("a@x.cn", "b@y.cn", "c@z.cn")


def test_files_and_records_the_sender_may_not_see(ctx: Context) -> None:
    rs = records(ctx)
    rep, rep2 = actor_of(ctx, "rep"), actor_of(ctx, "rep2")
    mine = customer(rs, rep)
    theirs = customer(rs, rep2, email="other@example.com")
    files = AttachmentStore(ctx.engine, ctx.settings.attachments_dir)
    secret = files.save("opportunity", theirs.opportunity, "secret.pdf", b"%PDF secret")
    removed = files.save("contact", mine.contact, "old.pdf", b"%PDF old")
    files.delete("contact", mine.contact, removed.id)
    with pytest.raises(EmailInvalid) as caught:  # rep reads only their own deals
        _send(ctx, "rep", entity="contact", record_id=mine.contact,
              attachment_ids=(secret.id, removed.id, 999_999))
    problems = caught.value.errors["attachment_ids"]
    assert len(problems) == 3 and f"Attachment #{secret.id} " in problems[0]
    with pytest.raises(NotFound):  # their deal: as good as missing
        _send(ctx, "rep", entity="opportunity", record_id=theirs.opportunity)
    with pytest.raises(NotFound):
        _send(ctx, "rep", entity="account", record_id=999_999)
    with pytest.raises(NotFound):
        _send(ctx, "rep", entity="no_such_entity", record_id=1)
    _nothing_written(ctx)
    # a file of a record they may read is fine (a contact of all: reps read every contact)
    ok = files.save("contact", theirs.contact, "brochure.pdf", b"%PDF brochure")
    _send(ctx, "rep", entity="opportunity", record_id=mine.opportunity, attachment_ids=(ok.id,))
    assert count(ctx, "ent_email") == 1


def test_emails_cannot_be_made_or_changed_by_hand(ctx: Context) -> None:
    rs = records(ctx)
    admin = actor_of(ctx, "admin")
    _send(ctx, "rep")
    before = count(ctx, "ent_email")
    with pytest.raises(ValidationFailed) as caught:
        rs.create("email", {"subject": "Fake", "to": "x@example.com", "status": "sent"},
                  admin)
    assert "Send email" in caught.value.message
    assert count(ctx, "ent_email") == before
    table = rs.table("email")
    with ctx.engine.connect() as conn:
        last = conn.execute(rs.full_select("email").order_by(table.c.id.desc())).first()
    assert last is not None
    with pytest.raises(ValidationFailed) as caught:
        rs.update("email", last.id, {"status": "sent", "subject": "Changed"}, admin)
    assert "status" in caught.value.errors
    with pytest.raises(Forbidden):  # reps may not edit the log at all
        rs.update("email", last.id, {"subject": "Changed"}, actor_of(ctx, "rep"))
