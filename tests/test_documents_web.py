"""Documents on the quote page (app/web/documents.py): the "Generate Quote PDF" button on an
approved quote (not on a draft, not for a user who may not change it), its POST (CSRF) sending
the browser to the PDF's download, and the "Documents" card listing the versions, each
downloadable, with "Email to customer" when the compose page exists.

One deployment and one app for the module: every test makes its own quote."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from tests.documentskit import (
    approved_quote,
    documents_deployment,
    module_database_url,
    pdf_text,
    uses_database,
)
from tests.webkit import csrf, sign_in, web_app

pytestmark = uses_database()
__all__ = ["module_database_url"]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory, module_database_url: str
        ) -> Iterator[Context]:
    c = documents_deployment(tmp_path_factory.mktemp("docweb"), module_database_url)
    try:
        yield c
    finally:
        c.dispose()


@pytest.fixture(scope="module")
def app(ctx: Context) -> Flask:
    return web_app(ctx)


def _client(app: Flask, username: str) -> FlaskClient:
    c = app.test_client()
    sign_in(c, username)
    return c


def _generate(c: FlaskClient, quote_id: int) -> Any:
    page = c.get(f"/quote/{quote_id}")
    return c.post(f"/quote/{quote_id}/documents/quote_pdf", data={"csrf_token": csrf(page.text)})


def test_an_approved_quote_offers_the_button_and_an_empty_documents_card(
        ctx: Context, app: Flask) -> None:
    quote = approved_quote(ctx)
    page = _client(app, "rep").get(f"/quote/{quote['id']}")
    assert page.status_code == 200
    form = re.search(r'<form method="post" action="/quote/\d+/documents/quote_pdf">(.*?)</form>',
                     page.text, re.S)
    assert form is not None and 'name="csrf_token"' in form.group(1)
    assert 'id="document-quote_pdf">Generate Quote PDF</button>' in form.group(1)
    assert 'id="documents"' in page.text and "No documents were generated yet." in page.text


def test_a_draft_quote_has_no_button_and_posting_is_refused_with_the_reason(
        ctx: Context, app: Flask) -> None:
    quote = approved_quote(ctx, status="draft")
    c = _client(app, "rep")
    page = c.get(f"/quote/{quote['id']}")
    assert "document-quote_pdf" not in page.text and 'id="documents"' in page.text
    refused = _generate(c, quote["id"])
    assert refused.status_code == 422
    assert "it must meet status in" in refused.text.replace("&#39;", "'")


def test_generating_downloads_the_pdf_and_the_card_lists_each_version(
        ctx: Context, app: Flask) -> None:
    quote = approved_quote(ctx)
    c = _client(app, "rep")
    first = _generate(c, quote["id"])
    assert first.status_code == 303
    assert re.fullmatch(rf"/quote/{quote['id']}/attachments/\d+", first.location)
    with c.get(first.location) as pdf:
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        assert f"{quote['number']}-v1.pdf" in pdf.headers["Content-Disposition"]
        data = pdf.data
    assert "企业版许可证" in pdf_text(data) and quote["number"] in pdf_text(data)
    second = _generate(c, quote["id"])
    assert second.location != first.location
    page = c.get(f"/quote/{quote['id']}")
    card = page.text.split('id="documents"')[1].split("</section>")[0]
    assert card.index('data-document-version="2"') < card.index('data-document-version="1"')
    assert f'href="{first.location}"' in card and f'href="{second.location}"' in card
    assert "Quote PDF" in card and "Rep" in card
    with c.get(first.location) as again:  # the older version still downloads
        assert again.data == data


def test_email_to_customer_links_to_the_compose_page_when_it_exists(
        ctx: Context, app: Flask) -> None:
    quote = approved_quote(ctx)
    c = _client(app, "rep")
    made = _generate(c, quote["id"]).location
    attachment_id = made.rsplit("/", 1)[1]
    link = f'href="/quote/{quote["id"]}/email/new?attach={attachment_id}"'
    had = app.view_functions.get("email.compose")
    try:
        app.view_functions["email.compose"] = had or (lambda: "")
        assert link in c.get(f"/quote/{quote['id']}").text
        del app.view_functions["email.compose"]
        assert link not in c.get(f"/quote/{quote['id']}").text
    finally:
        if had is not None:
            app.view_functions["email.compose"] = had


def test_others_cannot_see_or_generate(ctx: Context, app: Flask) -> None:
    quote = approved_quote(ctx)
    c = _client(app, "rep2")
    assert c.get(f"/quote/{quote['id']}").status_code == 404
    token = csrf(c.get("/").text)
    gone = c.post(f"/quote/{quote['id']}/documents/quote_pdf", data={"csrf_token": token})
    assert gone.status_code == 404


def test_posting_needs_the_csrf_token(ctx: Context, app: Flask) -> None:
    quote = approved_quote(ctx)
    refused = _client(app, "rep").post(f"/quote/{quote['id']}/documents/quote_pdf")
    assert refused.status_code == 400


def test_an_unknown_document_is_not_found(ctx: Context, app: Flask) -> None:
    quote = approved_quote(ctx)
    c = _client(app, "rep")
    token = csrf(c.get(f"/quote/{quote['id']}").text)
    assert c.post(f"/quote/{quote['id']}/documents/nope",
                  data={"csrf_token": token}).status_code == 404
