"""Optimistic locking in the edit form: two people edit one record; the second save gets a
conflict (409) naming who changed what, nothing is overwritten, the second person's values stay
in the form, and saving again deliberately applies them."""

from __future__ import annotations

import re
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient

from app.records import SYSTEM
from tests.webkit import csrf, records_of, sign_in, user_id

FIELDS = {"name": "Big deal", "stage": "proposal", "amount": "1000", "probability": "50"}


def opened(c: FlaskClient, url: str) -> tuple[str, str]:
    """The CSRF token and the version of the edit form at `url`."""
    html = c.get(url).text
    version = re.search(r'name="_version" value="(\d+)"', html)
    assert version
    return csrf(html), version.group(1)


def test_second_save_gets_the_conflict_then_applies_deliberately(client: FlaskClient,
                                                                 web: Flask) -> None:
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme"}, SYSTEM)["id"]
    rep_id = user_id(web.extensions["crm"].ctx, "rep")  # the rep's deal: they may edit it
    opp = rec.create("opportunity", {**FIELDS, "account": acc, "owner": rep_id}, SYSTEM)["id"]
    url = f"/opportunity/{opp}/edit"
    rep = web.test_client()
    sign_in(rep, "rep")
    admin_token, admin_version = opened(client, url)
    rep_token, rep_version = opened(rep, url)
    assert admin_version == rep_version == "1"

    first = client.post(url, data={**FIELDS, "account": str(acc), "amount": "2000",
                                   "stage": "negotiation", "_version": admin_version,
                                   "csrf_token": admin_token})
    assert first.status_code == 302

    second = rep.post(url, data={**FIELDS, "account": str(acc), "name": "Rep's name",
                                 "_version": rep_version, "csrf_token": rep_token})
    assert second.status_code == 409
    html = second.text
    assert 'id="conflict"' in html and "admin" in html
    table = html[html.index('id="conflict"'):html.index("</table>")]
    amount = re.search(r'data-conflict-field="amount">(.*?)</tr>', table, re.S)
    assert amount and "Amount" in amount.group(1)
    assert "1,000" in amount.group(1) and "2,000" in amount.group(1)  # opened at, theirs now
    stage = re.search(r'data-conflict-field="stage">(.*?)</tr>', table, re.S)
    assert stage and "Proposal" in stage.group(1) and "Negotiation" in stage.group(1)
    assert "admin" in stage.group(1)
    # nothing was overwritten
    now = rec.get("opportunity", opp)
    assert now["name"] == "Big deal" and now["amount"] == Decimal("2000") and now["version"] == 2
    # the rep's values are kept and the form now carries the current version
    assert re.search(r'name="name"[^>]*value="Rep&#39;s name"', html)
    assert 'name="_version" value="2"' in html
    assert "crm-theirs" in html  # their value shown beside the changed field

    # fields the rep left untouched now show the admin's values, so saving the form as shown
    # keeps the admin's change instead of silently putting the old value back
    assert re.search(r'name="amount"[^>]*value="2,?000', html), "their amount is in the form"
    assert re.search(r'<option(?=[^>]*value="negotiation")(?=[^>]*selected)[^>]*>', html)
    again = rep.post(url, data={**FIELDS, "account": str(acc), "name": "Rep's name",
                                "amount": "2000", "stage": "negotiation",
                                "_version": "2", "csrf_token": rep_token})
    assert again.status_code == 302
    final = rec.get("opportunity", opp)
    assert final["name"] == "Rep's name" and final["version"] == 3
    assert final["amount"] == Decimal("2000") and final["stage"] == "negotiation"


def test_conflict_with_validation_problems_still_shows_the_conflict(client: FlaskClient,
                                                                   web: Flask) -> None:
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme"}, SYSTEM)["id"]
    url = f"/account/{acc}/edit"
    token, version = opened(client, url)
    rec.update("account", acc, {"name": "Acme Group", "vip": True}, SYSTEM, version=1)
    resp = client.post(url, data={"name": "", "_version": version, "csrf_token": token})
    assert resp.status_code == 409 and "Acme Group" in resp.text
    retry = client.post(url, data={"name": "", "_version": "2", "csrf_token": token})
    assert retry.status_code == 422 and "Account name is required." in retry.text
    assert rec.get("account", acc)["name"] == "Acme Group"


def test_deleted_meanwhile_is_a_404(client: FlaskClient, web: Flask) -> None:
    rec = records_of(web)
    acc = rec.create("account", {"name": "Gone"}, SYSTEM)["id"]
    url = f"/account/{acc}/edit"
    token, version = opened(client, url)
    rec.delete("account", acc, SYSTEM)
    resp = client.post(url, data={"name": "Back", "_version": version, "csrf_token": token})
    assert resp.status_code == 404
