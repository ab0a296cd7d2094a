"""Reports and dashboards in a real browser (Debian Chromium via Playwright): a sales manager
builds a report (opportunities by stage, sum of amount, bar chart), previews and saves it, adds
it to a new dashboard, opens the dashboard, clicks a bar and lands on the opportunity list
filtered to that stage. No JavaScript library draws the chart: it is SVG from the server.
Screenshots of the builder and the dashboard go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from tests.reportswebkit import DEALS, PASSWORDS, report_deployment, seed_deals
from tests.webkit import browser_sign_in, live_server, web_app

# every Content-Security-Policy violation of the page (as tests/test_browser_csp.py watches)
WATCH = """document.addEventListener('securitypolicyviolation', e => {
  (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI);
});"""


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = report_deployment(tmp_path, database_url)
    try:
        yield c
    finally:
        c.dispose()


def test_manager_builds_a_report_adds_it_to_a_dashboard_and_drills_down(
        browser: Any, ctx: Context, artifacts: Path) -> None:
    seed_deals(web_app(ctx), ctx)
    won = [d for d in DEALS if d[0] == "won"]
    with live_server(ctx) as base:
        bctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = bctx.new_page()
        page.add_init_script(WATCH)  # Content-Security-Policy violations
        errors: list[str] = []  # script errors and failed requests (but the favicon)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and "favicon" not in r.url else None)
        try:
            browser_sign_in(page, base, "manager", PASSWORDS["manager"])
            page.click("#analytics-menu")  # Dashboards, Reports, Targets
            page.click("#reports-link")
            page.click("#new-report")
            page.wait_for_url(re.compile(r".*/reports/new$"))
            page.wait_for_load_state("load")  # reports.js listens for the entity's change
            # choosing the entity reloads the builder with its fields (static/reports.js)
            page.select_option("#entity", "opportunity")
            page.locator("#g1-field").wait_for()
            page.select_option("#g1-field", "stage")
            assert not page.locator("#g1-bucket").is_visible()  # stage is no date
            page.select_option("#m-agg-0", "sum")
            page.select_option("#m-field-0", "amount")
            page.check("#chart-bar")
            page.fill("#label", "Pipeline by stage (mine)")
            page.click("#preview")
            page.locator("#report-preview svg.crm-chart").wait_for()
            assert page.locator("#preview-table tbody tr").count() == len({d[0] for d in DEALS})
            page.screenshot(path=str(artifacts / "reports-builder.png"), full_page=True)
            assert page.evaluate("window.__csp || []") == []
            page.click("#save-report")
            page.wait_for_url(re.compile(r".*/reports/u\d+$"))
            assert page.locator("#report-title").inner_text() == "Pipeline by stage (mine)"
            # add it to a new dashboard
            page.select_option("#dashboard", "")
            page.fill("#new-dashboard-name", "My pipeline")
            page.click("#add-widget")
            page.wait_for_url(re.compile(r".*/dashboards/u\d+$"))
            assert page.locator("#dashboard-title").inner_text() == "My pipeline"
            bars = page.locator("#dashboard-widgets svg.crm-chart a.crm-chart-mark")
            assert bars.count() == len({d[0] for d in DEALS})
            page.screenshot(path=str(artifacts / "reports-dashboard.png"), full_page=True)
            assert page.evaluate("window.__csp || []") == []
            # the bar of "Won" leads to the won opportunities
            page.locator("#dashboard-widgets a.crm-chart-mark", has_text="Won").click()
            page.wait_for_url(re.compile(r".*/opportunity/\?.*f\.stage\.eq=won"))
            assert page.locator("table tbody tr").count() == len(won)
            assert page.locator("#list-count").inner_text().startswith(str(len(won)))
            assert not errors, errors
        finally:
            bctx.close()
