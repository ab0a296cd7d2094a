"""Issue 7's "done when", across machines: two app servers (gunicorn, 2 workers each, each
with its own copy of the config folder) on one PostgreSQL. An admin adds a field through the
designer API of server A; a sales rep on server B sees it on the next page load and saves a
value; A's YAML got the field with its comments; B's next designer change starts from A's."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import requests

from app.context import Context
from app.runtime import VERSION_HEADER, version_of
from app.settings import load_settings
from tests.apikit import token_for
from tests.designerkit import TIER, designer_deployment
from tests.serverkit import SECRET, gunicorns, healthz_spread, signed_in
from tests.webkit import csrf


def api(base: str, headers: dict[str, str], method: str, path: str,
        json: object = None) -> requests.Response:
    return requests.request(method, f"{base}/api/v1{path}", json=json, headers=headers,
                            timeout=60)


def test_a_designer_change_on_one_server_is_served_by_the_other(
        tmp_path: Path, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("two servers share one PostgreSQL (set CRM_TEST_DATABASE_URL; CI sets it "
                    "with CRM_REQUIRE_POSTGRES=1); SQLite is one machine's file")
    ctx_a = designer_deployment(tmp_path / "a", database_url)
    shutil.copytree(tmp_path / "a", tmp_path / "b", ignore=shutil.ignore_patterns("instance"))
    ctx_b = Context(load_settings(tmp_path / "b" / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": SECRET}))
    admin = token_for(ctx_a, "admin")
    try:
        old = version_of(ctx_a.engine)
        assert old is not None
        with gunicorns([ctx_a, ctx_b], tmp_path, workers=2) as (a, b):
            rep_on_b = signed_in(b.base, "rep")
            assert 'name="tier"' not in rep_on_b.get(b.base + "/account/new").text

            added = api(a.base, admin, "POST", "/config/draft/changes", {
                "op": "field", "entity": "account", "field": "tier", "definition": TIER})
            assert added.status_code == 201, added.text
            preview = api(a.base, admin, "GET", "/config/draft/preview").json()
            assert [s["op"] for s in preview["plan"]["steps"]] == ["add_column"]
            applied = api(a.base, admin, "POST", "/config/draft/apply",
                          {"message": "loyalty tier"})
            assert applied.status_code == 200, applied.text
            assert applied.json()["version"] == old + 1

            for server in (a, b):  # every worker of both servers, on its next request
                answers = healthz_spread(server.base, 12)
                assert {(v, h) for _pid, v, h in answers} == {(old + 1, str(old + 1))}
            form = rep_on_b.get(b.base + "/account/new", timeout=10)
            assert form.headers[VERSION_HEADER] == str(old + 1)
            assert 'name="tier"' in form.text and "Loyalty tier" in form.text
            saved = rep_on_b.post(b.base + "/account/new", data={
                "name": "Two Servers Ltd", "tier": "gold", "csrf_token": csrf(form.text)},
                allow_redirects=False, timeout=10)
            assert saved.status_code == 302, saved.text
            found = re.search(r"/account/(\d+)$", saved.headers["Location"])
            assert found, saved.headers["Location"]
            record = api(a.base, admin, "GET", f"/account/{found.group(1)}").json()
            assert record["tier"] == "gold", record

            # A's YAML has the field, every comment kept; B's copy is older, and B's next
            # designer change starts from A's version and brings B's file up to date
            text_a = (tmp_path / "a" / "schemas" / "account.yaml").read_text(encoding="utf-8")
            assert "  tier:\n" in text_a and "# Who may do what" in text_a
            admin_b = token_for(ctx_b, "admin")
            api(b.base, admin_b, "POST", "/config/draft/changes", {
                "op": "field", "entity": "account", "field": "region",
                "definition": {"type": "string", "label": {"en": "Region", "zh": "区域"}}})
            second = api(b.base, admin_b, "POST", "/config/draft/apply", {})
            assert second.status_code == 200, second.text
            text_b = (tmp_path / "b" / "schemas" / "account.yaml").read_text(encoding="utf-8")
            assert "  tier:\n" in text_b and "  region:" in text_b
            rep_on_b.close()
    finally:
        ctx_a.dispose()
        ctx_b.dispose()
