"""Live config: a publish is picked up by the next request without a restart; requests keep
working on the old app until then."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
import yaml
from werkzeug.test import Client

from app.context import Context
from app.runtime import Runtime
from tests.factories import meta_of
from tests.webkit import csrf


def test_publish_swaps_the_app_on_the_next_request(tmp_path: Path, crm: Context) -> None:
    from app.migrate.publish import publish

    runtime = Runtime(crm)
    first = runtime.current()
    client = Client(runtime)
    token = csrf(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "admin", "password": "admin-pass-1",
                                "csrf_token": token})
    assert runtime.current() is first  # no publish: the same app serves
    path = tmp_path / "schemas" / "account.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["fields"]["loyalty_tier"] = {"type": "string", "label": {"en": "Loyalty tier"}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    publish(crm.engine, meta_of(tmp_path / "schemas"))
    resp = client.get("/")
    assert resp.status_code == 200
    second = runtime.current()
    assert second is not first and second.version == (first.version or 0) + 1
    assert second.meta is not None and "loyalty_tier" in second.meta.entity("account").fields
    assert second.models is not None and "loyalty_tier" in second.models.tables["account"].c
    assert first.models is not None and "loyalty_tier" not in first.models.tables["account"].c


def test_without_a_published_config_pages_say_so(tmp_path: Path, database_url: str) -> None:
    from app.model.system import create_system_tables
    from app.settings import load_settings
    from app.users import create_user

    (tmp_path / "config.yaml").write_text("schemas: schemas\n")
    ctx = Context(load_settings(tmp_path / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "k"}))
    try:
        with ctx.engine.begin() as conn:
            create_system_tables(conn)
            create_user(conn, "admin", "admin-pass-1", ["admin"], ["admin"])
        client = Client(Runtime(ctx))
        token = csrf(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"username": "admin", "password": "admin-pass-1",
                                    "csrf_token": token})
        resp = client.get("/account/")
        assert resp.status_code in (404, 503)
        with ctx.engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from sys_user")).scalar_one() == 1
    finally:
        ctx.dispose()
