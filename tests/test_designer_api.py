"""The designer through the REST API (`/api/v1/config/...`): an admin's draft of changes, its
preview, applying it, the version history, comparing versions, a version's files, reverting;
with the refusals: non-admins 403, a change that cannot be made 400, a version that does not
exist 404, another admin's newer version 409, a draft that cannot be applied as it is 422."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from app.cli_privacy import live_records
from app.context import Context
from app.designer.service import Designer
from app.records import Actor
from tests import designerkit
from tests.apikit import error_of, token_for
from tests.designerkit import field_change
from tests.webkit import web_app

designer_ctx = designerkit.designer_ctx
SYSTEM = Actor(None, "system", ("admin",))
API = "/api/v1/config"


class Caller:
    """A test client signed in with a token."""

    def __init__(self, ctx: Context, username: str = "admin", scope: str = "write") -> None:
        self.client: FlaskClient = web_app(ctx).test_client()
        self.headers = token_for(ctx, username, scope=scope)

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(API + path, headers=self.headers, **kw)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(API + path, headers=self.headers, json=body)

    def delete(self, path: str) -> Any:
        return self.client.delete(API + path, headers=self.headers)


@pytest.fixture
def admin(designer_ctx: Context) -> Caller:
    return Caller(designer_ctx)


def account_yaml(ctx: Context) -> Path:
    return ctx.settings.schema_dirs[-1] / "account.yaml"


def test_only_administrators_may_use_it(designer_ctx: Context) -> None:
    rep = Caller(designer_ctx, "rep")
    for resp in (rep.get("/draft"), rep.post("/draft/changes", field_change()),
                 rep.get("/versions"), rep.post("/versions/1/revert"),
                 rep.post("/draft/apply", {})):
        assert resp.status_code == 403
        assert "administrators" in error_of(resp)["message"]
    anonymous = web_app(designer_ctx).test_client().get(f"{API}/draft")
    assert anonymous.status_code == 401
    reader = Caller(designer_ctx, "admin", scope="read")
    assert reader.get("/versions").status_code == 200
    assert reader.post("/draft/changes", field_change()).status_code == 403
    assert Designer(designer_ctx).draft("admin").changes == []


def test_a_change_joins_the_draft_and_a_bad_one_is_refused(admin: Caller) -> None:
    resp = admin.post("/draft/changes", field_change())
    assert resp.status_code == 201
    draft = resp.get_json()
    assert draft["author"] == "admin" and draft["base_version"] == draft["live_version"] == 1
    assert [(c["number"], c["summary"]) for c in draft["changes"]] == [
        (1, "set field account.tier")]
    assert draft["changes"][0]["change"] == field_change()
    bad = admin.post("/draft/changes", field_change(entity="nope"))
    assert bad.status_code == 400
    assert "there is no entity 'nope'" in error_of(bad)["message"]
    for body in ([field_change()], {"entity": "account"}, {"op": 3},
                 {"op": "restore", "version": 1}, {"op": "explode"}):
        assert admin.post("/draft/changes", body).status_code == 400, body
    # nothing of the refused changes was saved
    assert [c["number"] for c in admin.get("/draft").get_json()["changes"]] == [1]


def test_changes_come_out_by_number_and_the_draft_is_discarded(admin: Caller) -> None:
    admin.post("/draft/changes", field_change(name="tier"))
    admin.post("/draft/changes", field_change(name="region", definition={"type": "string"}))
    resp = admin.delete("/draft/changes/1")
    assert resp.status_code == 200
    assert [c["summary"] for c in resp.get_json()["changes"]] == ["set field account.region"]
    missing = admin.delete("/draft/changes/5")
    assert missing.status_code == 404 and "number 5" in error_of(missing)["message"]
    assert admin.delete("/draft").status_code == 204
    assert admin.get("/draft").get_json()["changes"] == []


def test_the_preview_shows_files_plan_and_config_errors(admin: Caller) -> None:
    admin.post("/draft/changes", field_change())
    preview = admin.get("/draft/preview").get_json()
    assert [(f["path"], f["kind"]) for f in preview["files"]] == [
        ("schemas/account.yaml", "changed")]
    assert "+  tier:" in preview["files"][0]["diff"]
    assert [(s["op"], s["safety"]) for s in preview["plan"]["steps"]] == [
        ("add_column", "safe")]
    assert preview["can_apply"] and preview["blockers"] == [] and preview["conflict"] is None
    assert preview["errors"] == [] and preview["hides"] == []
    # a definition the loader refuses: the error names the file and line; applying is refused
    admin.post("/draft/changes", field_change(name="size", definition={"type": "nonsense"}))
    broken = admin.get("/draft/preview").get_json()
    assert not broken["can_apply"] and broken["plan"] is None
    error = next(e for e in broken["errors"] if "nonsense" in e["message"])
    assert error["file"] == "schemas/account.yaml" and error["line"] > 1
    assert error["code"] == "CRM-E017"
    resp = admin.post("/draft/apply", {})
    assert resp.status_code == 422
    assert any("error(s)" in b for b in error_of(resp)["blockers"])


def test_apply_publishes_a_version_and_writes_the_yaml(designer_ctx: Context,
                                                       admin: Caller) -> None:
    admin.post("/draft/changes", field_change())
    resp = admin.post("/draft/apply", {"message": "loyalty tier"})
    assert resp.status_code == 200, resp.text
    applied = resp.get_json()
    assert applied["version"] == 2 and applied["written"] == ["schemas/account.yaml"]
    assert [s["summary"] for s in applied["plan"]["steps"]] == ["add picklist field account.tier"]
    assert "tier:" in account_yaml(designer_ctx).read_text(encoding="utf-8")
    assert admin.get("/draft").get_json()["changes"] == []
    newest = admin.get("/versions").get_json()["data"][0]
    assert (newest["id"], newest["author"], newest["message"], newest["live"],
            newest["has_files"]) == (2, "admin", "loyalty tier", True, True)
    # an empty draft cannot be applied
    empty = admin.post("/draft/apply")
    assert empty.status_code == 422
    assert error_of(empty)["blockers"] == ["the draft holds no changes"]
    for body in ({"confirm": "yes"}, {"message": 5}, {"force": True}, [1]):
        assert admin.post("/draft/apply", body).status_code == 400, body


def test_hiding_data_needs_confirm(designer_ctx: Context, admin: Caller) -> None:
    admin.post("/draft/changes", {"op": "remove_field", "entity": "account", "field": "email"})
    assert admin.get("/draft/preview").get_json()["needs_confirm"] is True
    refused = admin.post("/draft/apply", {})
    assert refused.status_code == 422
    error = error_of(refused)
    assert "confirm" in error["message"]
    assert [s["op"] for s in error["hides"]] == ["hide_column"]
    done = admin.post("/draft/apply", {"confirm": True})
    assert done.status_code == 200
    assert "email" not in designer_ctx.yaml_meta().entity("account").fields


def test_a_conflict_names_the_other_change_then_rebase(designer_ctx: Context,
                                                       admin: Caller) -> None:
    admin.post("/draft/changes", field_change(name="tier"))
    other = Designer(designer_ctx)
    other.add("bob", field_change(name="region", definition={"type": "string"}))
    other.apply("bob", message="sales region")
    resp = admin.post("/draft/apply", {})
    assert resp.status_code == 409
    error = error_of(resp)
    assert (error["base_version"], error["live_version"]) == (1, 2)
    assert [(v["author"], v["message"]) for v in error["newer"]] == [("bob", "sales region")]
    assert {"where": "account.region", "kind": "added", "details": []} in error["differences"]
    assert admin.get("/draft/preview").get_json()["conflict"]["live_version"] == 2
    rebased = admin.post("/draft/rebase")
    assert rebased.status_code == 200 and rebased.get_json()["base_version"] == 2
    assert admin.post("/draft/apply", {}).status_code == 200
    assert {"tier", "region"} <= set(designer_ctx.yaml_meta().entity("account").fields)


def test_versions_are_paged_and_parameters_checked(designer_ctx: Context,
                                                   admin: Caller) -> None:
    admin.post("/draft/changes", field_change())
    admin.post("/draft/apply", {})
    first = admin.get("/versions?limit=1").get_json()
    assert [v["id"] for v in first["data"]] == [2] and first["has_more"] is True
    assert first["live_version"] == 2
    rest = admin.get("/versions?limit=1&offset=1").get_json()
    assert [v["id"] for v in rest["data"]] == [1] and rest["has_more"] is False
    assert rest["data"][0]["steps"][0]["op"] == "create_table"
    for query in ("limit=0", "limit=abc", "limit=501", "offset=-1", "sort=id"):
        resp = admin.get(f"/versions?{query}")
        assert resp.status_code == 400, query
        assert error_of(resp)["message"]


def test_compare_two_versions_and_read_a_versions_files(designer_ctx: Context,
                                                        admin: Caller) -> None:
    original = account_yaml(designer_ctx).read_text(encoding="utf-8")
    admin.post("/draft/changes", field_change())
    admin.post("/draft/apply", {})
    diff = admin.get("/versions/1/diff/2").get_json()
    assert diff["differences"] == [{"where": "account.tier", "kind": "added", "details": []}]
    assert diff["files_recorded"] is True
    assert [f["path"] for f in diff["files"]] == ["schemas/account.yaml"]
    assert "+  tier:" in diff["files"][0]["diff"]
    back = admin.get("/versions/2/diff/1").get_json()
    assert back["differences"][0]["kind"] == "removed"
    files = admin.get("/versions/1/files").get_json()
    assert files["files"]["schemas/0/account.yaml"] == original
    assert files["paths"]["schemas/0/account.yaml"] == "schemas/account.yaml"
    for path in ("/versions/1/diff/99", "/versions/99/files", "/versions/0/files",
                 "/versions/99/revert"):
        resp = admin.client.open(API + path, headers=admin.headers,
                                 method="POST" if path.endswith("revert") else "GET")
        assert resp.status_code == 404, path
        assert "99" in error_of(resp)["message"] or path.endswith("/0/files")


def test_a_version_without_recorded_files_cannot_be_restored(crm: Context) -> None:
    admin = Caller(crm)  # the plain deployment publishes without recording its files
    resp = admin.get("/versions/1/files")
    assert resp.status_code == 404 and "no recorded YAML files" in error_of(resp)["message"]
    revert = admin.post("/versions/1/revert")
    assert revert.status_code == 422 and "cannot be restored" in error_of(revert)["message"]
    diff = admin.get("/versions/1/diff/1").get_json()
    assert diff["files_recorded"] is False and diff["files"] == []


def test_revert_restores_a_version_with_data_intact(designer_ctx: Context,
                                                    admin: Caller) -> None:
    original = account_yaml(designer_ctx).read_text(encoding="utf-8")
    admin.post("/draft/changes", field_change())
    assert admin.post("/draft/apply", {}).get_json()["version"] == 2
    acme = live_records(designer_ctx).create("account", {"name": "Acme", "tier": "gold"},
                                             SYSTEM)
    draft = admin.post("/versions/1/revert").get_json()
    assert [c["summary"] for c in draft["changes"]] == ["restore version 1"]
    preview = admin.get("/draft/preview").get_json()
    assert [s["op"] for s in preview["hides"]] == ["hide_column"]
    assert admin.post("/draft/apply", {}).status_code == 422  # hides tier: confirm first
    done = admin.post("/draft/apply", {"confirm": True, "message": "back to v1"})
    assert done.status_code == 200 and done.get_json()["version"] == 3
    assert account_yaml(designer_ctx).read_text(encoding="utf-8") == original
    assert "tier" not in live_records(designer_ctx).get("account", acme["id"])
    with designer_ctx.engine.connect() as conn:
        assert conn.execute(sa.text("select tier from ent_account")).scalar_one() == "gold"
    # forward again: the values come back with the field
    admin.post("/versions/2/revert")
    assert admin.post("/draft/apply", {}).status_code == 200
    assert live_records(designer_ctx).get("account", acme["id"])["tier"] == "gold"


def test_purge_lists_hidden_columns_and_drops_them_when_confirmed(designer_ctx: Context,
                                                                  admin: Caller) -> None:
    assert admin.get("/purge").get_json()["steps"] == []
    assert admin.post("/purge", {"confirm": True}).status_code == 422  # nothing to purge
    admin.post("/draft/changes", {"op": "remove_field", "entity": "account", "field": "email"})
    admin.post("/draft/apply", {"confirm": True})
    plan = admin.get("/purge").get_json()
    assert [(s["op"], s["entity"]) for s in plan["steps"]] == [("drop_column", "account")]
    assert admin.post("/purge", {"confirm": False}).status_code == 422
    assert admin.post("/purge", {}).status_code == 422
    done = admin.post("/purge", {"confirm": True})
    assert done.status_code == 200, done.text
    with designer_ctx.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("ent_account")}
    assert "email" not in columns
    assert admin.get("/purge").get_json()["steps"] == []
