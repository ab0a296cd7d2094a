"""The command line of the communication centre: `crm email send` (logged on the record, the
mail at the SMTP server; refusals exit 3 with the problems), `crm reminders run [--at]` and
`crm followups overdue --as USER [--team] [--json]`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from app import clock
from app.cli_errors import EXIT_REFUSED
from app.context import Context
from app.model.notify import notifications
from app.records.attachments import AttachmentStore
from tests import mailkit
from tests.commskit import actor_of, comms_deployment, customer, emails, records
from tests.mailkit import MailBox, rows_of

mail_server = mailkit.mail_server
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, mail_server: MailBox,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    c = comms_deployment(tmp_path, database_url, mail_server)
    try:
        yield c
    finally:
        clock.set_now(None)
        c.dispose()


def crm(ctx: Context, *args: str) -> tuple[int, str]:
    from app.cli import main

    result = CliRunner().invoke(main, ["--config", str(ctx.settings.config_file), *args])
    return result.exit_code, result.output


def test_email_send(ctx: Context, mail_server: MailBox, tmp_path: Path) -> None:
    me = actor_of(ctx, "rep")
    cust = customer(records(ctx), me)
    pdf = AttachmentStore(ctx.engine, ctx.settings.attachments_dir).save(
        "contact", cust.contact, "offer.pdf", b"%PDF offer", user_id=me.id)
    body = tmp_path / "body.txt"
    body.write_text("您好，\n\n附件是报价。\n", encoding="utf-8")
    code, out = crm(ctx, "email", "send", "--entity", "contact", "--id", str(cust.contact),
                    "--to", "buyer@example.com", "--subject", "报价", "--body-file", str(body),
                    "--attach", str(pdf.id), "--as", "rep")
    assert code == 0, out
    result = json.loads(out)
    [email] = emails(ctx)
    assert result["email_ids"] == [email["id"]] and email["related_contact"] == cust.contact
    [msg] = mail_server.messages
    assert MailBox.text(msg).startswith("您好，") and msg["Reply-To"] == "rep@example.com"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["offer.pdf"]

    code, out = crm(ctx, "email", "send", "--to", "not-an-address", "--subject", "x",
                    "--body-file", str(body), "--as", "rep")
    assert code == EXIT_REFUSED and "to: 'not-an-address' is not an email address" in out
    code, out = crm(ctx, "email", "send", "--to", "a@b.cn", "--subject", "x",
                    "--body-file", str(body), "--as", "nobody")
    assert code != 0 and "no active user 'nobody'" in out


def test_reminders_and_overdue(ctx: Context, mail_server: MailBox) -> None:
    rs = records(ctx)
    rep = actor_of(ctx, "rep")
    act = rs.create("activity", {"subject": "Follow up", "owner": rep.id,
                                 "due_at": T0 + timedelta(hours=1), "reminder_at": T0})
    code, out = crm(ctx, "reminders", "run", "--at", "2026-03-02T08:59")
    assert code == 0 and "0 reminder(s) sent." in out, out
    code, out = crm(ctx, "reminders", "run", "--at", "2026-03-02T09:00:30")
    assert code == 0 and f"activity #{act['id']}: reminded Rep (rep) (" in out, out
    assert [n["kind"] for n in rows_of(ctx, notifications)] == ["activity.reminder"]
    assert len(mail_server.messages) == 1
    code, out = crm(ctx, "reminders", "run", "--at", "yesterday")
    assert code != 0 and "not a time" in out

    clock.set_now(T0 + timedelta(hours=2))  # past its due time
    code, out = crm(ctx, "followups", "overdue", "--as", "rep", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["count"] == 1 and data["data"][0]["title"] == "Follow up"
    code, out = crm(ctx, "followups", "overdue", "--as", "rep")
    assert code == 0 and "(rep):\n" in out and "planned: Follow up" in out, out  # by name
    code, out = crm(ctx, "followups", "overdue", "--as", "rep2")
    assert code == 0 and "0 overdue." in out
    code, out = crm(ctx, "followups", "overdue", "--as", "rep", "--team")
    assert code == 0 and "0 overdue." in out  # nobody reports to them
