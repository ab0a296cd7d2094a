"""The detail page's extension points (app/web/recordext.py): a plugin's buttons and side
cards appear on the records it chooses, a post button carries the CSRF token, and a plugin
whose hook fails is left out instead of taking the page down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import plugins
from app.plugins import hookimpl
from app.web import create_app
from app.web.recordext import RecordAction, RecordPanel
from tests.pluginkit import isolated_registries
from tests.webkit import deployment, records_of, sign_in


class Extension:
    @hookimpl
    def crm_record_actions(self, entity: str, record: dict[str, Any]) -> list[RecordAction]:
        if entity != "account":
            return []
        return [RecordAction("ext-get", "Open extra", f"/account/{record['id']}?extra=1"),
                RecordAction("ext-post", "Post extra", f"/account/{record['id']}/extra",
                             method="post", style="success", confirm="Sure?")]

    @hookimpl
    def crm_record_panels(self, entity: str, record: dict[str, Any]) -> list[RecordPanel]:
        if entity != "account":
            return []
        return [RecordPanel("ext-panel", "Extra card", "recordext_test_panel.html",
                            {"word": f"name is {record['name']}"})]


class Broken:
    @hookimpl
    def crm_record_actions(self, entity: str, record: dict[str, Any]) -> list[RecordAction]:
        raise RuntimeError("boom")


@pytest.fixture
def client(tmp_path: Path, database_url: str) -> Iterator[tuple[FlaskClient, int]]:
    with isolated_registries():
        ctx = deployment(tmp_path, database_url, pack="small")
        try:
            pm = plugins.make_plugin_manager([Extension(), Broken()], entry_points=False)
            app = create_app(ctx, plugins=pm, testing=True)
            acc = records_of(app).create("account", {"name": "Acme"})
            app.jinja_loader.searchpath.append(str(tmp_path / "tpl"))  # type: ignore[union-attr]
            (tmp_path / "tpl").mkdir()
            (tmp_path / "tpl" / "recordext_test_panel.html").write_text(
                '<div class="card-body" id="ext-word">{{ ctx.word }}</div>')
            c = app.test_client()
            sign_in(c)
            yield c, int(acc["id"])
        finally:
            ctx.dispose()


def test_buttons_and_cards_of_a_plugin_appear(client: tuple[FlaskClient, int]) -> None:
    c, rid = client
    page = c.get(f"/account/{rid}")
    assert page.status_code == 200
    text = page.text
    assert f'href="/account/{rid}?extra=1" id="ext-get"' in text
    assert f'action="/account/{rid}/extra" data-confirm="Sure?"' in text
    assert 'class="btn btn-success" id="ext-post"' in text
    form = text.split(f'action="/account/{rid}/extra"')[1].split("</form>")[0]
    assert 'name="csrf_token"' in form
    assert 'id="ext-panel"' in text and "Extra card" in text
    assert '<div class="card-body" id="ext-word">name is Acme</div>' in text


def test_other_records_do_not_get_them(client: tuple[FlaskClient, int]) -> None:
    c, _ = client
    contact = c.get("/contact/new")
    assert contact.status_code in (200, 404)  # the small pack may not have contacts
    assert "ext-get" not in contact.text
