"""Hostile input: uploads named to escape their folder (`../../etc/passwd`, `..\\..\\x`,
absolute paths, very long names, NUL and control characters) are stored content-addressed inside
the attachments folder, downloaded under a safe name, and write nothing anywhere else."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.http import parse_options_header

from app.context import Context
from app.migrate.publish import publish
from app.records import Actor
from app.web.attachments import store
from tests.apikit import token_for
from tests.factories import meta_of
from tests.webkit import csrf, deployment, records_of, sign_in, user_id, web_app

NAMES = ("../../etc/passwd", "..\\..\\x.txt", "/etc/hosts", "C:\\Windows\\evil.bat",
         "a" * 600 + ".txt", "evil\x00.txt", "tab\there\x7f.txt", "../", "..", ".hidden",
         "<script>alert(1)</script>.html", "报告/../../合同.pdf")
KEY = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture
def deployed(tmp_path: Path, database_url: str) -> Iterator[tuple[Context, Flask]]:
    """The default pack with a `contract` file field on account."""
    ctx = deployment(tmp_path, database_url)
    path = tmp_path / "schemas" / "account.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["fields"]["contract"] = {"type": "file"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    publish(ctx.engine, meta_of(tmp_path / "schemas"))
    try:
        yield ctx, web_app(ctx)
    finally:
        ctx.dispose()


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def safe_disposition(value: str) -> None:
    assert value.startswith("attachment"), value
    assert "\r" not in value and "\n" not in value and "\x00" not in value, value
    kind, options = parse_options_header(value)
    assert kind == "attachment" and options.get("filename"), value
    name = options["filename"]  # filename* (RFC 5987) decoded when given
    assert "/" not in name and "\\" not in name and not name.startswith("."), value
    assert len(name) <= 255, value


def test_hostile_upload_names_stay_inside(deployed: tuple[Context, Flask],
                                          tmp_path: Path) -> None:
    ctx, app = deployed
    client = app.test_client()
    sign_in(client)
    acc = records_of(app).create("account", {"name": "Target"},
                                 Actor(user_id(ctx, "admin"), "admin", ("admin",)))
    url = f"/account/{acc['id']}"
    with app.app_context():
        folder = store().folder
    outside = tmp_path  # the deployment: config, schemas, database, instance folder
    before = files_under(outside) - files_under(folder)
    for n, name in enumerate(NAMES):
        token = csrf(client.get(url).text)
        resp = client.post(f"{url}/attachments", data={
            "csrf_token": token, "file": (io.BytesIO(f"body {n}".encode()), name)},
            content_type="multipart/form-data", headers={"Accept": "application/json"})
        assert resp.status_code == 201, (name, resp.status_code, resp.text)
        made = resp.get_json()
        assert "/" not in made["name"] and "\\" not in made["name"], made
        assert "\x00" not in made["name"] and len(made["name"]) <= 255
        assert not made["name"].startswith("."), made
        with client.get(f"{url}/attachments/{made['id']}") as got:
            assert got.status_code == 200 and got.data == f"body {n}".encode()
            safe_disposition(got.headers["Content-Disposition"])
            assert got.mimetype != "text/html"
    stored = files_under(folder)
    assert len(stored) == len(NAMES)
    assert all(KEY.match(p.name) and p.parent == folder for p in stored), stored
    after = files_under(outside) - files_under(folder)
    assert not {p for p in after - before if ".db" not in p.name}, after - before
    assert folder.resolve().is_relative_to(tmp_path.resolve())
    assert not Path("/etc/passwd").read_text(encoding="utf-8").startswith("body")


def test_file_field_names_and_keys_from_the_api_are_safe(
        deployed: tuple[Context, Flask]) -> None:
    ctx, app = deployed
    client: FlaskClient = app.test_client()
    sign_in(client)
    h = token_for(ctx)
    with app.app_context():
        key, size = store().put(b"contract")
    made = client.post("/api/v1/account", headers=h, json={"name": "F", "contract": {
        "name": "../../etc/passwd", "size": size, "content_type": "text/html", "key": key}})
    assert made.status_code == 201, made.text
    with client.get(f"/account/{made.get_json()['id']}/file/contract") as got:
        assert got.status_code == 200 and got.data == b"contract"
        safe_disposition(got.headers["Content-Disposition"])
        assert got.mimetype == "application/octet-stream"
    for bad_key in ("../../etc/passwd", "/etc/passwd", "..", "0" * 63 + "/"):
        resp = client.post("/api/v1/account", headers=h, json={"name": "G", "contract": {
            "name": "x.txt", "size": 1, "content_type": "text/plain", "key": bad_key}})
        if resp.status_code == 201:  # stored, but never read from outside the folder
            got = client.get(f"/account/{resp.get_json()['id']}/file/contract")
            assert got.status_code == 404, bad_key
        else:
            assert resp.status_code == 422, resp.text
