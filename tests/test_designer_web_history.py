"""The designer's history page: versions newest first, the differences between any two (by
meaning and by file text), and revert as a draft whose plan hides what the old version did not
have, with the data kept and brought back by a second revert; admins only."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask.testing import FlaskClient

from app.context import Context
from app.designer import history
from app.designer.changes import apply_change
from app.designer.service import Designer
from app.migrate.publish import publish
from tests import designerkit, designertabskit
from tests.designerkit import field_change
from tests.designertabskit import SYSTEM, admin_client, designer_web, draft_changes, live_records
from tests.webkit import csrf, sign_in

ctx = designertabskit.ctx


def _publish_tier(ctx: Context) -> tuple[int, int, int]:
    """v1 (setup), v2 adds account.tier, v3 renames its label: their ids."""
    designer = Designer(ctx)
    designer.add("admin", field_change(name="tier"))
    v2 = designer.apply("admin", message="loyalty tier").version
    designer.add("admin", field_change(name="tier", definition={
        **designerkit.TIER, "label": {"en": "Customer tier", "zh": "客户等级"}}))
    v3 = designer.apply("admin", message="clearer label").version
    assert v2 is not None and v3 is not None
    return v2 - 1, v2, v3


def _revert(client: FlaskClient, version: int, **extra: str) -> object:
    token = csrf(client.get("/designer/history").text)
    return client.post(f"/designer/history/{version}/revert",
                       data={"csrf_token": token, **extra})


def test_the_history_lists_versions_newest_first(ctx: Context) -> None:
    v1, v2, v3 = _publish_tier(ctx)
    html = admin_client(ctx).get("/designer/history").text
    assert re.findall(r'<tr data-version="(\d+)"', html) == [str(v3), str(v2), str(v1)]
    row = html[html.index(f'<tr data-version="{v2}"'):]
    row = row[:row.index("</tr>")]
    assert "loyalty tier" in row and ">admin<" in row
    assert "add column ent_account.tier" in row or "tier" in row
    assert f'data-revert="{v2}"' in row
    # the live version is not offered as a revert; the two newest are picked to compare
    assert f'data-revert="{v3}"' not in html
    assert f'name="a" value="{v2}" aria-label' in html and f'value="{v2}" aria-label' in html


def test_two_versions_compare_by_meaning_and_by_file(ctx: Context) -> None:
    v1, v2, v3 = _publish_tier(ctx)
    client = admin_client(ctx)
    html = client.get(f"/designer/history/diff?a={v2}&b={v3}").text
    assert 'data-where="account.tier" data-kind="changed"' in html
    detail = html[html.index('data-detail="label"'):]
    assert "Loyalty tier" in detail[:400] and "Customer tier" in detail[:400]
    assert "-    label: {en: Loyalty tier, zh: 会员等级}" in html
    assert "+    label: {en: Customer tier, zh: 客户等级}" in html
    # files are named as in the deployment, never by the server's own paths
    assert "<code>schemas/account.yaml</code>" in html
    assert str(ctx.settings.config_file.parent) not in html
    # from the first version: the field was added
    html = client.get(f"/designer/history/diff?a={v1}&b={v3}").text
    assert 'data-where="account.tier" data-kind="added"' in html


def test_revert_hides_the_field_keeps_the_data_and_a_second_revert_brings_it_back(
        ctx: Context) -> None:
    v1, v2, _v3 = _publish_tier(ctx)
    app = designer_web(ctx)
    acme = live_records(app).create("account", {"name": "Acme", "tier": "gold"}, SYSTEM)
    client = admin_client(ctx)
    resp = _revert(client, v1)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/designer/draft")
    assert draft_changes(ctx) == [{"op": "restore", "version": v1}]
    designer = Designer(ctx)
    preview = designer.preview("admin")
    assert [s.op for s in preview.hides] == ["hide_column"]
    assert preview.hides[0].column == "tier"
    designer.apply("admin", confirm=True, message="back to v1")
    assert "tier" not in live_records(designer_web(ctx)).get("account", acme["id"])
    with ctx.engine.connect() as conn:
        assert conn.execute(sa.text("select tier from ent_account")).scalar_one() == "gold"
    # and forward again, from the page: the values come back with the field
    _revert(admin_client(ctx), v2)
    designer.apply("admin")
    assert live_records(designer_web(ctx)).get("account", acme["id"])["tier"] == "gold"
    with ctx.engine.connect() as conn:
        assert history.versions(conn)[0].author == "admin"


def test_revert_asks_before_it_replaces_a_draft(ctx: Context) -> None:
    v1, _v2, _v3 = _publish_tier(ctx)
    Designer(ctx).add("admin", field_change(name="region", definition={"type": "string"}))
    client = admin_client(ctx)
    page = _revert(client, v1)
    assert page.status_code == 200 and 'id="revert-confirm"' in page.text  # type: ignore[attr-defined]
    assert draft_changes(ctx)[0]["field"] == "region"
    _revert(client, v1, replace="1")
    assert draft_changes(ctx) == [{"op": "restore", "version": v1}]


def test_a_version_without_files_cannot_be_reverted(ctx: Context) -> None:
    # a version published without its files (as before versions kept them)
    changed_files = apply_change(ctx.yaml_files(), field_change(name="tier"))
    publish(ctx.engine, ctx.yaml_meta(changed_files), author="cli", message="by hand")
    with ctx.engine.connect() as conn:
        bare = history.versions(conn)[0]
    assert not bare.has_files
    Designer(ctx).add("admin", field_change(name="region", definition={"type": "string"}))
    Designer(ctx).apply("admin", confirm=True)  # the disk (without tier) was its base
    client = admin_client(ctx)
    html = client.get("/designer/history").text
    assert f'data-no-revert="{bare.id}"' in html
    resp = _revert(client, bare.id)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/designer/history")
    assert "cannot be restored" in client.get("/designer/history").text
    diff = client.get(f"/designer/history/diff?a={bare.id}&b={bare.id + 1}").text
    assert "kept their YAML files" in diff


def test_bad_ids_are_not_found_and_reps_are_refused(ctx: Context) -> None:
    client = admin_client(ctx)
    for url in ("/designer/history/diff?a=1", "/designer/history/diff?a=x&b=1",
                "/designer/history/diff?a=1&b=999", "/designer/history?page=0",
                "/designer/history?page=x", "/designer/history?page=9"):
        assert client.get(url).status_code == 404, url
    assert _revert(client, 999).status_code == 404  # type: ignore[attr-defined]
    rep = designer_web(ctx).test_client()
    sign_in(rep, "rep")
    for url in ("/designer/history", "/designer/history/diff?a=1&b=1"):
        assert rep.get(url).status_code == 403, url
    assert rep.post("/designer/history/1/revert").status_code in (400, 403)
