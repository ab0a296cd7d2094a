"""Generating a quote PDF through the documents service (app/documents): the PDF shows the quote
number, the customer, each line's product in Chinese, the totals, the VAT and the amount in
Chinese capitals; each generation is the next version and older versions stay downloadable;
who may not read or change the quote cannot make one; `when` refuses draft quotes.

One deployment for the module: every test makes its own quote."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.access.shares import share
from app.context import Context
from app.documents import ConditionFails, generate, versions
from app.records import Forbidden, NotFound, Records
from app.records.attachments import AttachmentStore
from tests.documentskit import (
    approved_quote,
    documents_deployment,
    module_database_url,
    pdf_text,
    records,
    setup,
    uses_database,
    who,
)

pytestmark = uses_database()
__all__ = ["module_database_url"]  # the module-scoped database fixture


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory, module_database_url: str
        ) -> Iterator[Context]:
    c = documents_deployment(tmp_path_factory.mktemp("docs"), module_database_url)
    try:
        yield c
    finally:
        c.dispose()


def _pdf(ctx: Context, quote_id: int, attachment_id: int) -> bytes:
    store = AttachmentStore(ctx.engine, ctx.settings.attachments_dir)
    with store.open(store.get("quote", quote_id, attachment_id)) as fh:
        return fh.read()


def test_the_pdf_shows_the_quote_its_chinese_lines_and_the_totals(ctx: Context) -> None:
    quote = approved_quote(ctx)
    made = generate(records(ctx), who(ctx, "rep"), "quote_pdf", quote["id"], setup(ctx))
    assert made.version == 1 and made.filename == f"{quote['number']}-v1.pdf"
    text = pdf_text(_pdf(ctx, quote["id"], made.attachment_id))
    for expected in (quote["number"], "报价单", "上海明远科技有限公司", "明远科技 2027 年度采购",
                     "企业版许可证", "实施服务（华东区）", "Premium support 年度运维",
                     "¥127,000.00",   # subtotal
                     "-¥12,700.00",   # 10% discount
                     "¥114,300.00",   # total
                     "¥11,729.45",    # VAT: 13% on the licences, 6% on the services
                     "壹拾壹万肆仟叁佰元整", "付款方式", "Test CRM", "Page 1 of 1"):
        assert expected in text, expected
    assert made.size == len(_pdf(ctx, quote["id"], made.attachment_id))


def test_versions_count_up_and_older_ones_stay_downloadable(ctx: Context) -> None:
    quote = approved_quote(ctx)
    rep = who(ctx, "rep")
    first = generate(records(ctx), rep, "quote_pdf", quote["id"], setup(ctx))
    records(ctx).update("quote", quote["id"], {"name": "改过的报价"})
    second = generate(records(ctx), rep, "quote_pdf", quote["id"], setup(ctx))
    assert (first.version, second.version) == (1, 2)
    found = versions(records(ctx), "quote", quote["id"])
    assert [(v.version, v.attachment_id) for v in found] == [
        (2, second.attachment_id), (1, first.attachment_id)]
    assert found[0].created_by == "Rep" and found[0].label == "Quote PDF"
    assert found[0].record_version == found[1].record_version + 1
    assert "明远科技 2027 年度采购" in pdf_text(_pdf(ctx, quote["id"], first.attachment_id))
    assert "改过的报价" in pdf_text(_pdf(ctx, quote["id"], second.attachment_id))
    assert "v2" in pdf_text(_pdf(ctx, quote["id"], second.attachment_id))


def test_who_may_not_read_the_quote_cannot_make_or_list_it(ctx: Context) -> None:
    quote = approved_quote(ctx)
    with pytest.raises(NotFound):
        generate(records(ctx), who(ctx, "rep2"), "quote_pdf", quote["id"], setup(ctx))
    with pytest.raises(NotFound):
        versions(Records(ctx.engine, records(ctx).models, actor=who(ctx, "rep2")), "quote",
                 quote["id"])


def test_reading_is_not_enough_to_attach_a_document(ctx: Context) -> None:
    quote = approved_quote(ctx)
    rep2 = who(ctx, "rep2")
    share(records(ctx), "quote", quote["id"], who(ctx, "rep"), user_id=rep2.id, access="read")
    with pytest.raises(Forbidden) as info:
        generate(records(ctx), rep2, "quote_pdf", quote["id"], setup(ctx))
    assert "not change" in info.value.message


def test_a_draft_quote_does_not_meet_when(ctx: Context) -> None:
    quote = approved_quote(ctx, status="draft")
    with pytest.raises(ConditionFails) as info:
        generate(records(ctx), who(ctx, "rep"), "quote_pdf", quote["id"], setup(ctx))
    assert info.value.status == 422
    assert "status in ['approved', 'sent', 'accepted']" in info.value.message
    assert versions(records(ctx), "quote", quote["id"]) == []


def test_an_unknown_document_is_not_found(ctx: Context) -> None:
    quote = approved_quote(ctx)
    with pytest.raises(NotFound):
        generate(records(ctx), who(ctx, "rep"), "invoice_pdf", quote["id"], setup(ctx))


def test_money_follows_the_quote_currency_and_the_user_locale(ctx: Context) -> None:
    quote = approved_quote(ctx, currency="USD", discount=0)
    made = generate(records(ctx), who(ctx, "rep", "en"), "quote_pdf", quote["id"], setup(ctx))
    text = pdf_text(_pdf(ctx, quote["id"], made.attachment_id))
    assert "$127,000.00" in text and "¥" not in text
    assert "企业版许可证" in text and "人民币" not in text  # capitals only for CNY
