"""`crm mail test ADDRESS` (one mail now, through mail_url: success, or the SMTP error in words)
and `crm mail log [--status ...]`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.context import Context
from app.model.notify import mails
from app.notify import Notice, notify
from tests import mailkit
from tests.mailkit import MailBox, closed_port_url, notify_deployment, rows_of, set_user
from tests.webkit import user_id

mail_server = mailkit.mail_server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")


def crm(ctx: Context, *args: str) -> tuple[int, str]:
    from app.cli import main

    result = CliRunner().invoke(main, ["--config", str(ctx.settings.config_file), *args])
    return result.exit_code, result.output


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, mail_server: MailBox, env: None
        ) -> Iterator[Context]:
    c = notify_deployment(tmp_path, database_url, mail_server.config)
    try:
        yield c
    finally:
        c.dispose()


def test_mail_test_sends_one_mail_now(ctx: Context, mail_server: MailBox) -> None:
    code, out = crm(ctx, "mail", "test", "ops@example.com")
    assert code == 0, out
    assert f"through 127.0.0.1:{mail_server.port}" in out
    assert "Sent: the mail server accepted the mail." in out
    msg = mail_server.messages[0]
    assert msg["To"] == "ops@example.com" and msg["Subject"] == "Test mail from CRM"
    assert "http://crm.test" in MailBox.text(msg)
    row = rows_of(ctx, mails)[0]
    assert (row["kind"], row["status"], row["to_user_id"]) == ("mail.test", "sent", None)


def test_mail_test_says_why_it_failed(ctx: Context, mail_server: MailBox) -> None:
    mail_server.refuse_recipients = "550 5.1.1 no such mailbox"
    code, out = crm(ctx, "mail", "test", "nobody@example.com")
    assert code == 1
    assert "Not sent: the mail server 127.0.0.1:" in out and "550 5.1.1 no such mailbox" in out
    assert "Traceback" not in out
    code, out = crm(ctx, "mail", "test", "not-an-address")
    assert code == 2 and "is not an email address" in out
    assert [r["status"] for r in rows_of(ctx, mails)] == ["failed"]


def test_mail_test_with_the_server_down(tmp_path: Path, database_url: str, env: None) -> None:
    down = notify_deployment(tmp_path, database_url, f"mail_url: {closed_port_url()}\n")
    try:
        code, out = crm(down, "mail", "test", "ops@example.com")
        assert code == 1 and "Not sent: cannot reach the mail server 127.0.0.1:" in out
        row = rows_of(down, mails)[0]
        assert (row["status"], row["attempts"]) == ("failed", 1)  # a test mail is not retried
    finally:
        down.dispose()


def test_mail_test_without_a_mail_server(tmp_path: Path, database_url: str, env: None) -> None:
    missing = notify_deployment(tmp_path, database_url)
    try:
        code, out = crm(missing, "mail", "test", "ops@example.com")
        assert code == 1 and "no mail server is configured" in out and "mail_url" in out
        assert rows_of(missing, mails)[0]["status"] == "skipped"
    finally:
        missing.dispose()


def test_mail_log_lists_and_filters(ctx: Context) -> None:
    code, out = crm(ctx, "mail", "log")
    assert code == 0 and "No mails." in out
    set_user(ctx, "rep", email="rep@example.com")
    with ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [user_id(ctx, "rep")],
               Notice(kind="case.escalated", compose=lambda: ("Case \x1b[31m3", "Look")))
    crm(ctx, "mail", "test", "ops@example.com")
    code, out = crm(ctx, "mail", "log")
    assert code == 0
    lines = out.strip().splitlines()
    assert "sent" in lines[0] and "mail.test -> ops@example.com" in lines[0]
    assert "pending" in lines[1] and "case.escalated -> rep@example.com" in lines[1]
    assert "\x1b" not in out  # no terminal escapes from a subject
    code, out = crm(ctx, "mail", "log", "--status", "pending")
    assert code == 0 and "rep@example.com" in out and "ops@example.com" not in out
    code, out = crm(ctx, "mail", "log", "--json", "--limit", "1")
    assert code == 0 and [r["kind"] for r in json.loads(out)] == ["mail.test"]
    code, out = crm(ctx, "mail", "log", "--status", "lost")
    assert code == 2 and "'lost' is not one of" in out
