"""The bell and /notifications/: the unread count in the navigation bar, the list (newest first,
unread bold), opening one (POST + CSRF: marks it read, goes to its link), "mark all read", and
nothing changes on a GET or for another user's notification."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient

from app.context import Context
from app.model.notify import notifications
from app.notify import Notice, notify
from tests.mailkit import rows_of, set_user
from tests.webkit import csrf, sign_in, user_id

COUNT = re.compile(r'id="notification-count">(\d+\+?)<')


def _notify(crm: Context, username: str, subject: str, link: str | None = "/account/") -> int:
    with crm.engine.begin() as conn:
        return notify(conn, crm.settings, [user_id(crm, username)],
                      Notice(kind="test.web", compose=lambda: (subject, "Body of " + subject),
                             link=link))[0]


def _count(client: FlaskClient) -> str | None:
    match = COUNT.search(client.get("/").text)
    return match.group(1) if match else None


def _read_at(crm: Context, nid: int) -> Any:
    return next(r["read_at"] for r in rows_of(crm, notifications) if r["id"] == nid)


def test_the_bell_counts_unread_notifications(crm: Context, client: FlaskClient) -> None:
    html = client.get("/").text
    assert 'id="notification-bell"' in html and 'href="/notifications/"' in html
    assert _count(client) is None  # no badge at zero
    _notify(crm, "admin", "First")
    _notify(crm, "admin", "Second")
    _notify(crm, "rep", "Not yours")
    assert _count(client) == "2"


def test_the_list_is_newest_first_with_unread_bold(crm: Context, client: FlaskClient) -> None:
    first = _notify(crm, "admin", "Older one")
    second = _notify(crm, "admin", "Newer <b>one</b>")
    _notify(crm, "rep", "Rep's own")
    with crm.engine.begin() as conn:
        conn.execute(notifications.update().where(notifications.c.id == first)
                     .values(read_at=sa.func.current_timestamp()))
    html = client.get("/notifications/").text
    ids = [int(i) for i in re.findall(r'class="list-group-item[^"]*notification[^"]*" '
                                      r'data-id="(\d+)"', html)]
    assert ids == [second, first]
    assert "Rep&#39;s own" not in html and "Rep's own" not in html
    assert "Newer &lt;b&gt;one&lt;/b&gt;" in html  # escaped
    unread_row = html[html.index(f'data-id="{second}"'):html.index(f'data-id="{first}"')]
    assert "fw-bold" in unread_row
    read_row = html[html.index(f'data-id="{first}"'):]
    assert "fw-bold" not in read_row.split("</li>")[0]
    only_unread = client.get("/notifications/?unread=1").text
    assert f'data-id="{second}"' in only_unread and f'data-id="{first}"' not in only_unread


def test_a_get_changes_nothing(crm: Context, client: FlaskClient) -> None:
    nid = _notify(crm, "admin", "Look")
    client.get("/notifications/")
    client.get("/notifications/?unread=1")
    assert client.get(f"/notifications/{nid}/open").status_code == 405
    assert client.get("/notifications/read-all").status_code == 405
    assert _read_at(crm, nid) is None


def test_opening_one_marks_it_read_and_follows_its_link(crm: Context,
                                                        client: FlaskClient) -> None:
    nid = _notify(crm, "admin", "Go", link="/account/?q=acme")
    token = csrf(client.get("/notifications/").text)
    assert client.post(f"/notifications/{nid}/open").status_code == 400  # no CSRF token
    assert _read_at(crm, nid) is None
    resp = client.post(f"/notifications/{nid}/open", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/?q=acme"
    assert _read_at(crm, nid) is not None
    assert _count(client) is None


def test_without_a_safe_link_it_goes_back_to_the_list(crm: Context,
                                                      client: FlaskClient) -> None:
    plain = _notify(crm, "admin", "No link", link=None)
    with crm.engine.begin() as conn:  # written past the service, which refuses such links
        bad = int(conn.execute(notifications.insert().values(
            user_id=user_id(crm, "admin"), kind="x", subject="Evil", body="", link="//evil.test",
            created_at=sa.func.current_timestamp()).returning(notifications.c.id)).scalar_one())
    token = csrf(client.get("/notifications/").text)
    for nid in (plain, bad):
        resp = client.post(f"/notifications/{nid}/open", data={"csrf_token": token})
        assert resp.headers["Location"] == "/notifications/"


def test_another_users_notification_is_a_404(crm: Context, web: Any,
                                             client: FlaskClient) -> None:
    theirs = _notify(crm, "rep", "Private")
    token = csrf(client.get("/notifications/").text)
    resp = client.post(f"/notifications/{theirs}/open", data={"csrf_token": token})
    assert resp.status_code == 404
    assert client.post("/notifications/999999/open", data={"csrf_token": token}
                       ).status_code == 404
    assert client.post(f"/notifications/{2**40}/open", data={"csrf_token": token}
                       ).status_code == 404
    assert _read_at(crm, theirs) is None
    rep = web.test_client()
    sign_in(rep, "rep")
    assert "Private" in rep.get("/notifications/").text


def test_mark_all_read(crm: Context, client: FlaskClient) -> None:
    mine = [_notify(crm, "admin", f"N{i}") for i in range(3)]
    theirs = _notify(crm, "rep", "Rep's")
    html = client.get("/notifications/").text
    assert 'id="mark-all-read"' in html
    resp = client.post("/notifications/read-all", data={"csrf_token": csrf(html)},
                       follow_redirects=True)
    assert "3 notifications marked read." in resp.text
    assert all(_read_at(crm, n) is not None for n in mine)
    assert _read_at(crm, theirs) is None
    assert 'id="mark-all-read"' not in resp.text and _count(client) is None


def test_older_pages(crm: Context, client: FlaskClient) -> None:
    ids = [_notify(crm, "admin", f"N{i}") for i in range(52)]
    html = client.get("/notifications/").text
    older = re.search(r'href="([^"]+)" id="older"', html)
    assert older is not None and f'data-id="{ids[-1]}"' in html
    assert f'data-id="{ids[1]}"' not in html
    rest = client.get(older.group(1).replace("&amp;", "&")).text
    assert re.findall(r'data-id="(\d+)"', rest) == [str(ids[1]), str(ids[0])]
    assert client.get("/notifications/?before=abc").status_code == 400
    assert client.get(f"/notifications/?before={2**40}").status_code == 400


def test_the_page_needs_a_sign_in(web: Any) -> None:
    resp = web.test_client().get("/notifications/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_chinese_user_reads_their_notifications_in_chinese(crm: Context, web: Any) -> None:
    from app.i18n import _, use_locale

    set_user(crm, "rep", locale="zh_CN")
    with crm.engine.begin() as conn:
        notify(conn, crm.settings, [user_id(crm, "rep")],
               Notice(kind="test.web", compose=lambda: (_("Pending"), _("Status"))))
    rep = web.test_client()
    with use_locale("en"):  # the request sets the locale of this thread: put it back after
        sign_in(rep, "rep")
        html = rep.get("/notifications/").text
    assert '<html lang="zh-CN">' in html and "待处理" in html and "状态" in html
