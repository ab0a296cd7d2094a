"""Dashboard pages (app/web/dashboards.py): the role dashboards of the config only for their
roles, personal dashboards (create, add a report from its page, reorder, resize, remove,
delete) only for their owner, and a widget whose report cannot run says so in its place."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from tests.reportswebkit import client_for, report_deployment, save_report, seed_deals
from tests.webkit import csrf, web_app


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = report_deployment(tmp_path, database_url)
    try:
        yield c
    finally:
        c.dispose()


@pytest.fixture
def web(ctx: Context) -> Flask:
    app = web_app(ctx)
    seed_deals(app, ctx)
    return app


def _refs(html: str) -> list[str]:
    return re.findall(r'crm-dashboard-link" href="/dashboards/([^"]+)"', html)


def _new_dashboard(c: FlaskClient, name: str) -> str:
    token = csrf(c.get("/dashboards/").text)
    resp = c.post("/dashboards/new", data={"name": name, "csrf_token": token})
    assert resp.status_code in (302, 303), resp.text
    found = re.search(r"/dashboards/(u\d+)$", resp.headers["Location"])
    assert found
    return found.group(1)


def _add(c: FlaskClient, report: str, dashboard: str, width: str = "6") -> None:
    token = csrf(c.get(f"/reports/{report}").text)
    resp = c.post(f"/reports/{report}/widget", data={"dashboard": dashboard, "width": width,
                                                     "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/{dashboard}")


def _widgets(c: FlaskClient, ref: str) -> list[str]:
    return re.findall(r'crm-widget" data-report="([^"]+)"', c.get(f"/dashboards/{ref}").text)


def test_role_dashboards_only_for_their_roles(web: Flask) -> None:
    rep = client_for(web, "rep")
    assert _refs(rep.get("/dashboards/").text) == ["sales"]
    html = rep.get("/dashboards/sales").text
    assert _widgets(rep, "sales")[:2] == ["pipeline_by_stage", "won_by_month"]
    assert html.count('class="crm-chart"') >= 2
    assert rep.get("/dashboards/service").status_code == 404
    assert rep.get("/dashboards/u99999999999999").status_code == 404
    agent = client_for(web, "agent")
    assert _refs(agent.get("/dashboards/").text) == ["service"]
    assert agent.get("/dashboards/sales").status_code == 404
    assert set(_refs(client_for(web, "admin").get("/dashboards/").text)) >= {
        "sales", "service", "marketing"}
    # the menu links to both pages
    assert 'id="dashboards-link"' in html and 'id="reports-link"' in html


def test_role_dashboards_cannot_be_changed_here(web: Flask) -> None:
    rep = client_for(web, "rep")
    html = rep.get("/dashboards/sales").text
    assert "crm-remove-widget" not in html
    token = csrf(html)
    assert rep.post("/dashboards/sales/widgets/0/remove",
                    data={"csrf_token": token}).status_code == 403
    resp = rep.post("/reports/pipeline_by_stage/widget",
                    data={"dashboard": "sales", "width": "6", "csrf_token": token})
    assert resp.status_code == 403
    assert _widgets(rep, "sales")[0] == "pipeline_by_stage"


def test_add_a_report_to_a_new_dashboard_from_its_page(web: Flask) -> None:
    c = client_for(web, "manager")
    ref = save_report(c, label="Deals by stage")
    token = csrf(c.get(f"/reports/{ref}").text)
    resp = c.post(f"/reports/{ref}/widget", data={"dashboard": "", "new_name": "Mine",
                                                  "width": "12", "csrf_token": token})
    assert resp.status_code == 302
    board = resp.headers["Location"].rsplit("/", 1)[1]
    html = c.get(f"/dashboards/{board}").text
    assert "Deals by stage" in html and 'col-lg-12 crm-widget' in html
    assert f'href="/reports/{ref}/drill?k=won"' in html  # bars drill down
    assert _refs(c.get("/dashboards/").text) == ["sales", board]
    # the report page offers the new dashboard next time
    assert f'<option value="{board}">Mine</option>' in c.get(f"/reports/{ref}").text


def test_personal_dashboard_reorder_resize_remove_delete(web: Flask) -> None:
    c = client_for(web, "rep")
    board = _new_dashboard(c, "My board 看板")
    assert "看板" in c.get("/dashboards/").text
    assert 'id="dashboard-empty"' in c.get(f"/dashboards/{board}").text
    _add(c, "pipeline_by_stage", board)
    _add(c, "won_by_month", board)
    assert _widgets(c, board) == ["pipeline_by_stage", "won_by_month"]
    token = csrf(c.get(f"/dashboards/{board}").text)
    c.post(f"/dashboards/{board}/widgets/1/move", data={"to": "up", "csrf_token": token})
    assert _widgets(c, board) == ["won_by_month", "pipeline_by_stage"]
    c.post(f"/dashboards/{board}/widgets/0/width", data={"width": "12", "csrf_token": token})
    assert 'col-lg-12 crm-widget" data-report="won_by_month"' in c.get(
        f"/dashboards/{board}").text
    assert c.post(f"/dashboards/{board}/widgets/0/width",
                  data={"width": "7", "csrf_token": token}).status_code == 400
    assert c.post(f"/dashboards/{board}/widgets/5/remove",
                  data={"csrf_token": token}).status_code == 404
    c.post(f"/dashboards/{board}/widgets/0/remove", data={"csrf_token": token})
    assert _widgets(c, board) == ["pipeline_by_stage"]
    # nobody else sees or changes it
    other = client_for(web, "rep2")
    assert other.get(f"/dashboards/{board}").status_code == 404
    token2 = csrf(other.get("/dashboards/").text)
    assert other.post(f"/dashboards/{board}/widgets/0/remove",
                      data={"csrf_token": token2}).status_code == 404
    resp = other.post("/reports/pipeline_by_stage/widget",
                      data={"dashboard": board, "width": "6", "csrf_token": token2})
    assert resp.status_code == 403
    assert _widgets(c, board) == ["pipeline_by_stage"]
    c.post(f"/dashboards/{board}/delete", data={"csrf_token": token})
    assert c.get(f"/dashboards/{board}").status_code == 404


def test_a_widget_whose_report_is_gone_says_so(web: Flask) -> None:
    c = client_for(web, "rep")
    ref = save_report(c, label="Soon gone")
    board = _new_dashboard(c, "Board")
    _add(c, ref, board)
    _add(c, "pipeline_by_stage", board)
    token = csrf(c.get(f"/reports/{ref}").text)
    c.post(f"/reports/{ref}/delete", data={"csrf_token": token})
    resp = c.get(f"/dashboards/{board}")
    assert resp.status_code == 200
    assert "crm-widget-problem" in resp.text and 'class="crm-chart"' in resp.text


def test_a_dashboard_needs_a_name(web: Flask) -> None:
    c = client_for(web, "rep")
    token = csrf(c.get("/dashboards/").text)
    resp = c.post("/dashboards/new", data={"name": "  ", "csrf_token": token})
    assert resp.status_code == 303
    assert _refs(c.get("/dashboards/").text) == ["sales"]


def test_a_dashboard_page_has_tabs_to_the_users_other_dashboards(web: Flask) -> None:
    c = client_for(web, "manager")
    board = _new_dashboard(c, "Mine")
    html = c.get("/dashboards/sales").text
    tabs = re.findall(r'nav-link( active)?"[^>]*href="/dashboards/([^"]+)"', html)
    assert tabs == [(" active", "sales"), ("", board)]
    # one dashboard only: no tabs
    assert 'id="dashboard-tabs"' not in client_for(web, "rep").get("/dashboards/sales").text
