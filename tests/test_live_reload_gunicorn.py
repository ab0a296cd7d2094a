"""Live reload under real gunicorn (3 workers): a config published while it runs is served by
every worker on its very next request, to every signed-in user, without a restart; a value of
the new field saves and reads back. SQLite file, or PostgreSQL with CRM_TEST_DATABASE_URL."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from app.migrate.publish import active_version
from app.model.build import build_models
from app.runtime import VERSION_HEADER, version_of
from tests.serverkit import add_account_field, gunicorn, healthz_spread, signed_in
from tests.webkit import csrf, deployment


def test_a_publish_is_served_by_every_worker_at_once(tmp_path: Path, database_url: str) -> None:
    ctx = deployment(tmp_path, database_url)
    try:
        old = version_of(ctx.engine)
        with gunicorn(ctx, tmp_path, workers=3) as server:
            base = server.base
            assert {v for _pid, v, _h in healthz_spread(base, 12)} == {old}
            admin, rep = signed_in(base, "admin"), signed_in(base, "rep")
            for session in (admin, rep):
                form = session.get(base + "/account/new", timeout=10)
                assert form.status_code == 200 and 'name="loyalty_tier"' not in form.text

            new = add_account_field(ctx)  # committed when it returns
            assert old is not None and new == old + 1
            answers = healthz_spread(base, 48)
            assert {(v, h) for _pid, v, h in answers} == {(new, str(new))}, answers
            pids = {pid for pid, _v, _h in answers}
            assert len(pids) >= 2, f"only pid {pids} answered: the workers were not spread"
            assert pids <= server.ready_pids()

            form = rep.get(base + "/account/new", timeout=10)
            assert form.headers[VERSION_HEADER] == str(new)
            assert 'name="loyalty_tier"' in form.text and "Loyalty tier" in form.text
            saved = rep.post(base + "/account/new", data={
                "name": "Reloaded Ltd", "loyalty_tier": "Gold", "csrf_token": csrf(form.text)},
                allow_redirects=False, timeout=10)
            assert saved.status_code == 302, saved.text
            found = re.search(r"/account/(\d+)$", saved.headers["Location"])
            assert found, saved.headers["Location"]
            detail = admin.get(base + f"/account/{found.group(1)}", timeout=10)
            assert detail.status_code == 200 and detail.headers[VERSION_HEADER] == str(new)
            assert "Loyalty tier" in detail.text and "Gold" in detail.text
            admin.close()  # no idle keep-alive connection for gunicorn to wait for
            rep.close()
        with ctx.engine.connect() as conn:
            _version, meta = active_version(conn)
            assert meta is not None
            table = build_models(meta, orm_classes=False).table("account")
            tier = conn.execute(sa.select(table.c.loyalty_tier)
                                .where(table.c.id == int(found.group(1)))).scalar_one()
        assert tier == "Gold"
    finally:
        ctx.dispose()
