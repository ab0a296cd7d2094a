"""The emails API: POST /api/v1/<entity>/<id>/emails sends (201, the ids; 422 with the problems
by field; 400 for a malformed body; 404 for a record the caller may not see; a read-only token
may not), GET lists the record's emails with their status; the OpenAPI document describes the
operations and they answer as it says (schemathesis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.context import Context
from app.records.attachments import AttachmentStore
from tests import mailkit
from tests.apikit import conformance_failures, error_of, token_for
from tests.commskit import actor_of, comms_deployment, count, customer, records
from tests.mailkit import MailBox
from tests.webkit import web_app

mail_server = mailkit.mail_server


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, mail_server: MailBox) -> Iterator[Context]:
    c = comms_deployment(tmp_path, database_url, mail_server)
    try:
        yield c
    finally:
        c.dispose()


@pytest.fixture
def app(ctx: Context) -> Flask:
    return web_app(ctx)


def test_send_and_list(ctx: Context, app: Flask, mail_server: MailBox) -> None:
    me = actor_of(ctx, "rep")
    cust = customer(records(ctx), me)
    pdf = AttachmentStore(ctx.engine, ctx.settings.attachments_dir).save(
        "contact", cust.contact, "brochure.pdf", b"%PDF brochure", user_id=me.id)
    api = app.test_client()
    rep = token_for(ctx, "rep")
    url = f"/api/v1/contact/{cust.contact}/emails"
    resp = api.post(url, headers=rep, json={
        "to": ["buyer@example.com"], "cc": ["boss@example.com"], "subject": "资料",
        "body_text": "Please find the brochure.", "attachment_ids": [pdf.id]})
    assert resp.status_code == 201, resp.text
    body = resp.get_json()
    assert body["blocked"] == {} and len(body["email_ids"]) == 1 and len(body["mail_ids"]) == 2
    assert len(mail_server.messages) == 2  # queued after the commit, sent at once here
    listed = api.get(url, headers=rep).get_json()["data"]
    assert [(e["id"], e["subject"], e["status"], e["to"], e["cc"]) for e in listed] == [
        (body["email_ids"][0], "资料", "sent", "buyer@example.com", "boss@example.com")]
    account = api.get(f"/api/v1/account/{cust.account}/emails", headers=rep).get_json()
    assert [e["id"] for e in account["data"]] == body["email_ids"]


def test_refusals(ctx: Context, app: Flask, mail_server: MailBox) -> None:
    rs = records(ctx)
    cust = customer(rs, actor_of(ctx, "rep"))
    theirs = customer(rs, actor_of(ctx, "rep2"), email="x@example.com")
    api = app.test_client()
    rep = token_for(ctx, "rep")
    url = f"/api/v1/contact/{cust.contact}/emails"
    bad = api.post(url, headers=rep, json={"to": ["buyer@example.com", "nope"], "subject": "",
                                           "body_text": "x"})
    assert bad.status_code == 422
    error = error_of(bad)
    assert "'nope' is not an email address" in error["fields"]["to"][0]
    assert "subject" in error["fields"]
    assert api.post(url, headers=rep, json={"to": ["a@b.cn"], "subject": "x", "body_text": "y",
                                            "bcc": ["c@d.cn"]}).status_code == 400
    assert api.post(url, headers=rep, json=["a@b.cn"]).status_code == 400
    assert api.post(url, headers=rep, json={"to": "a@b.cn", "subject": "x",
                                            "body_text": "y"}).status_code == 400
    assert api.post(url, headers=rep, json={"to": ["a@b.cn"], "subject": "x", "body_text": "y",
                                            "purpose": "spam"}).status_code == 400
    other = f"/api/v1/opportunity/{theirs.opportunity}/emails"
    assert api.post(other, headers=rep, json={"to": ["a@b.cn"], "subject": "x",
                                              "body_text": "y"}).status_code == 404
    assert api.get(other, headers=rep).status_code == 404
    read_only = token_for(ctx, "rep", scope="read")
    assert api.post(url, headers=read_only, json={"to": ["a@b.cn"], "subject": "x",
                                                  "body_text": "y"}).status_code == 403
    assert count(ctx, "sys_mail") == 0 and count(ctx, "ent_email") == 0
    assert mail_server.messages == []


def test_the_operations_are_documented_and_conform(ctx: Context, app: Flask) -> None:
    cust = customer(records(ctx), actor_of(ctx, "admin"))
    assert cust.contact
    headers = token_for(ctx, "admin")
    doc = app.test_client().get("/api/v1/openapi.json", headers=headers).get_json()
    for path in ("/contact/{id}/emails", "/account/{id}/emails", "/opportunity/{id}/emails",
                 "/lead/{id}/emails", "/case/{id}/emails", "/quote/{id}/emails",
                 "/activities/overdue"):
        assert path in doc["paths"], path
    assert "/product/{id}/emails" not in doc["paths"]
    assert doc["paths"]["/contact/{id}/emails"]["post"]["requestBody"]["content"][
        "application/json"]["schema"] == {"$ref": "#/components/schemas/EmailSend"}
    operations, failures = conformance_failures(
        app, headers, r"^/(contact/\{id\}/emails|activities/overdue)$")
    assert operations == 3
    assert not failures, "\n\n".join(failures)
