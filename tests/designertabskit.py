"""Test kit for the designer's permission, workflow and history tabs: the default pack with
its workflows published WITH its files (tests/designerkit.py), a web app on it, a signed-in
admin's client, and reading a page's form as a browser would send it."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from app.context import Context
from app.designer.service import Designer
from app.records import Actor, Records
from app.web.state import WebState
from tests.designerkit import designer_deployment
from tests.webkit import sign_in, web_app

SYSTEM = Actor(None, "system", ("admin",))


def designer_web(ctx: Context) -> Flask:
    """A web app of the live version (make a new one after an apply: it serves one version)."""
    return web_app(ctx)


def admin_client(ctx: Context, username: str = "admin") -> FlaskClient:
    client = designer_web(ctx).test_client()
    sign_in(client, username)
    return client


def draft_changes(ctx: Context, author: str = "admin") -> list[dict[str, Any]]:
    return Designer(ctx).draft(author).changes


def live_records(app: Flask) -> Records:
    st: WebState = app.extensions["crm"]
    assert st.models is not None
    return Records(st.ctx.engine, st.models, plugins=st.plugins)


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    """Bind in a test module: `ctx = designertabskit.ctx`."""
    made = designer_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


class _FormReader(HTMLParser):
    """The fields a browser would send for one form (buttons left out)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.multiple = False
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside or "disabled" in a:
            return
        name = a.get("name", "")
        kind = a.get("type", "text")
        if tag == "input" and name and kind not in ("submit", "button"):
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((name, a.get("value", "on" if kind in ("checkbox", "radio")
                                             else "")))
        elif tag == "select" and name:
            self.select, self.multiple, self.options = name, "multiple" in a, []
        elif tag == "option" and self.select is not None:
            self.options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and name:
            self.textarea, self.text = name, ""

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self.select is not None:
            chosen = [v for v, on in self.options if on]
            if not chosen and not self.multiple and self.options:
                chosen = [self.options[0][0]]
            self.fields.extend((self.select, v) for v in chosen)
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, self.text.removeprefix("\n")))
            self.textarea = None


def form_fields(html: str, form_id: str) -> list[tuple[str, str]]:
    """What the form `form_id` of a page sends as it is: (name, value) in order."""
    reader = _FormReader(form_id)
    reader.feed(html)
    assert reader.fields, f"no form #{form_id} on the page"
    return reader.fields


def changed(fields: list[tuple[str, str]], **values: str | list[str]) -> MultiDict[str, str]:
    """`fields` with `values` set instead (a list: several values of one name)."""
    out = MultiDict([(k, v) for k, v in fields if k not in values])
    for key, value in values.items():
        for one in [value] if isinstance(value, str) else value:
            out.add(key, one)
    return out
