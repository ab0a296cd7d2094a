"""A request running while a new config is published finishes on the version it started on
(its X-CRM-Config-Version says the old one, its app still has the old fields), while the next
request is already served by the new version."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.test import Client

from app.plugins import hookimpl, make_plugin_manager
from app.runtime import VERSION_HEADER, Runtime, version_of
from app.web.state import state
from tests.serverkit import add_account_field
from tests.webkit import deployment

WAIT = 30.0


class SlowPage:
    """A plugin page that blocks until the test lets it answer, then says what it served on."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    @hookimpl
    def crm_web_blueprints(self) -> list[Blueprint]:
        bp = Blueprint("slow_page", __name__)

        @bp.get("/slow")
        def slow() -> ResponseReturnValue:
            started_on = state().version
            self.entered.set()
            assert self.release.wait(WAIT), "the test never released the request"
            st = state()
            assert st.meta is not None
            return jsonify(started_on=started_on, finished_on=st.version,
                           fields=sorted(st.meta.entity("account").fields))

        return [bp]


def test_a_running_request_finishes_on_the_old_version(tmp_path: Path, database_url: str
                                                      ) -> None:
    ctx = deployment(tmp_path, database_url, pack="small")
    page = SlowPage()
    runtime = Runtime(ctx, make_plugin_manager([page], entry_points=False))
    try:
        old = version_of(ctx.engine)
        assert old is not None
        slow_answer: dict[str, Any] = {}

        def ask_slowly() -> None:
            resp = Client(runtime).get("/slow")
            slow_answer.update(status=resp.status_code, header=resp.headers[VERSION_HEADER],
                               body=resp.get_json())

        thread = threading.Thread(target=ask_slowly)
        thread.start()
        try:
            assert page.entered.wait(WAIT)
            new = add_account_field(ctx)
            assert new == old + 1
            quick = Client(runtime).get("/healthz")  # the next request: the new version
            assert quick.headers[VERSION_HEADER] == str(new)
            assert quick.get_json()["config_version"] == new
            assert not slow_answer  # still running
        finally:
            page.release.set()
            thread.join(WAIT)
        assert slow_answer["status"] == 200
        assert slow_answer["header"] == str(old)
        body = slow_answer["body"]
        assert body["started_on"] == body["finished_on"] == old
        assert "loyalty_tier" not in body["fields"] and "name" in body["fields"]
        again = Client(runtime).get("/slow")  # released: answers at once, on the new version
        assert again.headers[VERSION_HEADER] == str(new)
        assert "loyalty_tier" in again.get_json()["fields"]
    finally:
        ctx.dispose()
