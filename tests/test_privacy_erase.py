"""Erasing a person's personal data: the record and the business records around it stay, links
stay, the personal values leave the record, its history, linked copies, webhook logs and
attachments; only admins may do it, on the web, the API and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from app.cli import main
from app.context import Context
from app.model.system import attachments, audit
from app.records import Actor, Forbidden, RecordError, privacy
from tests.apikit import error_of, token_for
from tests.privacykit import FILE_BYTES, SECRETS, World, world
from tests.webkit import csrf, sign_in


def audit_text(w: World, entity: str, record_id: int) -> str:
    with w.records.engine.connect() as conn:
        rows = conn.execute(sa.select(audit.c.changes).where(
            audit.c.entity == entity, audit.c.record_id == record_id)).scalars().all()
    return json.dumps(rows, ensure_ascii=False)


def test_erase_keeps_business_records_and_links(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    ids, rs = w.ids, w.records
    done = privacy.erase(rs, "contact", ids["contact"], w.admin, store=w.store)
    con = rs.get("contact", ids["contact"])
    assert con["last_name"] == f"Erased {ids['contact']}"  # required: a placeholder
    for name in ("first_name", "email", "mobile", "phone", "wechat", "birthday",
                 "mailing_city", "salutation", "mailing_country"):
        assert con[name] is None, name
    assert con["account"] == ids["account"]  # not personal: kept
    assert rs.get("opportunity", ids["opportunity"])["primary_contact"] == ids["contact"]
    assert rs.get("case", ids["case"])["contact"] == ids["contact"]
    assert rs.get("note", ids["note"])["body"] == "<p>Prefers mornings</p>"  # not scanned
    member = rs.get("campaign_member", ids["campaign_member"])
    assert member["member_name"] is None and member["contact"] == ids["contact"]
    lead = rs.get("lead", ids["lead"])
    assert lead["last_name"] is None and lead["email"] is None
    assert lead["company"] == "West Lake Tea Co."
    other = rs.get("contact", ids["other"])  # another person: untouched
    assert other["first_name"] == "Olga" and other["reports_to"] == ids["contact"]
    assert ("campaign_member", ids["campaign_member"]) in done.cascaded


def test_audit_trail_is_scrubbed_and_records_the_erasure(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    con = w.ids["contact"]
    assert "Zhaoxue" in audit_text(w, "contact", con)
    privacy.erase(w.records, "contact", con, w.admin, store=w.store)
    for entity, record_id in (("contact", con), ("lead", w.ids["lead"]),
                              ("campaign_member", w.ids["campaign_member"])):
        text = audit_text(w, entity, record_id)
        assert not [s for s in SECRETS if s in text], (entity, text)
    history = w.records.history("contact", con)
    assert history[0]["action"] == "erased" and history[0]["user_id"] == w.admin.id
    assert history[0]["changes"]["last_name"] == [None, f"Erased {con}"]
    assert [h["action"] for h in history].count("create") == 1  # the history itself stays
    export = json.dumps(privacy.personal_data(w.records, "contact", con, store=w.store),
                        ensure_ascii=False)
    assert not [s for s in SECRETS if s in export]


def test_attachments_rows_and_files_are_deleted(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    con = w.ids["contact"]
    [found] = w.store.list("contact", con)
    path = w.store.path(found.key)
    assert path.read_bytes() == FILE_BYTES
    privacy.erase(w.records, "contact", con, w.admin, store=w.store)
    assert not path.exists()
    with crm.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(attachments).where(
            attachments.c.entity == "contact", attachments.c.record_id == con)).scalar() == 0


def test_shared_bytes_stay_while_another_record_uses_them(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    w.store.save("account", w.ids["account"], "same.pdf", FILE_BYTES)
    [found] = w.store.list("contact", w.ids["contact"])
    privacy.erase(w.records, "contact", w.ids["contact"], w.admin, store=w.store)
    assert w.store.path(found.key).read_bytes() == FILE_BYTES


def test_erase_is_idempotent(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    con = w.ids["contact"]
    privacy.erase(w.records, "contact", con, w.admin, store=w.store)
    first = w.records.get("contact", con)
    again = privacy.erase(w.records, "contact", con, w.admin, store=w.store)
    assert again.fields == () and again.cascaded == () and again.attachments == 0
    after = w.records.get("contact", con)
    assert {k: v for k, v in after.items() if k not in ("updated_at",)} == \
        {k: v for k, v in first.items() if k not in ("updated_at",)}
    actions = [h["action"] for h in w.records.history("contact", con)]
    assert actions[:2] == ["erased", "erased"]


def test_anonymise_keeps_categories_and_birth_year(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    con = w.ids["contact"]
    privacy.erase(w.records, "contact", con, w.admin, "anonymise", store=w.store)
    rec = w.records.get("contact", con)
    assert rec["salutation"] == "ms" and rec["mailing_country"] == "CN"
    assert rec["birthday"].isoformat() == "1988-01-01"
    assert rec["first_name"] is None and rec["mailing_city"] is None


def test_refusals(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    with pytest.raises(RecordError, match="no personal fields"):
        privacy.erase(w.records, "account", w.ids["account"], w.admin)
    rep = Actor(w.admin.id, "rep", ("sales_rep",))
    with pytest.raises(Forbidden):
        privacy.erase(w.records, "contact", w.ids["contact"], rep)
    with pytest.raises(RecordError, match="Unknown erase mode"):
        privacy.erase(w.records, "contact", w.ids["contact"], w.admin, "shred")
    w.records.delete("contact", w.ids["other"], w.admin)
    with pytest.raises(RecordError, match="recycle bin"):
        privacy.erase(w.records, "contact", w.ids["other"], w.admin)
    assert w.records.get("contact", w.ids["contact"])["first_name"] == "Meiling"


def test_web_confirmation_then_erase(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    con = w.ids["contact"]
    client = web.test_client()
    sign_in(client)
    page = client.get(f"/contact/{con}")
    assert 'id="personal-data"' in page.text and f"/contact/{con}/erase" in page.text
    confirm = client.get(f"/contact/{con}/erase")
    assert confirm.status_code == 200
    assert 'data-field="email"' in confirm.text and f"Erased {con}" in confirm.text
    assert f'data-record="campaign_member-{w.ids["campaign_member"]}"' in confirm.text
    assert "passport.pdf" in confirm.text
    assert w.records.get("contact", con)["email"] is not None  # GET changes nothing
    no_token = client.post(f"/contact/{con}/erase", data={"confirm": "1"})
    assert no_token.status_code == 400
    done = client.post(f"/contact/{con}/erase", data={
        "confirm": "1", "mode": "erase", "csrf_token": csrf(confirm.text)})
    assert done.status_code == 303
    assert w.records.get("contact", con)["email"] is None
    shown = client.get(f"/contact/{con}")
    assert 'data-event="erased"' in shown.text and "Meiling" not in shown.text
    account = client.get(f"/account/{w.ids['account']}")
    assert 'id="personal-data"' not in account.text
    assert client.get(f"/account/{w.ids['account']}/erase").status_code == 404


def test_web_non_admin_is_refused(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    con = w.ids["contact"]
    client = web.test_client()
    sign_in(client, "rep")
    page = client.get(f"/contact/{con}")
    assert 'id="personal-data"' not in page.text
    assert client.get(f"/contact/{con}/erase").status_code == 403
    token = csrf(page.text) if 'name="csrf_token"' in page.text else ""
    resp = client.post(f"/contact/{con}/erase", data={"confirm": "1", "csrf_token": token})
    assert resp.status_code in (400, 403)
    assert client.get(f"/contact/{con}/personal-data.json").status_code == 403
    assert w.records.get("contact", con)["email"] is not None


def test_api_erase(crm: Context, web: Flask) -> None:
    w = world(crm, web)
    con = w.ids["contact"]
    client = web.test_client()
    rep = client.post(f"/api/v1/contact/{con}/erase", headers=token_for(crm, "rep"))
    assert rep.status_code == 403 and error_of(rep)["message"]
    read_only = client.post(f"/api/v1/contact/{con}/erase",
                            headers=token_for(crm, "admin", scope="read"))
    assert read_only.status_code == 403
    headers = token_for(crm, "admin")
    bad = client.post(f"/api/v1/contact/{con}/erase", json={"mode": "shred"}, headers=headers)
    assert bad.status_code == 400 and "shred" in error_of(bad)["message"]
    refused = client.post(f"/api/v1/account/{w.ids['account']}/erase", headers=headers)
    assert refused.status_code == 400 and "personal" in error_of(refused)["message"]
    assert w.records.get("contact", con)["email"] is not None
    ok = client.post(f"/api/v1/contact/{con}/erase", json={"mode": "erase"}, headers=headers)
    assert ok.status_code == 200, ok.text
    body = ok.get_json()
    assert "email" in body["fields"] and body["attachments_deleted"] == 1
    assert w.records.get("contact", con)["email"] is None
    assert client.post("/api/v1/contact/999999/erase", headers=headers).status_code == 404


def test_cli_erase(crm: Context, web: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(crm, web)
    con = w.ids["contact"]
    monkeypatch.setenv("CRM_DATABASE_URL", crm.settings.database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    config = str(Path(crm.settings.attachments_dir).parent.parent / "config.yaml")
    runner = CliRunner()
    no = runner.invoke(main, ["--config", config, "privacy", "erase", "contact", str(con)],
                       input="n\n")
    assert no.exit_code == 2 and "Nothing was erased" in no.output
    assert w.records.get("contact", con)["email"] is not None
    refused = runner.invoke(main, ["--config", config, "privacy", "erase", "account",
                                   str(w.ids["account"]), "--yes"])
    assert refused.exit_code == 2 and "no personal fields" in refused.output
    yes = runner.invoke(main, ["--config", config, "privacy", "erase", "contact", str(con),
                               "--yes"])
    assert yes.exit_code == 0, yes.output
    assert "Traceback" not in yes.output and "email" in yes.output
    assert w.records.get("contact", con)["email"] is None
