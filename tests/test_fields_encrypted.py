"""Encrypted fields (`encrypted: true`): config errors, ciphertext at rest, clear values through
the records service, nothing in clear in the audit trail or searches, rotation, a wrong key."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from app import crypto
from app.meta.errors import ConfigErrors
from app.model.system import audit
from app.records import Records, ValidationFailed
from app.records import query as q
from app.records.search import search
from tests.apikit import error_of, token_for
from tests.factories import account, contact, meta_of, service, small_pack, write_schema
from tests.webkit import post_form, records_of

ID = "11010119900307123X"
ENCRYPTED = {"type": "string", "encrypted": True, "max_length": 18,
             "label": {"en": "ID card number", "zh": "身份证号"}}


@pytest.fixture
def key() -> str:
    return crypto.new_key()


@pytest.fixture
def rec(engine: sa.Engine, tmp_path: Path, key: str) -> Records:
    crypto.attach(engine, crypto.KeyRing(key))
    small_pack(tmp_path / "s", con=contact(id_number=ENCRYPTED,
                                           note={"type": "text", "encrypted": True}))
    return service(engine, tmp_path / "s")  # type: ignore[no-any-return]


def raw(engine: sa.Engine, rid: int, col: str = "id_number") -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT {col} FROM ent_contact WHERE id = :i"),
                            {"i": rid}).scalar_one()


# --- config errors ---------------------------------------------------------------------------
def codes(tmp_path: Path, fields: dict[str, Any], **entity: Any) -> list[str]:
    write_schema(tmp_path / "c", "contact", {"entity": "contact", "fields": fields, **entity})
    with pytest.raises(ConfigErrors) as info:
        meta_of(tmp_path / "c")
    return [e.code for e in info.value.errors]


@pytest.mark.parametrize("option", [{"unique": True}, {"indexed": True}])
def test_encrypted_cannot_be_unique_or_indexed(tmp_path: Path, option: dict[str, Any]) -> None:
    assert codes(tmp_path, {"idn": {**ENCRYPTED, **option}}) == ["CRM-E048"]


@pytest.mark.parametrize("ftype", ["integer", "date", "picklist", "url", "rich_text"])
def test_encrypted_only_on_text_types(tmp_path: Path, ftype: str) -> None:
    spec: dict[str, Any] = {"type": ftype, "encrypted": True}
    if ftype == "picklist":
        spec["choices"] = ["a", "b"]
    assert codes(tmp_path, {"x": spec}) == ["CRM-E048"]


@pytest.mark.parametrize("where", [
    {"fields": {"f": {"type": "formula", "expr": "idn + 'x'", "result": "string"}}},
    {"fields": {"f": {"type": "string", "visible_when": "idn != null"}}},
    {"fields": {"f": {"type": "string", "required_when": "idn == 'a'"}}},
    {"fields": {"f": {"type": "string", "default": {"expr": "idn"}}}},
    {"rules": [{"name": "r", "when": "idn == 'x'", "message": {"en": "no"}}]},
    {"title": "idn"},
    {"list": {"sort": "-idn"}},
    {"views": [{"name": "v", "filters": {"idn": {"eq": "123"}}}]},
])
def test_encrypted_field_where_its_clear_value_is_needed(tmp_path: Path,
                                                         where: dict[str, Any]) -> None:
    fields = {"idn": ENCRYPTED, **where.pop("fields", {})}
    assert codes(tmp_path, fields, **where) == ["CRM-E049"]


def test_empty_filters_on_encrypted_fields_are_fine(tmp_path: Path) -> None:
    write_schema(tmp_path / "c", "contact", {
        "entity": "contact", "fields": {"idn": ENCRYPTED},
        "views": [{"name": "v", "filters": {"idn": {"not_empty": True}}}]})
    assert meta_of(tmp_path / "c").entity("contact").fields["idn"].encrypted


# --- storage -----------------------------------------------------------------------------------
def test_round_trip_stores_ciphertext(rec: Records, engine: sa.Engine, key: str) -> None:
    made = rec.create("contact", {"last_name": "Li", "id_number": ID, "note": "长文本 secret"})
    assert made["id_number"] == ID and made["note"] == "长文本 secret"
    stored = raw(engine, made["id"])
    assert ID not in stored and Fernet(key.encode()).decrypt(stored.encode()).decode() == ID
    assert "secret" not in raw(engine, made["id"], "note")
    assert rec.get("contact", made["id"])["id_number"] == ID
    changed = rec.update("contact", made["id"], {"id_number": "110101199003071234"})
    assert changed["id_number"] == "110101199003071234"
    assert rec.update("contact", made["id"], {"id_number": None})["id_number"] is None
    assert raw(engine, made["id"]) is None


def test_max_length_is_checked_on_the_clear_value(rec: Records) -> None:
    with pytest.raises(ValidationFailed) as info:
        rec.create("contact", {"last_name": "Li", "id_number": ID + "9"})
    assert "id_number" in info.value.errors


def test_same_value_twice_gives_different_ciphertext(rec: Records, engine: sa.Engine) -> None:
    a = rec.create("contact", {"last_name": "A", "id_number": ID})["id"]
    b = rec.create("contact", {"last_name": "B", "id_number": ID})["id"]
    assert raw(engine, a) != raw(engine, b)


def test_audit_trail_holds_no_clear_value(rec: Records, engine: sa.Engine) -> None:
    rid = rec.create("contact", {"last_name": "Li", "id_number": ID})["id"]
    rec.update("contact", rid, {"id_number": "110101199003071234", "last_name": "Lee"})
    with engine.connect() as conn:
        rows = [r.changes for r in conn.execute(sa.select(audit.c.changes)
                                                .where(audit.c.record_id == rid))]
    text = json.dumps(rows, ensure_ascii=False)
    assert ID not in text and "110101199003071234" not in text
    history = rec.history("contact", rid)
    assert history[0]["changes"]["id_number"] == [crypto.MASK, crypto.MASK]
    assert history[0]["changes"]["last_name"] == ["Li", "Lee"]
    assert history[1]["changes"]["id_number"] == [None, crypto.MASK]


# --- never searched, filtered or sorted in clear ----------------------------------------------
def test_lists_show_the_clear_value_but_cannot_filter_or_sort_it(rec: Records) -> None:
    rec.create("contact", {"last_name": "Li", "id_number": ID})
    rec.create("contact", {"last_name": "Wang"})
    page = q.run(rec, "contact", q.ListQuery(columns=("last_name", "id_number")))
    assert {r["id_number"] for r in page.rows} == {ID, None}
    for op in ("eq", "contains", "starts_with"):
        with pytest.raises(q.QueryError, match="ID card number"):
            q.run(rec, "contact", q.ListQuery(filters=(q.Filter("id_number", op, (ID,)),)))
    with pytest.raises(q.QueryError, match="id_number"):
        q.run(rec, "contact", q.ListQuery(sort="id_number"))
    filled = q.run(rec, "contact", q.ListQuery(filters=(q.Filter("id_number", "not_empty"),)))
    assert [r["last_name"] for r in filled.rows] == ["Li"]
    empty = q.run(rec, "contact", q.ListQuery(filters=(q.Filter("id_number", "empty"),)))
    assert [r["last_name"] for r in empty.rows] == ["Wang"]


def test_quick_and_global_search_never_match_encrypted_values(rec: Records) -> None:
    rec.create("contact", {"last_name": "Li", "id_number": ID, "note": "findme please"})
    assert q.run(rec, "contact", q.ListQuery(search="1101011990")).rows == []
    assert q.run(rec, "contact", q.ListQuery(search="findme")).rows == []
    assert search(rec, "1101011990") == [] and search(rec, "findme") == []
    assert [r["last_name"] for r in q.run(rec, "contact", q.ListQuery(search="Li")).rows] \
        == ["Li"]


# --- keys --------------------------------------------------------------------------------------
def test_rotation_re_encrypts_with_the_first_key(rec: Records, engine: sa.Engine,
                                                 key: str) -> None:
    rid = rec.create("contact", {"last_name": "Li", "id_number": ID})["id"]
    new = crypto.new_key()
    crypto.attach(engine, crypto.KeyRing(new, [key]))
    assert rec.get("contact", rid)["id_number"] == ID  # read with the old key meanwhile
    with engine.begin() as conn:
        assert crypto.rotate(conn, rec.meta, crypto.keys_of(engine)) == {
            "contact.id_number": 1, "contact.note": 0}
    assert Fernet(new.encode()).decrypt(raw(engine, rid).encode()).decode() == ID
    crypto.attach(engine, crypto.KeyRing(new))  # the old key is no longer needed
    assert rec.get("contact", rid)["id_number"] == ID


def test_wrong_key_is_a_clear_error_naming_the_field(rec: Records, engine: sa.Engine) -> None:
    rid = rec.create("contact", {"last_name": "Li", "id_number": ID})["id"]
    crypto.attach(engine, crypto.KeyRing(crypto.new_key()))
    with pytest.raises(crypto.EncryptionError, match=r"ID card number \(contact.id_number\)") \
            as info:
        rec.get("contact", rid)
    assert info.value.status == 503
    with engine.connect() as conn:
        found = {c.field: c for c in crypto.check(conn, rec.meta, crypto.keys_of(engine))}
    assert not found["contact.id_number"].ok and found["contact.id_number"].values == 1
    assert found["contact.note"].ok


def test_no_key_refuses_to_write_encrypted_values(engine: sa.Engine, tmp_path: Path) -> None:
    small_pack(tmp_path / "s", con=contact(id_number=ENCRYPTED))
    rec = service(engine, tmp_path / "s")  # this engine has no key ring
    assert rec.create("contact", {"last_name": "Li"})["id_number"] is None
    with pytest.raises(crypto.EncryptionError, match="CRM_ENCRYPTION_KEY"):
        rec.create("contact", {"last_name": "Li", "id_number": ID})


def test_development_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "instance" / crypto.KEY_FILE
    first = crypto.KeyRing(None, key_file=path)
    assert first.source is None and not path.exists()  # reading alone makes no key
    token = first.encrypt("secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and first.generated
    again = crypto.KeyRing(None, key_file=path)  # after a restart
    assert again.decrypt(token) == "secret"


def test_a_key_that_is_not_a_fernet_key_is_named() -> None:
    with pytest.raises(crypto.EncryptionError, match=r"CRM_ENCRYPTION_KEY.*new-key"):
        crypto.KeyRing("not-a-key").encrypt("x")


# --- the deployment: web form, detail page, API -----------------------------------------------
def test_form_saves_and_detail_shows_it(client: FlaskClient, web: Flask) -> None:
    resp = post_form(client, "/contact/new", {"last_name": "Zhang", "id_number": ID})
    assert resp.status_code == 302, resp.text
    cid = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert ID in client.get(f"/contact/{cid}").text
    assert records_of(web).get("contact", cid)["id_number"] == ID
    engine = web.extensions["crm"].ctx.engine
    assert ID not in raw(engine, cid)
    assert crypto.keys_of(engine).generated  # no CRM_ENCRYPTION_KEY in tests: the dev key


def test_api_filter_and_sort_on_encrypted_field_are_400(client: FlaskClient, web: Flask,
                                                         crm: Any) -> None:
    records_of(web).create("contact", {"last_name": "Zhang", "id_number": ID})
    api = web.test_client()
    headers = token_for(crm)
    resp = api.get(f"/api/v1/contact?f.id_number.eq={ID}", headers=headers)
    assert resp.status_code == 400 and "ID card number" in error_of(resp)["message"]
    resp = api.get("/api/v1/contact?sort=id_number", headers=headers)
    assert resp.status_code == 400 and "id_number" in error_of(resp)["message"]
    found = api.get("/api/v1/contact?f.id_number.not_empty=1", headers=headers).get_json()
    assert [r["id_number"] for r in found["data"]] == [ID]


def test_account_pack_without_encrypted_fields_needs_no_key(engine: sa.Engine,
                                                             tmp_path: Path) -> None:
    small_pack(tmp_path / "s", acc=account())
    rec = service(engine, tmp_path / "s")
    assert rec.create("contact", {"last_name": "Li"})["last_name"] == "Li"


def test_cli_check_and_rotate(crm: Any, web: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from app.cli import main

    records_of(web).create("contact", {"last_name": "Zhang", "id_number": ID})
    dev_key = (crm.settings.instance_dir / crypto.KEY_FILE).read_text().strip()
    monkeypatch.setenv("CRM_DATABASE_URL", crm.settings.database_url)

    def run(*args: str) -> Any:
        out = CliRunner().invoke(main, ["--config", str(crm.settings.config_file), *args])
        assert "Traceback" not in out.output
        return out

    ok = run("encryption", "check")
    assert ok.exit_code == 0 and "ok  contact.id_number: 1 values" in ok.output
    new = crypto.new_key()
    monkeypatch.setenv("CRM_ENCRYPTION_KEY", new)
    bad = run("encryption", "check")
    assert bad.exit_code == 2 and "BAD contact.id_number" in bad.output
    monkeypatch.setenv("CRM_ENCRYPTION_OLD_KEYS", dev_key)
    rotated = run("encryption", "rotate")
    assert rotated.exit_code == 0 and "contact.id_number: 1 values re-encrypted" in rotated.output
    monkeypatch.delenv("CRM_ENCRYPTION_OLD_KEYS")
    assert run("encryption", "check").exit_code == 0  # the new key alone reads it now
