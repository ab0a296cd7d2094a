"""The back office's Backups page: admins list backups, start one on the task queue and
download it (logged); nobody else gets there, and only files of the backup folder are served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from app.context import Context
from app.model.system import security_log
from tests.webkit import csrf, deployment, sign_in, web_app


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[tuple[Context, FlaskClient]]:
    ctx = deployment(tmp_path, database_url, pack="small", extra_config="task_queue: immediate\n")
    client = web_app(ctx).test_client()
    sign_in(client)
    try:
        yield ctx, client
    finally:
        ctx.dispose()


def test_create_list_and_download_a_backup(site: tuple[Context, FlaskClient]) -> None:
    ctx, client = site
    page = client.get("/admin/system/backups/")
    assert page.status_code == 200 and 'id="admin-backups-empty"' in page.text
    assert client.post("/admin/system/backups/create").status_code == 400  # no CSRF token
    done = client.post("/admin/system/backups/create", data={"csrf_token": csrf(page.text)})
    assert done.status_code == 302
    made = list((ctx.settings.instance_dir / "backups").glob("crm-*.tar.gz"))
    assert len(made) == 1
    page = client.get("/admin/system/backups/")
    assert f'data-backup="{made[0].name}"' in page.text
    assert f"/admin/system/backups/download/{made[0].name}" in page.text
    got = client.get(f"/admin/system/backups/download/{made[0].name}")
    assert got.status_code == 200 and got.data == made[0].read_bytes()
    assert got.headers["Content-Disposition"].startswith("attachment")
    got.close()
    with ctx.engine.connect() as conn:
        events = conn.execute(sa.select(security_log.c.event, security_log.c.username)
                              .order_by(security_log.c.id)).all()
    assert ("backup.created", "admin") in events and ("backup.downloaded", "admin") in events


def test_only_admins_and_only_backup_files(site: tuple[Context, FlaskClient],
                                           tmp_path: Path) -> None:
    ctx, client = site
    folder = ctx.settings.instance_dir / "backups"
    folder.mkdir(parents=True)
    (folder / ".hidden.tar.gz").write_bytes(b"x")
    (tmp_path / "secret.tar.gz").write_bytes(b"x")
    for name in (".hidden.tar.gz", "..%2Fsecret.tar.gz", "crm.db", "missing.tar.gz"):
        assert client.get(f"/admin/system/backups/download/{name}").status_code == 404, name
    other = web_app(ctx).test_client()  # the same site, as a sales rep
    sign_in(other, "rep")
    assert other.get("/admin/system/backups/").status_code == 403
    (folder / "crm-1.tar.gz").write_bytes(b"not a backup")
    assert other.get("/admin/system/backups/download/crm-1.tar.gz").status_code == 403
    page = client.get("/admin/system/backups/")
    assert "Not readable as a CRM backup" in page.text
