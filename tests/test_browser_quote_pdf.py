"""In a real browser: a sales rep opens an approved quote, clicks "Generate Quote PDF", receives
the PDF as a download (its text holds the quote number and Chinese text), and after a reload
the Documents card lists the version with its download link."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.context import Context
from tests.documentskit import approved_quote, documents_deployment, pdf_text
from tests.webkit import browser_sign_in, live_server


def test_a_rep_generates_and_downloads_a_quote_pdf(browser: Any, tmp_path: Path,
                                                    database_url: str, artifacts: Path) -> None:
    ctx: Context = documents_deployment(tmp_path / "crm", database_url)
    try:
        quote = approved_quote(ctx)
        with live_server(ctx) as base:
            page = browser.new_page(viewport={"width": 1280, "height": 900},
                                    accept_downloads=True)
            try:
                browser_sign_in(page, base, "rep")
                page.goto(f"{base}/quote/{quote['id']}")
                page.wait_for_load_state("load")
                button = page.locator("#document-quote_pdf")
                assert button.inner_text() == "Generate Quote PDF"
                with page.expect_download() as info:
                    button.click()
                download = info.value
                assert download.suggested_filename == f"{quote['number']}-v1.pdf"
                saved = tmp_path / "quote.pdf"
                download.save_as(str(saved))
                text = pdf_text(saved.read_bytes())
                assert quote["number"] in text
                for chinese in ("报价单", "企业版许可证", "上海明远科技有限公司"):
                    assert chinese in text, chinese
                page.reload()
                card = page.locator("#documents")
                card.locator("[data-document-version='1']").wait_for()
                assert f"{quote['number']}-v1.pdf" in card.inner_text()
                page.screenshot(path=str(artifacts / "quote-documents.png"), full_page=True)
            finally:
                page.close()
    finally:
        ctx.dispose()
