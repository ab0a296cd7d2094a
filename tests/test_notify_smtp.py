"""Notification mails over SMTP to a real local server (aiosmtpd): notify -> commit ->
enqueue_pending -> the task queue -> smtplib; headers, UTF-8 Chinese subject, text with the
absolute link, the HTML alternative, and a server that wants a user name and password."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.context import Context
from app.i18n import _
from app.model.notify import mails
from app.notify import Notice, enqueue_pending, notify
from app.notify import mail as mailer
from tests import mailkit
from tests.mailkit import MailBox, notify_deployment, rows_of, set_user, smtp_server
from tests.webkit import user_id

mail_server = mailkit.mail_server


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, mail_server: MailBox) -> Iterator[Context]:
    c = notify_deployment(tmp_path, database_url, mail_server.config)
    set_user(c, "rep", email="rep@example.com", locale="zh_CN")
    set_user(c, "rep2", email="rep2@example.com")
    try:
        yield c
    finally:
        c.dispose()


def _notify(ctx: Context, *usernames: str) -> list[int]:
    notice = Notice(kind="approval.pending",
                    compose=lambda: (_("Pending") + " Q-0012", _("Status") + ": " + _("Pending")),
                    link="/quote/12", entity="quote", record_id=12)
    with ctx.engine.begin() as conn:
        return notify(conn, ctx.settings, [user_id(ctx, u) for u in usernames], notice)


def test_the_mail_arrives_in_the_recipients_language(ctx: Context, mail_server: MailBox) -> None:
    _notify(ctx, "rep")
    assert mail_server.messages == []  # nothing is sent before the caller hands it over
    assert enqueue_pending(ctx) == 1
    assert len(mail_server.messages) == 1
    msg = mail_server.messages[0]
    assert msg["To"] == "rep@example.com"
    assert msg["From"] == "CRM <crm@localhost>"
    assert msg["Subject"] == "待处理 Q-0012"  # decoded from its RFC 2047 encoding
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith("@localhost>")
    assert mail_server.envelopes[0] == ("crm@localhost", ["rep@example.com"])
    text = MailBox.text(msg)
    assert text.startswith("状态: 待处理\n")
    assert "http://crm.test/quote/12" in text
    html = MailBox.html(msg)
    assert html is not None and 'href="http://crm.test/quote/12"' in html
    row = rows_of(ctx, mails)[0]
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 1, None)
    assert row["sent_at"] is not None and row["claim"] is None


def test_each_recipient_gets_one_mail(ctx: Context, mail_server: MailBox) -> None:
    _notify(ctx, "rep", "rep2", "rep")
    assert enqueue_pending(ctx.engine) == 0  # no queue made in this process: the sweep's job
    assert mail_server.messages == []
    assert enqueue_pending(ctx) == 2  # a Context makes its queue (immediate here)
    assert enqueue_pending(ctx.engine) == 0  # sent ones are not queued again
    assert sorted(m["To"] for m in mail_server.messages) == ["rep2@example.com",
                                                            "rep@example.com"]
    english = next(m for m in mail_server.messages if m["To"] == "rep2@example.com")
    assert english["Subject"] == "Pending Q-0012"


def test_a_server_that_wants_a_password_gets_it_from_the_environment(ctx: Context) -> None:
    with smtp_server(auth=("crm-mailer", "s3cret")) as box:
        settings = replace(ctx.settings, raw={
            **ctx.settings.raw, "mail_url": f"smtp://crm-mailer@127.0.0.1:{box.port}"})
        _notify(ctx, "rep2")
        mail_id = rows_of(ctx, mails)[0]["id"]
        refused = mailer.send_one(ctx.engine, replace(settings, mail_password="wrong"),
                                  mail_id)
        assert refused is not None and refused.status == "pending"
        assert refused.error is not None and "refused the user name or password" \
            in refused.error
        missing = mailer.send_one(ctx.engine, settings, mail_id, force=True)
        assert missing is not None and "CRM_MAIL_PASSWORD is not set" in str(missing.error)
        sent = mailer.send_one(ctx.engine, replace(settings, mail_password="s3cret"),
                               mail_id, force=True)
        assert sent is not None and sent.status == "sent"
        assert [m["To"] for m in box.messages] == ["rep2@example.com"]
    assert rows_of(ctx, mails)[0]["attempts"] == 3


def test_the_password_is_read_from_crm_mail_password_only(tmp_path: Path) -> None:
    from app.meta.errors import ConfigErrors
    from app.settings import load_settings

    cfg = tmp_path / "config.yaml"
    cfg.write_text("mail_url: smtp://me@mail.example.com:587\n", encoding="utf-8")
    settings = load_settings(cfg, environ={"CRM_MAIL_PASSWORD": "pw"})
    assert settings.mail_password == "pw" and "pw" not in repr(settings)
    assert settings.mail_server is not None and settings.mail_server.username == "me"
    cfg.write_text("mail_url: smtp://me:pw@mail.example.com:587\n", encoding="utf-8")
    with pytest.raises(ConfigErrors, match="must not contain a password") as info:
        load_settings(cfg, environ={})
    assert "pw@" not in str(info.value)
