"""Links into a list from other pages ("N more" on boards and related lists) use the short
form `f.<field>=<value>` for equality."""

from __future__ import annotations

from flask.testing import FlaskClient

from app.context import Context
from app.records import Actor
from tests.webkit import records_of, user_id


def test_short_equality_filter(client: FlaskClient, web: object, crm: Context) -> None:
    rec = records_of(web)  # type: ignore[arg-type]
    admin = Actor(user_id(crm, "admin"), "admin", ("admin",))
    a = rec.create("account", {"name": "Linked Co"}, admin)
    b = rec.create("account", {"name": "Other Co"}, admin)
    rec.create("contact", {"last_name": "Inside", "account": a["id"]}, admin)
    rec.create("contact", {"last_name": "Outside", "account": b["id"]}, admin)
    resp = client.get(f"/contact/?f.account={a['id']}")
    assert resp.status_code == 200
    assert "Inside" in resp.text and "Outside" not in resp.text
    board = client.get("/opportunity/?f.stage=proposal")
    assert board.status_code == 200
