"""The documents API (app/api/documents.py): POST generates the next version (201 with its
download URL), GET lists the versions and downloads one PDF; refusals are JSON (404 for a quote
the caller may not read, 403 for a read-only token, 422 when `when` fails); the OpenAPI
document describes the three operations for entities with documents.

One deployment and one app for the module: every test makes its own quote."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from app.context import Context
from tests.apikit import error_of, token_for
from tests.documentskit import (
    approved_quote,
    documents_deployment,
    module_database_url,
    pdf_text,
    uses_database,
)
from tests.webkit import web_app

pytestmark = uses_database()
__all__ = ["module_database_url"]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory, module_database_url: str
        ) -> Iterator[Context]:
    c = documents_deployment(tmp_path_factory.mktemp("docapi"), module_database_url)
    try:
        yield c
    finally:
        c.dispose()


@pytest.fixture(scope="module")
def app(ctx: Context) -> Flask:
    return web_app(ctx)


def test_generate_list_and_download(ctx: Context, app: Flask) -> None:
    quote = approved_quote(ctx)
    c, rep = app.test_client(), token_for(ctx, "rep")
    base = f"/api/v1/quote/{quote['id']}/documents"
    made = c.post(f"{base}/quote_pdf", headers=rep)
    assert made.status_code == 201, made.text
    body = made.get_json()
    assert body["version"] == 1 and body["document"] == "quote_pdf"
    assert body["filename"] == f"{quote['number']}-v1.pdf" and body["created_by"] == "Rep"
    assert body["download_url"] == f"{base}/quote_pdf/1"
    assert body["web_url"] == f"/quote/{quote['id']}/attachments/{body['attachment_id']}"
    again = c.post(f"{base}/quote_pdf", headers=rep).get_json()
    assert again["version"] == 2
    listed = c.get(base, headers=rep).get_json()["data"]
    assert [v["version"] for v in listed] == [2, 1]
    assert c.get(f"{base}?document=quote_pdf", headers=rep).get_json()["data"] == listed
    with c.get(body["download_url"], headers=rep) as pdf:
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        data = pdf.data
    assert len(data) == body["size"]
    text = pdf_text(data)
    assert quote["number"] in text and "企业版许可证" in text and "报价单" in text
    assert error_of(c.get(f"{base}/quote_pdf/3", headers=rep))["status"] == 404


def test_refusals_are_json(ctx: Context, app: Flask) -> None:
    c = app.test_client()
    quote = approved_quote(ctx)
    base = f"/api/v1/quote/{quote['id']}/documents"
    assert error_of(c.post(f"{base}/quote_pdf", headers=token_for(ctx, "rep2")))["status"] \
        == 404
    assert error_of(c.get(base, headers=token_for(ctx, "rep2")))["status"] == 404
    read_only = token_for(ctx, "rep", scope="read")
    assert error_of(c.post(f"{base}/quote_pdf", headers=read_only))["status"] == 403
    assert c.get(base, headers=read_only).status_code == 200
    assert error_of(c.post(f"{base}/nope", headers=token_for(ctx, "rep")))["status"] == 404
    assert error_of(c.post(f"{base}/quote_pdf", headers=token_for(ctx, "rep"),
                           json={"x": 1}))["status"] == 400
    draft = approved_quote(ctx, status="draft")
    refused = c.post(f"/api/v1/quote/{draft['id']}/documents/quote_pdf",
                     headers=token_for(ctx, "rep"))
    assert error_of(refused)["status"] == 422
    assert "status in ['approved', 'sent', 'accepted']" in refused.get_json()["error"]["message"]


def test_the_openapi_document_describes_the_documents(ctx: Context, app: Flask) -> None:
    doc = app.test_client().get("/api/v1/openapi.json", headers=token_for(ctx, "rep")).get_json()
    paths = doc["paths"]
    assert set(paths["/quote/{id}/documents"]) == {"get"}
    post = paths["/quote/{id}/documents/{name}"]["post"]
    assert post["parameters"][1]["schema"]["enum"] == ["quote_pdf"]
    assert {"201", "404", "422", "423"} <= set(post["responses"])
    pdf = paths["/quote/{id}/documents/{name}/{version}"]["get"]["responses"]["200"]
    assert "application/pdf" in pdf["content"]
    assert "/account/{id}/documents" not in paths
    assert "DocumentVersion" in doc["components"]["schemas"]
