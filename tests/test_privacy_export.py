"""Exporting what the CRM holds about one person: the record with labels, the records linked to
it, its history and attachments, as JSON (and ZIP with the files); admins only, on the web, the
API and the command line. Also the `personal: true` option in YAML."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from app.cli import main
from app.context import Context
from app.meta.errors import ConfigErrors
from app.model.system import security_log
from app.records import RecordError, privacy
from tests.apikit import error_of, token_for
from tests.factories import account, contact, meta_of, small_pack
from tests.privacykit import FILE_BYTES, world
from tests.webkit import sign_in


def test_export_holds_record_links_history_and_attachments(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    data = privacy.personal_data(w.records, "contact", w.ids["contact"], store=w.store)
    fields = data["record"]["fields"]
    assert fields["email"] == {"label": "Email", "type": "email", "personal": True,
                               "value": "meiling.zhaoxue@example.com"}
    assert fields["birthday"]["value"] == "1988-07-21"
    assert fields["mailing_city"]["label"] == "Mailing address · City"
    assert fields["account"]["personal"] is False
    assert "email" in data["personal_fields"] and "account" not in data["personal_fields"]
    linked = data["linked"]
    for entity in ("opportunity", "case", "note", "activity", "campaign_member", "lead"):
        assert [r["id"] for r in linked[entity]] == [w.ids[entity]], entity
    assert linked["opportunity"][0]["title"] == "Tea order"
    assert linked["opportunity"][0]["via"] == "primary_contact"
    assert linked["note"][0]["fields"]["body"] == "<p>Prefers mornings</p>"
    assert [r["id"] for r in linked["contact"]] == [w.ids["other"]]  # reports to them
    assert [h["action"] for h in data["history"]] == ["update", "update", "create"]
    assert data["history"][0]["user"] == "admin"
    [att] = data["attachments"]
    assert att["name"] == "passport.pdf" and att["size"] == len(FILE_BYTES)
    json.dumps(data)  # JSON-ready throughout


def test_export_zip_holds_the_files(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    data = privacy.personal_data(w.records, "contact", w.ids["contact"], store=w.store)
    zf = zipfile.ZipFile(io.BytesIO(privacy.zip_bytes(data, w.store)))
    names = zf.namelist()
    assert "personal-data.json" in names
    [name] = [n for n in names if n.startswith("attachments/")]
    assert name.endswith("-passport.pdf") and zf.read(name) == FILE_BYTES
    assert json.loads(zf.read("personal-data.json"))["id"] == w.ids["contact"]


def test_export_refuses_entities_without_personal_fields(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    with pytest.raises(RecordError, match="no personal fields"):
        privacy.personal_data(w.records, "account", w.ids["account"])


def test_web_download_for_admins_only(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    con = w.ids["contact"]
    client = web.test_client()
    sign_in(client)
    resp = client.get(f"/contact/{con}/personal-data.json")
    assert resp.status_code == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    assert resp.get_json()["record"]["fields"]["last_name"]["value"] == "Zhaoxue"
    zipped = client.get(f"/contact/{con}/personal-data.zip")
    assert zipped.status_code == 200 and zipped.mimetype == "application/zip"
    assert "personal-data.json" in zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()
    assert client.get(f"/account/{w.ids['account']}/personal-data.json").status_code == 404
    with crm.engine.connect() as conn:
        events = conn.execute(sa.select(security_log.c.event, security_log.c.record_id).where(
            security_log.c.event == "personal_data_export")).all()
    assert [tuple(e) for e in events] == [("personal_data_export", con)] * 2
    rep = web.test_client()
    sign_in(rep, "rep")
    assert rep.get(f"/contact/{con}/personal-data.json").status_code == 403
    assert rep.get(f"/contact/{con}/personal-data.zip").status_code == 403


def test_api_export(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    con = w.ids["contact"]
    client = web.test_client()
    rep = client.get(f"/api/v1/contact/{con}/personal-data", headers=token_for(crm, "rep"))
    assert rep.status_code == 403 and error_of(rep)["message"]
    headers = token_for(crm, "admin", scope="read")  # reading needs no write scope
    ok = client.get(f"/api/v1/contact/{con}/personal-data", headers=headers)
    assert ok.status_code == 200
    assert ok.get_json()["linked"]["case"][0]["id"] == w.ids["case"]
    refused = client.get(f"/api/v1/account/{w.ids['account']}/personal-data", headers=headers)
    assert refused.status_code == 400 and "personal" in error_of(refused)["message"]
    missing = client.get("/api/v1/contact/999999/personal-data", headers=headers)
    assert missing.status_code == 404


def test_cli_export(crm: Context, web: Flask, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(crm, web)
    con = w.ids["contact"]
    monkeypatch.setenv("CRM_DATABASE_URL", crm.settings.database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    config = str(Path(crm.settings.attachments_dir).parent.parent / "config.yaml")
    runner = CliRunner()
    out = runner.invoke(main, ["--config", config, "privacy", "export", "contact", str(con)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["record"]["fields"]["email"]["value"].startswith("meiling")
    target = tmp_path / "export.zip"
    to_zip = runner.invoke(main, ["--config", config, "privacy", "export", "contact", str(con),
                                  "-o", str(target)])
    assert to_zip.exit_code == 0 and zipfile.is_zipfile(target)
    refused = runner.invoke(main, ["--config", config, "privacy", "export", "account", "1"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output


def test_personal_option_in_yaml(tmp_path: Path) -> None:
    folder = small_pack(tmp_path / "ok", con=contact(
        email={"type": "email", "personal": True},
        home={"preset": "address", "personal": True}))
    (folder / "_presets.yaml").write_text(
        "presets:\n  address:\n    fields:\n      street: {type: string}\n"
        "      city: {type: string}\n", encoding="utf-8")
    meta = meta_of(folder)
    personal = sorted(f.name for f in meta.entity("contact") if f.personal)
    assert personal == ["email", "home_city", "home_street"]
    assert not any(f.personal for f in meta.entity("account"))
    bad = small_pack(tmp_path / "bad", acc=account(
        shout={"type": "formula", "expr": "name", "result": "string", "personal": True}))
    with pytest.raises(ConfigErrors, match=r"CRM-E013.*'personal' does not apply"):
        meta_of(bad)
