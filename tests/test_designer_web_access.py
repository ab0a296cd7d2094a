"""The designer's permission pages: the role x entity matrix shows effective grants and where
they differ from the role default; saving a cell or a role adds one change with only the keys
that differ; a hidden field is gone for that role once applied; admins only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app.context import Context
from app.designer.service import Designer
from tests import designertabskit
from tests.apikit import token_for
from tests.designerkit import designer_deployment
from tests.designertabskit import (
    SYSTEM,
    admin_client,
    changed,
    designer_web,
    draft_changes,
    form_fields,
    live_records,
)
from tests.webkit import csrf, sign_in, user_id

ctx = designertabskit.ctx


def _cell(html: str, entity: str, role: str) -> str:
    found = re.search(rf'data-cell="{entity}:{role}">(.*?)</span></span>', html, re.S)
    assert found, f"no cell {entity}:{role}"
    return re.sub(r"<[^>]+>", "", found.group(1))


def _post(client: FlaskClient, url: str, **values: str | list[str]) -> object:
    fields = form_fields(client.get(url).text, "grant-form" if "/roles/" not in url
                         else "role-form")
    return client.post(url, data=changed(fields, **values))


def test_the_matrix_shows_effective_grants_and_what_differs(ctx: Context) -> None:
    html = admin_client(ctx).get("/designer/access").text
    # rows are entities, columns roles (not admin): the role default, overridden key by key
    assert 'data-role="admin"' not in html
    assert _cell(html, "opportunity", "sales_rep") == "C R:own E:own D:own X I:- M:-"
    assert _cell(html, "account", "sales_rep") == "C R:all E:own D:own X I:- M:-"
    assert _cell(html, "lead", "service_agent") == "C:- R:- E:- D:- X:- I:- M:-"
    # account: read all differs from the sales rep's default (own); the rest follows it
    cell = re.search(r'data-cell="account:sales_rep">.*?</span></span>', html, re.S)
    assert cell is not None
    assert re.findall(r'data-action="(\w+)" data-differs', cell.group(0)) == ["read"]
    # the margin is hidden from sales reps on opportunities
    row = html[html.index('<tr data-entity="opportunity">'):]
    assert 'data-hidden="1"' in row[:row.index("</tr>")]


def test_a_cell_saves_only_the_keys_that_differ_from_the_role_default(ctx: Context) -> None:
    client = admin_client(ctx)
    url = "/designer/access/lead/service_agent"
    form = client.get(url).text
    assert 'value="inherit" selected' in form
    # read all (differs), edit own (the role default: left out), create back to the default
    resp = _post(client, url, **{"a-read": "all", "a-edit": "own", "a-create": "inherit",
                                 "a-delete": "inherit"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/designer/draft")
    assert draft_changes(ctx) == [{"op": "permissions", "entity": "lead",
                                   "role": "service_agent", "grant": {"read": "all"}}]
    preview = Designer(ctx).preview("admin")
    assert not preview.errors and not preview.blockers
    assert preview.meta is not None
    assert dict(preview.meta.entity("lead").permissions["service_agent"]) == {"read": "all"}
    # the matrix shows the draft's config now
    assert _cell(admin_client(ctx).get("/designer/access").text, "lead",
                 "service_agent") == "C R:all E:own D:- X:- I:- M:-"


def test_everything_inherited_removes_the_entry(ctx: Context) -> None:
    client = admin_client(ctx)
    inherit = {f"a-{a}": "inherit" for a in ("create", "read", "edit", "delete", "export",
                                              "import")}
    _post(client, "/designer/access/opportunity/sales_rep", **inherit, **{"f-margin": "visible"})
    assert draft_changes(ctx) == [{"op": "permissions", "entity": "opportunity",
                                   "role": "sales_rep", "grant": None}]
    preview = Designer(ctx).preview("admin")
    assert not preview.errors and preview.meta is not None
    assert "sales_rep" not in preview.meta.entity("opportunity").permissions


def test_the_field_grid_hides_a_field_for_the_role_once_applied(ctx: Context) -> None:
    client = admin_client(ctx)
    _post(client, "/designer/access/lead/sales_rep", **{"f-phone": "hidden",
                                                         "f-rating": "read_only"})
    assert draft_changes(ctx) == [{"op": "permissions", "entity": "lead", "role": "sales_rep",
                                   "grant": {"read": "team", "edit": "team",
                                             "hidden": ["phone"], "read_only": ["rating"]}}]
    Designer(ctx).apply("admin", message="reps do not see lead phones")
    app = designer_web(ctx)
    rep = app.test_client()
    sign_in(rep, "rep")
    form = rep.get("/lead/new").text
    assert 'data-field="phone"' not in form and 'data-field="email"' in form
    lead = live_records(app).create("lead", {"last_name": "Wang", "company": "Tea Co",
                                             "phone": "021-5555-0101",
                                             "owner": user_id(ctx, "rep")}, SYSTEM)
    api = app.test_client().get(f"/api/v1/lead/{lead['id']}", headers=token_for(ctx, "rep"))
    assert api.status_code == 200
    assert "phone" not in api.get_json() and api.get_json()["last_name"] == "Wang"
    admin = app.test_client().get(f"/api/v1/lead/{lead['id']}", headers=token_for(ctx))
    assert admin.get_json()["phone"] == "021-5555-0101"


def test_the_role_page_sets_labels_hierarchy_and_defaults(ctx: Context) -> None:
    client = admin_client(ctx)
    url = "/designer/access/roles/marketing"
    page = client.get(url).text
    assert 'value="Marketing"' in page
    resp = _post(client, url, **{"label-en": "Marketing team", "reports_to": "sales_director",
                                 "a-import": "no", "a-read": "team"})
    assert resp.status_code == 302
    assert draft_changes(ctx) == [{"op": "role", "role": "marketing", "values": {
        "label": {"en": "Marketing team", "zh": "市场专员"}, "reports_to": "sales_director",
        "default": {"create": True, "read": "team", "edit": "own", "delete": "own",
                    "export": True}}}]
    preview = Designer(ctx).preview("admin")
    assert not preview.errors and preview.meta is not None
    marketing = preview.meta.access.roles["marketing"]
    assert marketing.reports_to == "sales_director" and "import" not in marketing.default
    assert "marketing" in preview.meta.access.below("sales_director")


def test_bad_input_is_refused_beside_the_field_and_nothing_is_added(ctx: Context) -> None:
    client = admin_client(ctx)
    resp = _post(client, "/designer/access/lead/sales_rep", **{"a-read": "everyone"})
    assert resp.status_code == 400
    assert "Choose one of: inherit, none, own, team, subordinates, all." in resp.text
    resp = _post(client, "/designer/access/roles/sales_rep", reports_to="sales_rep")
    assert resp.status_code == 400 and "nor below it" in resp.text
    assert draft_changes(ctx) == []
    # the preview answers the same problem as JSON
    token = csrf(client.get("/designer/access/lead/sales_rep").text)
    body = client.post("/designer/access/lead/sales_rep/preview",
                       data={"csrf_token": token, "a-read": "everyone"}).get_json()
    assert body["ok"] is False and "a-read" in body["errors"]
    # unknown entities and roles are not found; admin may do everything (no cell)
    for url in ("/designer/access/nothing/sales_rep", "/designer/access/lead/nobody",
                "/designer/access/lead/admin", "/designer/access/roles/admin",
                "/designer/access/roles/nobody"):
        assert client.get(url).status_code == 404, url


def test_the_live_preview_shows_the_yaml_and_the_file_diff(ctx: Context) -> None:
    client = admin_client(ctx)
    url = "/designer/access/account/marketing"
    fields = changed(form_fields(client.get(url).text, "grant-form"), **{"a-delete": "all"})
    body = client.post(url + "/preview", data=fields).get_json()
    assert body["ok"] is True
    assert body["yaml"] == ("permissions:\n  marketing: {create: false, read: all, "
                            "delete: all}\n")
    assert "-  marketing:       {create: false, read: all, delete: none}" in body["diff"]
    assert "+  marketing: {create: false, read: all, delete: all}" in body["diff"]
    assert draft_changes(ctx) == []  # a preview saves nothing


def test_only_admins_may_open_the_permission_pages(ctx: Context) -> None:
    rep = designer_web(ctx).test_client()
    sign_in(rep, "rep")
    for url in ("/designer/access", "/designer/access/lead/sales_rep",
                "/designer/access/roles/sales_rep"):
        assert rep.get(url).status_code == 403, url
    assert rep.post("/designer/access/lead/sales_rep", data={}).status_code in (400, 403)
    anonymous = designer_web(ctx).test_client().get("/designer/access")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


@pytest.fixture
def overlay(tmp_path: Path, database_url: str) -> Context:
    made = designer_deployment(tmp_path, database_url, overlay=True)
    yield made  # type: ignore[misc]
    made.dispose()


def test_in_an_overlay_inheriting_writes_what_undoes_the_base_pack(overlay: Context) -> None:
    client = admin_client(overlay)
    # the base pack hides the margin from sales reps: showing it must be written in the
    # overlay (leaving the key out would let the base pack's list through)
    _post(client, "/designer/access/opportunity/sales_rep", **{"f-margin": "visible"})
    assert draft_changes(overlay) == [{"op": "permissions", "entity": "opportunity",
                                       "role": "sales_rep", "grant": {"hidden": []}}]
    preview = Designer(overlay).preview("admin")
    assert not preview.errors and preview.meta is not None
    assert list(preview.meta.entity("opportunity").permissions["sales_rep"]["hidden"]) == []
