"""The import pages through the test client: upload -> mapping (auto-matched, samples, lookup
keys, options, templates) -> dry run (errors by row and column, duplicates, CSV) -> run -> undo;
a bad file is a 400 with the reason, a sales rep without the import grant gets 403, nobody sees
another user's import."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.context import Context
from tests.importkit import csv_bytes, import_deployment, live, xlsx_bytes
from tests.webkit import csrf, sign_in, web_app

HEADER = ["姓", "Email", "Company", "生日"]


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = import_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def client(ctx: Context) -> FlaskClient:
    c = web_app(ctx).test_client()
    sign_in(c)
    return c


def post_upload(client: FlaskClient, data: bytes, name: str, entity: str = "contact") -> Any:
    token = csrf(client.get(f"/imports/new?entity={entity}").text)
    return client.post("/imports/new", data={
        "csrf_token": token, "entity": entity, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data")


def form_of(html: str) -> dict[str, Any]:
    """The mapping form's current values (selected options, checked radios)."""
    values: dict[str, Any] = {"csrf_token": csrf(html)}
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.findall(r'<option value="([^"]*)"[^>]*selected', body)
        if chosen:
            values[name] = chosen if name == "dedupe" else chosen[0]
    for name, value in re.findall(r'<input[^>]*type="radio" name="([^"]+)"[^>]*value="([^"]+)"'
                                  r'[^>]*checked', html):
        values[name] = value
    return values


def test_upload_map_dry_run_run_and_undo(ctx: Context, client: FlaskClient) -> None:
    rs = live(ctx)
    acme = rs.create("account", {"name": "Acme"})["id"]
    rs.create("contact", {"last_name": "Old", "email": "old@example.com"})
    listing = client.get("/contact/")
    assert 'id="import-records"' in listing.text  # admins may import
    data = csv_bytes([["王", "wang@example.com", "Acme", "05/03/1985"],
                      ["李", "bad-email", "Acme", ""],
                      ["Old", "OLD@example.com", "", ""]], HEADER)
    uploaded = post_upload(client, data, "客户.csv")
    assert uploaded.status_code == 303
    page = client.get(uploaded.headers["Location"])
    assert page.status_code == 200
    assert 'name="col-0"' in page.text and "wang@example.com" in page.text  # samples
    form = form_of(page.text)
    assert form["col-0"] == "last_name" and form["col-1"] == "email" and "col-2" not in form
    form.update({"col-2": "account", "col-3": "birthday", "key-account": "name",
                 "date_order": "dmy", "dedupe": ["email"], "on_duplicate": "skip",
                 "save_template": "客户模板", "action": "dry_run"})
    url = uploaded.headers["Location"]
    dry = client.post(url, data=form)
    assert dry.status_code == 303
    result = client.get(dry.headers["Location"])
    assert "Dry run: nothing was saved." in result.text
    assert re.search(r'data-count="created">1<', result.text)
    assert '<tr data-row="3"><td>3</td><td>Email</td>' in result.text
    assert "Same Email as Contact #" in result.text
    job_id = int(dry.headers["Location"].rsplit("/", 1)[1])
    status = client.get(f"/imports/{job_id}/status.json").get_json()
    assert (status["status"], status["created"], status["failed"]) == ("validated", 1, 1)
    report = client.get(f"/imports/{job_id}/errors.csv")
    assert report.status_code == 200 and "bad-email" in report.text

    token = csrf(result.text)
    run = client.post(f"/imports/{job_id}/run", data={"csrf_token": token})
    assert run.status_code == 303
    done = client.get(f"/imports/{job_id}")
    assert 'data-status="done"' in done.text and 'id="undo-import"' in done.text
    made = [r for r in _contacts(rs) if r["last_name"] == "王"]
    assert len(made) == 1 and made[0]["account"] == acme
    assert str(made[0]["birthday"]) == "1985-03-05"
    history = client.get("/imports/")
    assert "客户.csv" in history.text and f'href="/imports/{job_id}/undo"' in history.text

    confirm = client.get(f"/imports/{job_id}/undo")
    assert "Undo the import of 客户.csv?" in confirm.text
    undone = client.post(f"/imports/{job_id}/undo", data={"csrf_token": csrf(confirm.text),
                                                           "confirm": "1"})
    assert undone.status_code == 303
    assert "Undone: 1 record(s) deleted, 0 restored." in client.get(f"/imports/{job_id}").text
    assert [r for r in _contacts(rs) if r["last_name"] == "王"] == []

    again = post_upload(client, xlsx_bytes([["赵", "z@example.com", "Acme", "1990-01-01"]],
                                           HEADER), "more.xlsx")
    page = client.get(again.headers["Location"] + "?template=客户模板")
    form = form_of(page.text)
    assert form["col-2"] == "account" and form["date_order"] == "dmy"


def test_bad_files_and_bad_input_are_4xx(ctx: Context, client: FlaskClient) -> None:
    bad = post_upload(client, b"%PDF-1.4 not a table", "x.pdf")
    assert bad.status_code == 400 and "not a CSV or Excel" in bad.text
    empty = post_upload(client, b"", "empty.csv")
    assert empty.status_code == 400 and "is empty" in empty.text
    nowhere = post_upload(client, csv_bytes([["a"]], ["b"]), "x.csv", entity="nothing")
    assert nowhere.status_code == 404
    ok = post_upload(client, csv_bytes([["王"]], ["姓"]), "x.csv")
    url = ok.headers["Location"]
    form = form_of(client.get(url).text)
    form.update({"col-0": "full_name", "action": "dry_run"})
    refused = client.post(url, data=form)
    assert refused.status_code == 400
    assert "there is no field 'full_name'" in html.unescape(refused.text)
    form.update({"col-0": "last_name", "dedupe": ["email"]})
    refused = client.post(url, data=form)
    assert refused.status_code == 400 and "no column goes to it" in refused.text
    form.pop("dedupe")
    form.update({"on_duplicate": "explode"})
    assert client.post(url, data=form).status_code == 400
    assert client.get("/imports/99999").status_code == 404
    assert client.get("/imports/99999999999/map").status_code == 404
    assert client.post(url, data={"col-0": "last_name"}).status_code == 400  # no CSRF token


def test_a_rep_without_the_import_grant_gets_403(ctx: Context, client: FlaskClient) -> None:
    ok = post_upload(client, csv_bytes([["王"]], ["姓"]), "admin.csv")
    admins = ok.headers["Location"].rsplit("/", 1)[0]
    rep = web_app(ctx).test_client()
    sign_in(rep, "rep")
    assert 'id="import-records"' not in rep.get("/contact/").text
    assert rep.get("/imports/new").status_code == 403
    token = csrf(rep.get("/contact/").text)
    refused = rep.post("/imports/new", data={
        "csrf_token": token, "entity": "contact",
        "file": (io.BytesIO(csv_bytes([["王"]], ["姓"])), "x.csv")},
        content_type="multipart/form-data")
    assert refused.status_code == 403
    assert rep.get(admins).status_code == 404  # not theirs
    assert rep.get(admins + "/status.json").status_code == 404
    assert rep.get("/imports/").status_code == 200


def _contacts(rs: Any) -> list[dict[str, Any]]:
    from tests.test_records_bulk import all_of

    return all_of(rs, "contact")
