"""`notify()`: one notification per distinct active recipient and one mail per recipient with an
address, written in the caller's transaction, each in the recipient's language."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import clock
from app.context import Context
from app.i18n import _, get_locale
from app.model.notify import mails, notifications
from app.notify import Notice, notify
from tests import mailkit
from tests.mailkit import MailBox, notify_deployment, rows_of, set_user
from tests.webkit import user_id

mail_server = mailkit.mail_server
AT = datetime(2030, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, mail_server: MailBox) -> Iterator[Context]:
    c = notify_deployment(tmp_path, database_url, mail_server.config)
    set_user(c, "rep", email="rep@example.com", locale="zh_CN")
    set_user(c, "rep2", email="rep2@example.com")
    try:
        yield c
    finally:
        c.dispose()


def _notice(**kw: object) -> Notice:
    # "Pending" is in the zh_CN catalogue ("待处理"): the text shows which language was used
    defaults: dict[str, object] = {
        "kind": "approval.pending",
        "compose": lambda: (_("Pending") + " #12", _("Status") + ": " + _("Pending")),
        "link": "/quote/12", "entity": "quote", "record_id": 12}
    return Notice(**{**defaults, **kw})  # type: ignore[arg-type]


def test_one_row_per_distinct_recipient_with_the_notice(ctx: Context) -> None:
    rep, rep2 = user_id(ctx, "rep"), user_id(ctx, "rep2")
    with clock.frozen(AT), ctx.engine.begin() as conn:
        ids = notify(conn, ctx.settings, [rep2, rep, rep2, rep], _notice())
    assert len(ids) == 2
    rows = rows_of(ctx, notifications)
    assert [r["id"] for r in rows] == ids
    assert [r["user_id"] for r in rows] == [rep2, rep]  # in the order given
    for r in rows:
        assert (r["kind"], r["link"], r["entity"], r["record_id"]) == (
            "approval.pending", "/quote/12", "quote", 12)
        assert r["read_at"] is None
        assert r["created_at"].replace(tzinfo=UTC) == AT
    sent = rows_of(ctx, mails)
    assert [(m["to_user_id"], m["to_address"], m["notification_id"]) for m in sent] == [
        (rep2, "rep2@example.com", ids[0]), (rep, "rep@example.com", ids[1])]
    assert {m["status"] for m in sent} == {"pending"}  # sent after commit, by the queue


def test_each_recipient_gets_their_own_language(ctx: Context) -> None:
    seen: list[str] = []

    def compose() -> tuple[str, str]:
        seen.append(get_locale())
        return _("Pending"), _("Status")

    with ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [user_id(ctx, "rep"), user_id(ctx, "rep2")],
               _notice(compose=compose))
    assert seen == ["zh_CN", "en"]  # compose ran once per recipient, in their locale
    zh, en = rows_of(ctx, notifications)
    assert (zh["subject"], zh["body"]) == ("待处理", "状态")
    assert (en["subject"], en["body"]) == ("Pending", "Status")
    zh_mail = rows_of(ctx, mails)[0]
    assert zh_mail["subject"] == "待处理" and zh_mail["body_text"].startswith("状态\n")
    assert get_locale() == "en"  # the caller's locale is back


def test_without_a_saved_locale_the_deployment_default_is_used(ctx: Context) -> None:
    from dataclasses import replace

    zh_settings = replace(ctx.settings, locale="zh_CN")
    with ctx.engine.begin() as conn:
        notify(conn, zh_settings, [user_id(ctx, "rep2")], _notice())
    assert rows_of(ctx, notifications)[0]["subject"] == "待处理 #12"


def test_inactive_and_unknown_users_are_skipped(ctx: Context) -> None:
    set_user(ctx, "rep2", active=False)
    with ctx.engine.begin() as conn:
        ids = notify(conn, ctx.settings, [user_id(ctx, "rep2"), 999_999, 2**40, -1,
                                          user_id(ctx, "rep")], _notice())
    assert len(ids) == 1
    assert [r["user_id"] for r in rows_of(ctx, notifications)] == [user_id(ctx, "rep")]
    assert [m["to_address"] for m in rows_of(ctx, mails)] == ["rep@example.com"]
    with ctx.engine.begin() as conn:
        assert notify(conn, ctx.settings, [], _notice()) == []


def test_mail_only_for_users_with_an_address_and_when_asked(ctx: Context) -> None:
    with ctx.engine.begin() as conn:  # admin has no email address
        notify(conn, ctx.settings, [user_id(ctx, "admin"), user_id(ctx, "rep")], _notice())
        notify(conn, ctx.settings, [user_id(ctx, "rep2")], _notice(), email=False)
    assert len(rows_of(ctx, notifications)) == 3
    assert [m["to_address"] for m in rows_of(ctx, mails)] == ["rep@example.com"]


def test_a_rollback_leaves_nothing(ctx: Context) -> None:
    with pytest.raises(RuntimeError), ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [user_id(ctx, "rep")], _notice())
        raise RuntimeError("the caller's change failed")
    assert rows_of(ctx, notifications) == [] and rows_of(ctx, mails) == []


def test_the_mail_holds_the_absolute_link_and_escaped_html(ctx: Context) -> None:
    notice = _notice(compose=lambda: ("Deal <b>won</b>\r\nBcc: x@evil.test",
                                      "Acme & Co <script>alert(1)</script>\n\nsecond"))
    with ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [user_id(ctx, "rep2")], notice)
    mail = rows_of(ctx, mails)[0]
    assert mail["subject"] == "Deal <b>won</b> Bcc: x@evil.test"  # one header line
    assert "http://crm.test/quote/12" in mail["body_text"]
    assert "http://crm.test/notifications/" in mail["body_text"]
    html = mail["body_html"]
    assert "<script>" not in html and "&lt;script&gt;" in html and "Acme &amp; Co" in html
    assert 'href="http://crm.test/quote/12"' in html


@pytest.mark.parametrize("bad", [
    {"link": "https://evil.test/x"}, {"link": "//evil.test"}, {"link": "/\\evil.test"},
    {"link": "quote/12"}, {"link": "/a\nb"}, {"kind": ""}, {"kind": "k" * 61},
    {"record_id": 0}, {"record_id": 2**31},
])
def test_a_bad_notice_is_refused_before_anything_is_written(ctx: Context,
                                                            bad: dict[str, object]) -> None:
    with pytest.raises(ValueError), ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [user_id(ctx, "rep")], _notice(**bad))
    assert rows_of(ctx, notifications) == []


def test_compose_must_give_subject_and_body(ctx: Context) -> None:
    with pytest.raises(TypeError, match="compose must return"), ctx.engine.begin() as conn:
        notify(conn, ctx.settings, [user_id(ctx, "rep")],
               _notice(compose=lambda: "just a subject"))
