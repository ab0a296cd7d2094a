"""Attachments on the detail page: upload (multipart, CSRF), download with the original name
(Chinese too), remove; sizes, unsafe types, deleted records; files of `file` fields."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, stream_encode_multipart

from app.context import Context
from app.migrate.publish import publish
from app.records import Actor
from app.web.attachments import store
from tests.factories import meta_of
from tests.webkit import csrf, deployment, records_of, sign_in, user_id, web_app


def admin(ctx: Context) -> Actor:
    return Actor(user_id(ctx, "admin"), "admin", ("admin",))


def upload(client: FlaskClient, url: str, name: str, data: bytes, **kw: Any) -> TestResponse:
    token = csrf(client.get(url).text)
    return client.post(f"{url}/attachments", data={"csrf_token": token,
                                                    "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", **kw)


def upload_in_memory(client: FlaskClient, url: str, name: str, data: bytes,
                     **kw: Any) -> TestResponse:
    """Like `upload`, with the request body built in memory (the test client would spool a big
    one to a temporary file it never closes)."""
    token = csrf(client.get(url).text)
    stream, length, boundary = stream_encode_multipart(
        {"csrf_token": token, "file": FileStorage(io.BytesIO(data), name)}, use_tempfile=False)
    return client.post(f"{url}/attachments", input_stream=stream, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}", **kw)


def download(client: FlaskClient, url: str) -> tuple[int, dict[str, str], bytes]:
    """GET a file and close the response (it streams from an open file)."""
    with client.get(url) as resp:
        return resp.status_code, dict(resp.headers), resp.data


def attachment_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-attachment="(\d+)"', html)]


def test_upload_download_and_remove(client: FlaskClient, web: Flask, crm: Context) -> None:
    acc = records_of(web).create("account", {"name": "Files Co"}, admin(crm))
    url = f"/account/{acc['id']}"
    data = bytes(range(256)) * 300
    resp = upload(client, url, "合同 草案.pdf", data, follow_redirects=True)
    assert resp.status_code == 200
    page = resp.text
    assert "合同 草案.pdf was attached." in page
    [aid] = attachment_ids(page)
    card = page.split('id="attachments"')[1].split("</section>")[0]
    assert "75 KB" in card and "Admin" in card

    status, headers, body = download(client, f"{url}/attachments/{aid}")
    assert status == 200 and body == data
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('合同 草案.pdf')}" in disposition
    assert headers["Content-Type"] == "application/pdf"
    assert headers["X-Content-Type-Options"] == "nosniff"

    token = csrf(page)
    gone = client.post(f"{url}/attachments/{aid}/delete", data={"csrf_token": token},
                       follow_redirects=True)
    assert "合同 草案.pdf was removed." in gone.text and attachment_ids(gone.text) == []
    assert client.get(f"{url}/attachments/{aid}").status_code == 404


def test_html_is_never_served_inline(client: FlaskClient, web: Flask, crm: Context) -> None:
    acc = records_of(web).create("account", {"name": "Careful"}, admin(crm))
    url = f"/account/{acc['id']}"
    page = upload(client, url, "page.html", b"<script>alert(1)</script>",
                  follow_redirects=True).text
    [aid] = attachment_ids(page)
    _, headers, _ = download(client, f"{url}/attachments/{aid}")
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in headers["Content-Security-Policy"]


def test_missing_and_too_large_files_are_refused(client: FlaskClient, web: Flask,
                                                 crm: Context) -> None:
    acc = records_of(web).create("account", {"name": "Limits"}, admin(crm))
    url = f"/account/{acc['id']}"
    token = csrf(client.get(url).text)
    none = client.post(f"{url}/attachments", data={"csrf_token": token},
                       content_type="multipart/form-data", follow_redirects=True)
    assert "Choose a file to attach." in none.text
    too_big = b"\0" * (20 * 1024 * 1024 + 1)
    big = upload_in_memory(client, url, "huge.bin", too_big, follow_redirects=True)
    assert "larger than the limit of 20 MB" in big.text
    assert attachment_ids(big.text) == []
    as_json = upload_in_memory(client, url, "huge.bin", too_big,
                               headers={"Accept": "application/json"})
    assert as_json.status_code == 413
    assert list(store_dir(web).glob("*")) == []


def store_dir(web: Flask) -> Path:
    with web.app_context():
        return store().folder


def test_upload_needs_csrf_and_a_live_record(client: FlaskClient, web: Flask,
                                             crm: Context) -> None:
    rs = records_of(web)
    acc = rs.create("account", {"name": "Soon gone"}, admin(crm))
    url = f"/account/{acc['id']}"
    no_token = client.post(f"{url}/attachments", data={"file": (io.BytesIO(b"x"), "x.txt")},
                           content_type="multipart/form-data")
    assert no_token.status_code == 400
    page = upload(client, url, "keep.txt", b"kept", follow_redirects=True)
    [aid] = attachment_ids(page.text)
    token = csrf(page.text)
    rs.delete("account", acc["id"], admin(crm))
    assert client.get(f"{url}/attachments/{aid}").status_code == 404
    late = client.post(f"{url}/attachments", data={
        "csrf_token": token, "file": (io.BytesIO(b"x"), "x.txt")},
        content_type="multipart/form-data")
    assert late.status_code == 404
    for bad in ("/account/999/attachments/1", f"{url}/attachments/99999999999999",
                "/nosuch/1/attachments/1"):
        assert client.get(bad).status_code == 404, bad
    rs.restore("account", acc["id"], admin(crm))
    assert download(client, f"{url}/attachments/{aid}")[2] == b"kept"
    other = rs.create("account", {"name": "Other"}, admin(crm))
    assert client.get(f"/account/{other['id']}/attachments/{aid}").status_code == 404


@pytest.fixture
def with_file_field(tmp_path: Path, database_url: str) -> Iterator[tuple[Context, Flask]]:
    """The default pack with a `contract` file field on account."""
    ctx = deployment(tmp_path, database_url)
    path = tmp_path / "schemas" / "account.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["fields"]["contract"] = {"type": "file", "label": {"en": "Contract", "zh": "合同"}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    publish(ctx.engine, meta_of(tmp_path / "schemas"))
    try:
        yield ctx, web_app(ctx)
    finally:
        ctx.dispose()


def test_file_fields_download_from_the_detail_page(
        with_file_field: tuple[Context, Flask]) -> None:
    ctx, app = with_file_field
    with app.app_context():
        key, size = store().put(b"signed contract")
    acc = records_of(app).create("account", {"name": "Signed", "contract": {
        "name": "合同.pdf", "size": size, "content_type": "application/pdf", "key": key}},
        admin(ctx))
    client = app.test_client()
    sign_in(client)
    page = client.get(f"/account/{acc['id']}").text
    link = f'href="/account/{acc["id"]}/file/contract"'
    assert link in page and "合同.pdf" in page
    _, headers, body = download(client, f"/account/{acc['id']}/file/contract")
    assert body == b"signed contract"
    assert quote("合同.pdf") in headers["Content-Disposition"]
    assert client.get(f"/account/{acc['id']}/file/name").status_code == 404
    assert client.get(f"/account/{acc['id']}/file/nosuch").status_code == 404
