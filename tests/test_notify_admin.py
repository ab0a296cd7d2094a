"""The back office's System -> Mail log: admins only, every mail with its status and error,
a filter by status, and "send again" for a mail that failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.model.notify import mails
from app.notify import Notice, enqueue_pending, notify
from tests import mailkit
from tests.mailkit import MailBox, notify_deployment, rows_of, set_user
from tests.webkit import csrf, sign_in, user_id, web_app

mail_server = mailkit.mail_server
URL = "/admin/system/mail/"


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, mail_server: MailBox) -> Iterator[Context]:
    c = notify_deployment(tmp_path, database_url, mail_server.config)
    set_user(c, "rep", email="rep@example.com")
    set_user(c, "rep2", email="rep2@example.com")
    try:
        yield c
    finally:
        c.dispose()


def test_admins_see_the_log_and_send_a_failed_mail_again(ctx: Context,
                                                         mail_server: MailBox) -> None:
    app = web_app(ctx)  # its queue is the immediate one: enqueued mails are sent at once
    mail_server.refuse_recipients = "550 5.1.1 <rep@example.com>: no such user"
    with ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [user_id(ctx, "rep")],
               Notice(kind="approval.pending", compose=lambda: ("Quote <b>Q-9</b>", "Body")))
    enqueue_pending(ctx)
    failed = rows_of(ctx, mails)[0]
    assert failed["status"] == "failed"
    client = app.test_client()
    sign_in(client)
    page = client.get(URL)
    assert page.status_code == 200
    assert "rep@example.com" in page.text and "approval.pending" in page.text
    assert "Quote &lt;b&gt;Q-9&lt;/b&gt;" in page.text and "<b>Q-9</b>" not in page.text
    assert "no such user" in page.text and "Failed" in page.text
    assert 'href="/admin/system/mail/"' in client.get("/admin/").text  # in the System menu
    detail = client.get(f"{URL}details/?id={failed['id']}")
    assert detail.status_code == 200 and "Body" in detail.text
    mail_server.refuse_recipients = None
    resp = client.post(f"{URL}action/", data={
        "action": "send_again", "rowid": [str(failed["id"])], "csrf_token": csrf(page.text)})
    assert resp.status_code == 302
    row = rows_of(ctx, mails)[0]
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 2, None)
    assert [m["To"] for m in mail_server.messages] == ["rep@example.com"]


def test_filter_by_status_and_admins_only(ctx: Context) -> None:
    with ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [user_id(ctx, "rep")],
               Notice(kind="a.sent", compose=lambda: ("First", "")))
    enqueue_pending(ctx)
    with ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [user_id(ctx, "rep2")],
               Notice(kind="b.pending", compose=lambda: ("Second", "")))
    app = web_app(ctx)
    client = app.test_client()
    sign_in(client)
    assert [r["status"] for r in rows_of(ctx, mails)] == ["sent", "pending"]
    everything = client.get(URL).text
    assert "a.sent" in everything and "b.pending" in everything
    filtered = client.get(f"{URL}?flt0_0=pending").text
    assert "b.pending" in filtered and "a.sent" not in filtered
    rep = app.test_client()
    sign_in(rep, "rep")
    assert rep.get(URL).status_code in (302, 403)
