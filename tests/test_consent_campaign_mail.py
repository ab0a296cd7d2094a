"""Marketing email from a campaign (app/consent/campaign.py, app/web/campaign_mail.py, the API
and `crm campaign email`): the preview lists who receives it and who is left out and why; the
send reaches only the consented members (a real SMTP server), logs an email per member and
stamps their `sent_at`; a bad subject is a 422, no CSRF token a 400, and only users who may
edit the campaign may send."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.context import Context
from app.model.notify import mails
from tests import mailkit
from tests.apikit import token_for
from tests.consentkit import PASSWORDS, actor, consent, consent_deployment, contact, records
from tests.mailkit import MailBox, rows_of
from tests.webkit import csrf, sign_in, web_app

mail_server = mailkit.mail_server


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, mail_server: MailBox,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    c = consent_deployment(tmp_path, database_url, mail_server=mail_server,
                           workflows=("consent.yaml",), reports=())
    try:
        yield c
    finally:
        c.dispose()


@dataclass
class Campaign:
    id: int
    #: member id of each person
    members: dict[str, int]


def _campaign(ctx: Context) -> Campaign:
    rs = records(ctx)
    mkt = actor(ctx, "mkt")
    camp = rs.create("campaign", {"name": "Spring 春季", "type": "email", "owner": mkt.id})
    yes = contact(rs, "Yes@Example.com", last_name="Yes")
    consent(rs, yes)
    no = contact(rs, "no@example.com", last_name="No")
    gone = contact(rs, "gone@example.com", last_name="Gone")
    kid = consent(rs, gone)
    rs.update("consent", kid, {"status": "withdrawn",
                               "withdrawn_at": "2026-03-01T10:00:00+00:00"})
    out = contact(rs, "out@example.com", last_name="Out", email_opt_out=True)
    consent(rs, out)
    silent = contact(rs, None, last_name="Silent")
    lead = rs.create("lead", {"last_name": "Lead", "company": "Lead Co",
                              "email": "lead@example.com"})["id"]
    people = {"yes": {"contact": yes}, "no": {"contact": no}, "gone": {"contact": gone},
              "out": {"contact": out}, "silent": {"contact": silent}, "lead": {"lead": lead},
              "twice": {"contact": yes}}
    members = {name: int(rs.create("campaign_member", {"campaign": camp["id"], **link,
                                                       "member_name": name.capitalize()})["id"])
               for name, link in people.items()}
    return Campaign(int(camp["id"]), members)


REASONS = {
    "No": "no consent for marketing by email",
    "Gone": "consent withdrawn on 2026-03-01",
    "Out": "opted out of email",
    "Silent": "no email address",
    "Lead": "a lead: consent is recorded on contacts (convert the lead first)",
    "Twice": "another member has the same address",
}


def _reasons(html: str, list_id: str) -> dict[str, str]:
    block = html.split(f'id="{list_id}"', 1)[1].split("</ul>", 1)[0]
    found = re.findall(r'<(?:a|span)[^>]*class="me-auto">([^<]+)</(?:a|span)>.*?'
                       r'crm-reason">([^<]+)</span>', block, re.S)
    return dict(found)


def test_preview_send_and_result(ctx: Context, mail_server: MailBox) -> None:
    camp = _campaign(ctx)
    client = web_app(ctx).test_client()
    sign_in(client, "mkt", PASSWORDS["mkt"])
    page = client.get(f"/campaign/{camp.id}")
    assert f'href="/campaign/{camp.id}/email-members"' in page.text
    assert 'id="campaign-email"' in page.text
    compose = client.get(f"/campaign/{camp.id}/email-members")
    assert compose.status_code == 200
    assert 'id="preview-receiving">1<' in compose.text
    assert 'id="preview-excluded">6<' in compose.text
    assert _reasons(compose.text, "preview-excluded-list") == REASONS
    assert mail_server.messages == [] and rows_of(ctx, mails) == []

    sent = client.post(f"/campaign/{camp.id}/email-members", data={
        "subject": "Spring offer 春季优惠", "body": "Dear customer,\n\nour offer.",
        "csrf_token": csrf(compose.text)})
    assert sent.status_code == 200, sent.text
    assert 'id="sent-count">1<' in sent.text and 'id="blocked-count">6<' in sent.text
    assert _reasons(sent.text, "blocked-list") == REASONS
    [msg] = mail_server.messages
    assert msg["To"] == "Yes@Example.com" and str(msg["Subject"]) == "Spring offer 春季优惠"
    [mail] = rows_of(ctx, mails)
    assert (mail["kind"], mail["status"]) == ("campaign", "sent")
    rs = records(ctx)
    assert rs.get("campaign_member", camp.members["yes"])["sent_at"] is not None
    assert rs.get("campaign_member", camp.members["no"])["sent_at"] is None
    table = rs.table("email")
    with ctx.engine.connect() as conn:
        logged = conn.execute(sa.select(table.c.id)).all()
    assert len(logged) == 1  # one email record, on the consented contact


def test_bad_input_csrf_and_permissions(ctx: Context, mail_server: MailBox) -> None:
    camp = _campaign(ctx)
    client = web_app(ctx).test_client()
    sign_in(client, "mkt", PASSWORDS["mkt"])
    token = csrf(client.get(f"/campaign/{camp.id}/email-members").text)
    bad = client.post(f"/campaign/{camp.id}/email-members",
                      data={"subject": "", "body": "text", "csrf_token": token})
    assert bad.status_code == 422 and "is-invalid" in bad.text
    stale = client.post(f"/campaign/{camp.id}/email-members",
                        data={"subject": "S", "body": "text"})
    assert stale.status_code == 400
    assert client.get("/campaign/999999/email-members").status_code == 404
    assert client.get("/contact/1/email-members").status_code == 404
    assert mail_server.messages == [] and rows_of(ctx, mails) == []

    rep = web_app(ctx).test_client()
    sign_in(rep, "rep")
    assert 'id="campaign-email"' not in rep.get(f"/campaign/{camp.id}").text
    assert rep.get(f"/campaign/{camp.id}/email-members").status_code == 403


def test_api_dry_run_and_send(ctx: Context, mail_server: MailBox) -> None:
    camp = _campaign(ctx)
    client = web_app(ctx).test_client()
    headers = token_for(ctx, "mkt")
    dry = client.post(f"/api/v1/campaign/{camp.id}/email", headers=headers, json={
        "subject": "Hello", "body": "Text", "dry_run": True})
    assert dry.status_code == 200, dry.text
    body = dry.get_json()
    assert [p["address"] for p in body["sent"]] == ["Yes@Example.com"]
    assert {p["name"]: p["reason"] for p in body["blocked"]} == REASONS
    assert rows_of(ctx, mails) == []
    bad = client.post(f"/api/v1/campaign/{camp.id}/email", headers=headers,
                      json={"subject": " ", "body": "Text"})
    assert bad.status_code == 422 and "subject" in bad.text
    assert client.post(f"/api/v1/campaign/{camp.id}/email", headers=headers,
                       json={"subject": "x", "body": "y", "extra": 1}).status_code == 400
    forbidden = client.post(f"/api/v1/campaign/{camp.id}/email",
                            headers=token_for(ctx, "rep"), json={"subject": "x", "body": "y"})
    assert forbidden.status_code == 403
    done = client.post(f"/api/v1/campaign/{camp.id}/email", headers=headers,
                       json={"subject": "Hello", "body": "Text"})
    assert done.status_code == 201 and len(done.get_json()["email_ids"]) == 1
    assert [m["To"] for m in mail_server.messages] == ["Yes@Example.com"]
    doc = client.get("/api/v1/openapi.json", headers=headers).get_json()
    operation = doc["paths"]["/campaign/{id}/email"]["post"]
    assert {"200", "201", "403", "404", "422"} <= set(operation["responses"])
    assert "CampaignEmailed" in doc["components"]["schemas"]


def test_cli(ctx: Context, mail_server: MailBox, tmp_path: Path) -> None:
    from app.cli import main

    camp = _campaign(ctx)
    body = tmp_path / "body.txt"
    body.write_text("Dear customer,\n春季优惠。", encoding="utf-8")
    base = ["--config", str(ctx.settings.config_file), "campaign", "email", str(camp.id),
            "--subject", "Spring", "--body-file", str(body)]
    dry = CliRunner().invoke(main, [*base, "--dry-run", "--as", "mkt"])
    assert dry.exit_code == 0, dry.output
    assert "Would send: 1; blocked: 6." in dry.output and "opted out of email" in dry.output
    assert rows_of(ctx, mails) == []
    refused = CliRunner().invoke(main, [*base, "--as", "rep"])
    assert refused.exit_code == 2 and "Refused" in refused.output
    sent = CliRunner().invoke(main, [*base, "--as", "mkt"])
    assert sent.exit_code == 0 and "Sent: 1; blocked: 6." in sent.output, sent.output
    assert [m["To"] for m in mail_server.messages] == ["Yes@Example.com"]
    assert actor(ctx, "mkt").id is not None
