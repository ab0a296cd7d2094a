"""The designer's draft page: the plan with the rows it touches, hiding data only when
confirmed, refused conversions naming the values, the conflict panel after another admin
published, config errors with file and line, the read-only notice with the YAML to download,
and the purge of hidden data."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import sqlalchemy as sa

from app.cli_privacy import live_records
from app.designer.service import Designer
from app.records import Actor
from tests import designerwebkit
from tests.designerkit import designer_deployment, field_change
from tests.designerwebkit import TIER_FORM, DesignerWeb

designer_web = designerwebkit.designer_web
SYSTEM = Actor(None, "system", ("admin",))


def _accounts(web: DesignerWeb, *rows: dict[str, str]) -> list[int]:
    rs = live_records(web.ctx)
    return [int(rs.create("account", dict(row), SYSTEM)["id"]) for row in rows]


def _version(web: DesignerWeb) -> int:
    from app.migrate.publish import active_version

    with web.ctx.engine.connect() as conn:
        version, _meta = active_version(conn)
    assert version is not None
    return version


def test_the_plan_shows_each_step_with_the_rows_it_touches(designer_web: DesignerWeb) -> None:
    web = designer_web
    assert 'id="draft-empty"' in web.page("/designer/draft")
    _accounts(web, {"name": "A"}, {"name": "B"}, {"name": "C"})
    web.post("/designer/entities/account/fields/new", TIER_FORM)
    page = web.page("/designer/draft")
    row = re.search(r'<tr data-step="add_column" data-kind="safe".*?</tr>', page, re.S)
    assert row and 'data-rows="3"' in row.group(0) and "account.tier" in row.group(0)
    assert 'id="apply"' in page and 'id="confirm"' not in page
    assert re.search(r'data-line="add">\+  tier:', page)  # the YAML diff, coloured by line
    # a change can be taken out again
    resp = web.post("/designer/draft/changes/0/remove")
    assert resp.status_code == 302 and web.draft() == []


def test_hiding_data_needs_the_confirmation(designer_web: DesignerWeb) -> None:
    web = designer_web
    _accounts(web, {"name": "Acme", "website": "https://acme.example"})
    web.post("/designer/entities/account/fields/website/remove")
    page = web.page("/designer/draft")
    assert re.search(r'data-step="hide_column" data-kind="hides"', page)
    assert "I understand the data is hidden, not deleted; purge later." in page
    before = _version(web)
    resp = web.post("/designer/draft/apply", {"message": "no websites"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/designer/draft")
    assert "Not applied:" in web.page("/designer/draft") and _version(web) == before
    resp = web.post("/designer/draft/apply", {"message": "no websites", "confirm": "yes"})
    assert "/designer/applied/" in resp.headers["Location"]
    assert _version(web) == before + 1
    with web.ctx.engine.connect() as conn:  # hidden, not deleted
        assert conn.execute(sa.text("select website from ent_account")).scalar_one() == \
            "https://acme.example"


def test_a_refused_conversion_lists_the_values_and_blocks_the_apply(
        designer_web: DesignerWeb) -> None:
    web = designer_web
    _accounts(web, {"name": "Acme", "description": "lots of staff"}, {"name": "Beta",
                                                                      "description": "42"})
    resp = web.post("/designer/entities/account/fields/description", {
        "type": "integer", "label_en": "Description", "label_zh": "描述"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = web.page("/designer/draft")
    row = re.search(r'<tr data-step="convert_column" data-kind="refused".*?</tr>', page, re.S)
    assert row and "Values that would not convert" in row.group(0)
    assert "lots of staff" in row.group(0)
    assert re.search(r'id="apply"[^>]* disabled', page)
    assert "the plan would lose data" in page
    before = _version(web)
    web.post("/designer/draft/apply", {"confirm": "yes"})
    assert _version(web) == before


def test_config_errors_are_listed_with_file_and_line(designer_web: DesignerWeb) -> None:
    web = designer_web
    Designer(web.ctx).add("admin", field_change(definition={"type": "lookup", "to": "nowhere",
                                                            "label": {"en": "X"}}))
    page = web.page("/designer/draft")
    found = re.search(r'<tr data-code="(CRM-E\d+)">.*?</tr>', page, re.S)
    assert found and "nowhere" in found.group(0)
    assert re.search(r"schemas/account\.yaml:\d+", found.group(0))
    assert re.search(r'id="apply"[^>]* disabled', page)


def test_a_conflict_shows_the_other_change_and_rebases(designer_web: DesignerWeb) -> None:
    web = designer_web
    web.post("/designer/entities/account/fields/new", TIER_FORM)
    other = Designer(web.ctx)
    other.add("carol", field_change("contact", "nickname", {
        "type": "string", "label": {"en": "Nickname"}}))
    published = other.apply("carol", message="nicknames for contacts")
    page = web.page("/designer/draft")
    panel = re.search(r'<section[^>]*id="conflict".*?</section>', page, re.S)
    assert panel
    assert f"Version {published.version} was published by carol" in panel.group(0)
    assert "nicknames for contacts" in panel.group(0) and "contact.nickname" in panel.group(0)
    assert 'id="apply-form"' not in page and 'id="rebase"' in page
    resp = web.post("/designer/draft/apply", {})  # refused even when posted
    assert resp.headers["Location"].endswith("/designer/draft")
    assert _version(web) == published.version
    web.post("/designer/draft/rebase")
    page = web.page("/designer/draft")
    assert 'id="conflict"' not in page and 'id="apply-form"' in page
    resp = web.post("/designer/draft/apply", {"message": "tiers"})
    assert "/designer/applied/" in resp.headers["Location"]
    schema = (web.ctx.settings.schema_dirs[-1]).joinpath("contact.yaml").read_text()
    assert "nickname" in schema  # the other admin's change is still there


def test_read_only_config_offers_the_yaml_to_download(tmp_path: Path,
                                                      database_url: str) -> None:
    ctx = designer_deployment(tmp_path, database_url, extra_config="read_only_config: true\n")
    try:
        web = DesignerWeb(ctx)
        web.post("/designer/entities/account/fields/new", TIER_FORM)
        page = web.page("/designer/draft")
        assert 'id="read-only"' in page and "read-only" in page
        assert 'id="apply-form"' not in page and 'id="read-only-download"' in page
        resp = web.get("/designer/draft/download")
        assert resp.status_code == 200 and resp.mimetype == "application/zip"
        with zipfile.ZipFile(io.BytesIO(resp.get_data())) as zipped:
            assert zipped.namelist() == ["schemas/account.yaml"]
            text = zipped.read("schemas/account.yaml").decode()
        assert "tier:" in text and "entity: account" in text
        before = (tmp_path / "schemas" / "account.yaml").read_text()
        web.post("/designer/draft/apply", {"confirm": "yes"})
        assert (tmp_path / "schemas" / "account.yaml").read_text() == before
    finally:
        ctx.dispose()


def test_purging_hidden_data_needs_its_own_confirmation(designer_web: DesignerWeb) -> None:
    web = designer_web
    _accounts(web, {"name": "Acme", "website": "https://a.example"},
              {"name": "Beta", "website": "https://b.example"})
    assert 'id="purge-empty"' in web.page("/designer/purge")
    web.post("/designer/entities/account/fields/website/remove")
    web.post("/designer/draft/apply", {"confirm": "yes"})
    page = web.page("/designer/purge")
    row = re.search(r'<tr data-step="drop_column" data-entity="account">.*?</tr>', page, re.S)
    assert row and 'data-rows="2"' in row.group(0)
    shown = re.search(r'name="version" value="(\d+)"', page)
    assert shown, "the form says which version's plan it shows"
    web.post("/designer/purge", {"version": shown.group(1)})
    assert "Not purged:" in web.page("/designer/purge")
    web.post("/designer/purge", {"confirm": "yes"})  # no version: which plan was seen?
    assert "nothing was purged" in web.page("/designer/purge")
    with web.ctx.engine.connect() as conn:
        assert "website" in {c["name"] for c in sa.inspect(conn).get_columns("ent_account")}
    web.post("/designer/purge", {"confirm": "yes", "version": shown.group(1)})
    assert 'id="purge-empty"' in web.page("/designer/purge")
    with web.ctx.engine.connect() as conn:
        assert "website" not in {c["name"] for c in sa.inspect(conn).get_columns("ent_account")}


def test_discarding_the_draft(designer_web: DesignerWeb) -> None:
    web = designer_web
    web.post("/designer/entities/account/fields/new", TIER_FORM)
    assert 'id="draft-count">1<' in web.page("/designer/")
    resp = web.post("/designer/draft/discard")
    assert resp.status_code == 302 and web.draft() == []
