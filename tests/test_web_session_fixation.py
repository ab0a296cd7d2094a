"""Session fixation: signing in starts a fresh session (nothing planted before it survives but
the chosen language); signing out clears everything."""

from __future__ import annotations

from typing import Any

from tests.webkit import csrf, sign_in


def cookie(client: Any) -> str | None:
    c = client.get_cookie("session")
    return c.value if c is not None else None


def test_values_planted_before_sign_in_do_not_survive(web: Any) -> None:
    c = web.test_client()
    c.get("/login")
    with c.session_transaction() as sess:
        sess["planted"] = "attacker"
        sess["_fresh"] = True
        sess["locale"] = "zh_CN"
    before_token = csrf(c.get("/login").text)
    before = cookie(c)
    sign_in(c)
    with c.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["_user_id"] == "1"
        assert sess["locale"] == "zh_CN"  # the language chosen before signing in stays
        assert sess.get("csrf_token") != before_token
    assert cookie(c) != before
    # the cookie from before signing in is still anonymous
    old = web.test_client()
    old.set_cookie("session", before or "")
    assert old.get("/").status_code == 302


def test_the_saved_language_wins_over_the_chosen_one(web: Any) -> None:
    import sqlalchemy as sa

    from app.model.system import users

    with web.extensions["crm"].ctx.engine.begin() as conn:
        conn.execute(sa.update(users).where(users.c.username == "admin").values(locale="en"))
    c = web.test_client()
    c.get("/login")
    with c.session_transaction() as sess:
        sess["locale"] = "zh_CN"
    sign_in(c)
    with c.session_transaction() as sess:
        assert sess["locale"] == "en"


def test_bogus_language_in_the_session_is_dropped(web: Any) -> None:
    c = web.test_client()
    c.get("/login")
    with c.session_transaction() as sess:
        sess["locale"] = "<script>"
    sign_in(c)
    with c.session_transaction() as sess:
        assert "locale" not in sess


def test_sign_out_clears_everything(client: Any) -> None:
    with client.session_transaction() as sess:
        sess["planted"] = "x"
        sess["locale"] = "zh_CN"
    token = csrf(client.get("/").text)
    resp = client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 302
    with client.session_transaction() as sess:
        assert dict(sess) == {}
    assert client.get("/").status_code == 302
