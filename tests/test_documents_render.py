"""Rendering a template (app/documents/render.py): the sandbox, the files a template may use,
no network, and a template that fails while rendering is a 422 naming the template and the
line (service, page and API), never a 500, with nothing stored.

One small-pack deployment for the module, with one document per case."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from app.context import Context
from app.documents import RenderFailed, generate, versions
from app.documents.render import cn_upper
from app.records import Actor
from app.records.attachments import AttachmentStore
from tests.apikit import token_for
from tests.documentskit import (
    module_database_url,
    pdf_text,
    records,
    setup,
    small_deployment,
    uses_database,
)
from tests.webkit import csrf, sign_in, user_id, web_app

pytestmark = uses_database()
__all__ = ["module_database_url"]

HITS: list[str] = []


class _Counter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        HITS.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _yaml(*names: str) -> str:
    return "documents:\n" + "".join(
        f"  {n}:\n    entity: account\n    template: {n}.html\n    filename: \"{{name}}\"\n"
        "    lines: {entity: contact, via: account, order: last_name}\n" for n in names)


DOT = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
       "z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
TEMPLATES = {
    "good.html": '<html><head><link rel="stylesheet" href="good.css"></head><body>'
                 '<img src="logo.png"><img src="' + DOT + '">'
                 '<h1>{{ record.name }} 客户资料</h1>{% include "rows.html" %}'
                 '<p>{{ 12345.6 | cn_upper }} {{ document.version }}</p></body></html>',
    "rows.html": "{% for c in lines %}<p>{{ loop.index }}. {{ c.last_name }}</p>{% endfor %}",
    "good.css": "@page { size: A5 } h1 { color: #123456 }",
    "logo.png": "",  # replaced by bytes below
    "broken.html": "<html><body>\n<h1>{{ record.name }}</h1>\n<p>{{ record.name | dec }}</p>\n"
                   "</body></html>",
    "sandboxed.html": "<p>{{ record.__class__.__init__.__globals__ }}</p>",
    "network.html": '<img src="{{ company.website }}/logo.png">'
                    '<link rel="stylesheet" href="{{ company.website }}/x.css">'
                    "<p>{{ record.name }}</p>",
    "escaped.html": "<p>{{ record.name }}</p>",
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = HTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory, module_database_url: str, server: str
        ) -> Iterator[Context]:
    templates: dict[str, str | bytes] = dict(TEMPLATES)
    templates["logo.png"] = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806"
                                          "0000001f15c4890000000d4944415478da63fccfc0500f0004"
                                          "85018084a98c210000000049454e44ae426082")
    c = small_deployment(tmp_path_factory.mktemp("render"), module_database_url, templates,
                         _yaml("good", "broken", "sandboxed", "network", "escaped"),
                         extra_config=f"company: {{website: '{server}'}}\n")
    try:
        yield c
    finally:
        c.dispose()


def _rep(ctx: Context) -> Actor:
    return Actor(user_id(ctx, "rep"), "rep", ("sales_rep",), "zh_CN")


def _account(ctx: Context, name: str = "Acme 上海") -> int:
    rs = records(ctx)
    acc = rs.create("account", {"name": name}, _rep(ctx))
    for last in ("王", "李", "Zhang"):
        rs.create("contact", {"last_name": last, "account": acc["id"]}, _rep(ctx))
    return int(acc["id"])


def _attachments(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.text("select count(*) from sys_attachment")).scalar_one())


def test_includes_stylesheets_images_and_filters_render(ctx: Context) -> None:
    acc = _account(ctx)
    made = generate(records(ctx), _rep(ctx), "good", acc, setup(ctx))
    assert made.filename == "Acme 上海-v1.pdf"
    store = AttachmentStore(ctx.engine, ctx.settings.attachments_dir)
    with store.open(store.get("account", acc, made.attachment_id)) as fh:
        text = pdf_text(fh.read())
    assert "Acme 上海 客户资料" in text
    assert "1. Zhang" in text and "2. 李" in text and "3. 王" in text
    assert "壹万贰仟叁佰肆拾伍元陆角整 1" in text


def test_a_failure_while_rendering_names_the_template_and_line_and_stores_nothing(
        ctx: Context) -> None:
    acc = _account(ctx)
    before = _attachments(ctx)
    with pytest.raises(RenderFailed) as info:
        generate(records(ctx), _rep(ctx), "broken", acc, setup(ctx))
    assert info.value.status == 422
    # the message speaks the document's language (the deployment's: Chinese once translated)
    assert any(m in info.value.message for m in ("broken.html, line 3", "broken.html 第 3 行"))
    assert "is not a number" in info.value.message
    assert _attachments(ctx) == before
    assert versions(records(ctx), "account", acc) == []


def test_the_sandbox_refuses_internals(ctx: Context) -> None:
    acc = _account(ctx)
    with pytest.raises(RenderFailed) as info:
        generate(records(ctx), _rep(ctx), "sandboxed", acc, setup(ctx))
    assert any(m in info.value.message
               for m in ("sandboxed.html, line 1", "sandboxed.html 第 1 行"))


def test_nothing_is_fetched_from_the_network(ctx: Context) -> None:
    acc = _account(ctx)
    HITS.clear()
    made = generate(records(ctx), _rep(ctx), "network", acc, setup(ctx))
    assert made.version == 1 and HITS == []


def test_values_are_escaped(ctx: Context) -> None:
    acc = _account(ctx, "<b>Bold</b> & Co")
    made = generate(records(ctx), _rep(ctx), "escaped", acc, setup(ctx))
    store = AttachmentStore(ctx.engine, ctx.settings.attachments_dir)
    with store.open(store.get("account", acc, made.attachment_id)) as fh:
        assert "<b>Bold</b> & Co" in pdf_text(fh.read())  # shown as text, not markup


def test_a_render_failure_is_a_422_page_and_a_422_json_never_a_500(ctx: Context) -> None:
    acc = _account(ctx)
    app = web_app(ctx)
    c = app.test_client()
    sign_in(c, "rep")
    token = csrf(c.get(f"/account/{acc}").text)
    page = c.post(f"/account/{acc}/documents/broken", data={"csrf_token": token})
    assert page.status_code == 422
    assert "broken.html, line 3" in page.text
    api = app.test_client().post(f"/api/v1/account/{acc}/documents/broken",
                                 headers=token_for(ctx, "rep"))
    assert api.status_code == 422
    assert "broken.html, line 3" in api.get_json()["error"]["message"]


@pytest.mark.parametrize(("amount", "words"), [
    ("0", "零元整"), ("1001", "壹仟零壹元整"), ("10010.5", "壹万零壹拾元伍角整"),
    ("100.01", "壹佰元零壹分"), ("20000100", "贰仟万零壹佰元整"), ("-3.2", "负叁元贰角整"),
    ("123456789.12", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元壹角贰分"), ("abc", "")])
def test_amounts_in_chinese_capitals(amount: str, words: str) -> None:
    assert cn_upper(amount) == words
