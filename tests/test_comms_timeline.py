"""The customer's timeline: an email sent from a deal shows (subject, To, status) in the
timelines of the deal, its contact and its account; the account's page also shows the calls
and notes of its contacts and deals ("on <record>"); past 50 entries "Show more" opens the
paginated communication history."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app.comms.email import OutgoingEmail, send_and_queue
from app.context import Context
from tests.commskit import actor_of, comms_deployment, customer, records
from tests.webkit import sign_in, web_app


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = comms_deployment(tmp_path, database_url)  # no mail server: emails are "skipped"
    try:
        yield c
    finally:
        c.dispose()


@pytest.fixture
def rep(ctx: Context) -> FlaskClient:
    c = web_app(ctx).test_client()
    sign_in(c, "rep")
    return c


def timeline_of(html: str) -> str:
    return html.split('id="timeline"')[1].split("</section>")[0]


def entry(html: str, kind: str) -> str:
    """The first timeline entry of that kind."""
    return timeline_of(html).split(f'data-event="{kind}"')[1].split("</li>")[0]


def test_an_email_shows_in_every_related_timeline(ctx: Context, rep: FlaskClient) -> None:
    me = actor_of(ctx, "rep")
    rs = records(ctx)
    cust = customer(rs, me)
    send_and_queue(ctx, rs, me, OutgoingEmail(
        to=("buyer@example.com",), subject="Proposal 方案", body_text="Attached.",
        entity="opportunity", record_id=cust.opportunity))
    for path in (f"/opportunity/{cust.opportunity}", f"/contact/{cust.contact}",
                 f"/account/{cust.account}"):
        line = entry(rep.get(path).text, "email")
        assert "Proposal 方案" in line, path
        assert "To: buyer@example.com" in re.sub(r"\s+", " ", line), path
        assert "Not sent (no mail server)" in line, path  # the status badge
    # on the account, the email came through its deal... and is linked to it directly too
    assert 'class="text-muted tl-via"' not in entry(rep.get(f"/account/{cust.account}").text,
                                                    "email")


def test_the_account_shows_its_contacts_and_deals_communication(ctx: Context,
                                                                rep: FlaskClient) -> None:
    me = actor_of(ctx, "rep")
    rs = records(ctx)
    cust = customer(rs, me)
    rs.create("activity", {"subject": "Called Li", "kind": "call", "status": "done",
                           "related_contact": cust.contact, "owner": me.id})
    rs.create("note", {"title": "Budget approved", "related_opportunity": cust.opportunity,
                       "owner": me.id})
    other = customer(rs, me, email="else@example.com")
    rs.create("note", {"title": "Elsewhere", "related_contact": other.contact, "owner": me.id})
    html = rep.get(f"/account/{cust.account}").text
    call = entry(html, "activity")
    assert "Called Li" in call and "tl-via" in call and "Li Wang" in call
    note = entry(html, "note")
    assert "Budget approved" in note and "Big deal" in note
    assert "Elsewhere" not in timeline_of(html)
    # the contact's page shows what is on its deals, not its colleagues'
    contact = rep.get(f"/contact/{cust.contact}").text
    assert "Budget approved" in timeline_of(contact) and "Called Li" in timeline_of(contact)
    assert "Budget approved" not in timeline_of(rep.get(f"/contact/{cust.colleague}").text)


def test_show_more_pages_through_the_history(ctx: Context, rep: FlaskClient) -> None:
    me = actor_of(ctx, "rep")
    rs = records(ctx)
    cust = customer(rs, me)
    rs.write_many("note", [(None, {"title": f"Note {i:02d}", "related_contact": cust.contact,
                                   "owner": me.id}, None) for i in range(55)], me)
    html = rep.get(f"/account/{cust.account}").text
    assert f'href="/account/{cust.account}/communications"' in timeline_of(html)
    first = rep.get(f"/account/{cust.account}/communications").text
    shown = re.findall(r">Note (\d\d)<", first)
    assert len(shown) == 50 and shown[0] == "54"
    assert 'id="history-older"' in first
    second = rep.get(f"/account/{cust.account}/communications?page=2").text
    assert re.findall(r">Note (\d\d)<", second) == ["04", "03", "02", "01", "00"]
    assert 'id="history-older"' not in second
    assert rep.get(f"/account/{cust.account}/communications?page=x").status_code == 200
    assert rep.get("/account/999999/communications").status_code == 404


def test_a_record_with_few_events_has_no_show_more(ctx: Context, rep: FlaskClient) -> None:
    cust = customer(records(ctx), actor_of(ctx, "rep"))
    assert "timeline-more" not in rep.get(f"/account/{cust.account}").text
