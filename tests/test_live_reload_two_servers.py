"""Two servers on one PostgreSQL (two gunicorns with 2 workers each, each with its own copy of
the config folder, as two machines would have): `crm migrate` run on server A's side is served
by server B on its next request, B saves a value of the new field, and A reads it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.context import Context
from app.runtime import VERSION_HEADER, version_of
from app.settings import load_settings
from tests.serverkit import SECRET, gunicorns, healthz_spread, server_env, signed_in
from tests.webkit import ROOT, csrf, deployment

FIELD = "  loyalty_tier: {type: string, label: {en: Loyalty tier, zh: 忠诚等级}}\n"


def crm_migrate(ctx: Context) -> str:
    """`crm migrate` in its own process, on the deployment's config and database."""
    crm = Path(sys.executable).parent / "crm"
    done = subprocess.run([str(crm), "migrate", "-m", "loyalty tier"], env=server_env(ctx),
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_change_published_on_one_server_is_served_by_the_other(
        tmp_path: Path, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("two servers share one PostgreSQL (set CRM_TEST_DATABASE_URL; CI sets it "
                    "with CRM_REQUIRE_POSTGRES=1); SQLite is one machine's file")
    ctx_a = deployment(tmp_path / "a", database_url)
    shutil.copytree(tmp_path / "a", tmp_path / "b", ignore=shutil.ignore_patterns("instance"))
    ctx_b = Context(load_settings(tmp_path / "b" / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": SECRET}))
    try:
        old = version_of(ctx_a.engine)
        assert old is not None
        with gunicorns([ctx_a, ctx_b], tmp_path, workers=2) as (a, b):
            admin_on_a, rep_on_b = signed_in(a.base, "admin"), signed_in(b.base, "rep")
            assert 'name="loyalty_tier"' not in rep_on_b.get(b.base + "/account/new").text

            account_yaml = tmp_path / "a" / "schemas" / "account.yaml"
            text = account_yaml.read_text(encoding="utf-8")
            account_yaml.write_text(text.replace("\nfields:\n", "\nfields:\n" + FIELD, 1),
                                    encoding="utf-8")
            assert f"Config version {old + 1} is live." in crm_migrate(ctx_a)

            for server in (a, b):
                answers = healthz_spread(server.base, 16)
                assert {(v, h) for _pid, v, h in answers} == {(old + 1, str(old + 1))}
            form = rep_on_b.get(b.base + "/account/new", timeout=10)
            assert form.headers[VERSION_HEADER] == str(old + 1)
            assert 'name="loyalty_tier"' in form.text
            saved = rep_on_b.post(b.base + "/account/new", data={
                "name": "Two Servers Ltd", "loyalty_tier": "Platinum",
                "csrf_token": csrf(form.text)}, allow_redirects=False, timeout=10)
            assert saved.status_code == 302, saved.text
            found = re.search(r"/account/(\d+)$", saved.headers["Location"])
            assert found, saved.headers["Location"]
            detail = admin_on_a.get(a.base + f"/account/{found.group(1)}", timeout=10)
            assert detail.status_code == 200 and detail.headers[VERSION_HEADER] == str(old + 1)
            assert "Two Servers Ltd" in detail.text and "Platinum" in detail.text
            admin_on_a.close()
            rep_on_b.close()
    finally:
        ctx_a.dispose()
        ctx_b.dispose()
