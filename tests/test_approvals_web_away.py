"""/approvals/out-of-office: the signed-in user names a delegate (another active user) with an
optional start and end, sees the current delegation, clears it; bad input comes back on the form
with what was typed; new tasks then go to the delegate."""

from __future__ import annotations

from datetime import UTC, datetime
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.model.system import users
from app.workflow.approvals.delegation import delegation_of
from tests import approvalkit
from tests.approvalkit import Flow, signed_in
from tests.webkit import csrf, web_app

URL = "/approvals/out-of-office"


ctx = approvalkit.approval_ctx


@pytest.fixture
def web(ctx: Context) -> Flask:
    return web_app(ctx)


user = signed_in


def post(client: FlaskClient, **data: str) -> tuple[int, str]:
    resp = client.post(URL, data={"csrf_token": csrf(client.get(URL).text), **data},
                       follow_redirects=True)
    return resp.status_code, unescape(resp.text)


def delegation(ctx: Context, name: str) -> object:
    with ctx.engine.connect() as conn:
        return delegation_of(conn, Flow(ctx).who(name).id or 0)


def test_set_use_and_clear_a_delegation(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    manager = user(web, "manager")
    page = unescape(manager.get(URL).text)
    assert "Your approvals are not delegated" in page and 'id="delegation-clear"' not in page
    director2 = flow.who("director2").id
    status, html = post(manager, action="save", delegate=str(director2))
    assert status == 200 and "Director2 now gets your new approval tasks." in html
    assert "Director2 gets your new approval tasks now until you clear it." in html
    approval = flow.as_user("rep").submit("quote", flow.quote(discount=30), flow.who("rep"))
    assert flow.assignees(approval) == ["director2"]
    box = unescape(user(web, "director2").get("/approvals/").text)
    assert "for Manager (out of office)" in box
    status, html = post(manager, action="clear")
    assert "Your approvals are no longer delegated." in html and delegation(ctx, "manager") is None
    post(manager, action="save", delegate=str(director2))
    other = unescape(user(web, "rep").get(URL).text)  # each user sees their own delegation
    assert "Your approvals are not delegated" in other


def test_a_delegation_with_start_and_end(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    manager = user(web, "manager")
    status, html = post(manager, action="save", delegate=str(flow.who("director").id),
                        starts_at="2026-11-10T08:00", ends_at="2026-11-20T18:30")
    assert status == 200 and "will get your new approval tasks from" in html
    found = delegation(ctx, "manager")
    assert found is not None
    assert found.starts_at == datetime(2026, 11, 10, 8, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    assert found.ends_at == datetime(2026, 11, 20, 18, 30, tzinfo=UTC)  # type: ignore[attr-defined]
    page = manager.get(URL).text
    assert 'value="2026-11-10T08:00"' in page and 'value="2026-11-20T18:30"' in page


def test_bad_input_stays_on_the_form(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    manager = user(web, "manager")
    me, director = flow.who("manager").id, flow.who("director").id
    for data, message in (
            ({"delegate": ""}, "Choose who approves for you."),
            ({"delegate": str(me)}, "Choose someone else than yourself."),
            ({"delegate": "999999"}, "Choose an active user."),
            ({"delegate": str(director), "starts_at": "next week"},
             "Enter a date and time like 2026-11-02 09:00."),
            ({"delegate": str(director), "starts_at": "2026-11-20T10:00",
              "ends_at": "2026-11-10T10:00"}, "The end must be after the start."),
            ({"delegate": str(director), "ends_at": "2026-01-01T10:00"},
             "The end must be in the future.")):
        resp = manager.post(URL, data={"csrf_token": csrf(manager.get(URL).text),
                                       "action": "save", **data})
        html = unescape(resp.text)
        assert resp.status_code == 422 and message in html, data
        assert "Nothing was saved" in html
        for key in ("starts_at", "ends_at"):  # what was typed is kept
            if key in data:
                assert f'value="{data[key]}"' in html, key
        if data["delegate"] == str(director):
            assert f'<option value="{director}" selected>' in html
    with ctx.engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == director).values(active=False))
    assert f'<option value="{director}"' not in manager.get(URL).text  # inactive: not offered
    status, html = post(manager, action="save", delegate=str(director))
    assert status == 422 and "Choose an active user." in html
    assert delegation(ctx, "manager") is None
    assert manager.post(URL, data={"action": "save",
                                   "delegate": str(flow.who("rep").id)}).status_code == 400
    assert delegation(ctx, "manager") is None


def test_a_delegate_who_delegates_back_is_refused(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    post(user(web, "director"), action="save", delegate=str(flow.who("manager").id))
    status, html = post(user(web, "manager"), action="save",
                        delegate=str(flow.who("director").id))
    assert status == 422 and "delegates their approvals to you" in html
    assert delegation(ctx, "manager") is None
