"""Test kit for the designer's web pages: the default pack published with its files
(tests/designerkit.py), served by the Runtime (so a publish swaps the app on the next
request), and a signed-in client that posts forms with their CSRF token.

    web = DesignerWeb(ctx)                      # signed in as admin
    web.post("/designer/entities/account/fields/new", {...})
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from app.context import Context
from app.runtime import Runtime
from tests.designerkit import designer_deployment
from tests.webkit import USERS, csrf

#: the form of a new picklist field with two coloured choices (what the field page posts)
TIER_FORM: dict[str, str] = {
    "name": "tier", "type": "picklist", "label_en": "Loyalty tier", "label_zh": "会员等级",
    "choice-0-value": "gold", "choice-0-label_en": "Gold", "choice-0-label_zh": "金卡",
    "choice-0-use_color": "on", "choice-0-color": "#d4a017",
    "choice-1-value": "silver", "choice-1-label_en": "Silver", "choice-1-label_zh": "银卡",
    "choice-1-use_color": "on", "choice-1-color": "#a8a9ad",
}


class DesignerWeb:
    """A client of the Runtime, signed in as `username`."""

    def __init__(self, ctx: Context, username: str = "admin",
                 runtime: Runtime | None = None) -> None:
        self.ctx = ctx
        self.client = Client(runtime or Runtime(ctx))
        password = dict((u, p) for u, p, _ in USERS)[username]
        token = csrf(self.client.get("/login").get_data(as_text=True))
        resp = self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": token})
        assert resp.status_code == 302, resp.get_data(as_text=True)

    def get(self, url: str, **kw: Any) -> TestResponse:
        return self.client.get(url, **kw)

    def page(self, url: str) -> str:
        resp = self.client.get(url)
        assert resp.status_code == 200, (url, resp.status_code, resp.get_data(as_text=True))
        return resp.get_data(as_text=True)

    def token(self) -> str:
        return csrf(self.page("/me/password"))

    def post(self, url: str, data: dict[str, Any] | list[tuple[str, str]] | None = None,
             **kw: Any) -> TestResponse:
        """POST `data` (a dict, or pairs for repeated keys) with a CSRF token."""
        pairs = list(data.items()) if isinstance(data, dict) else list(data or [])
        from werkzeug.datastructures import MultiDict

        form = MultiDict([*pairs, ("csrf_token", self.token())])
        return self.client.post(url, data=form, **kw)

    def draft(self) -> list[dict[str, Any]]:
        from app.designer.service import Designer

        return Designer(self.ctx).draft("admin").changes


@pytest.fixture
def designer_web(tmp_path: Path, database_url: str) -> Iterator[DesignerWeb]:
    """Bind in a test module: `designer_web = designerwebkit.designer_web`."""
    ctx = designer_deployment(tmp_path, database_url)
    try:
        yield DesignerWeb(ctx)
    finally:
        ctx.dispose()


def schema_text(ctx: Context, name: str) -> str:
    return (ctx.settings.schema_dirs[-1] / name).read_text(encoding="utf-8")
