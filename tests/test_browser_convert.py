"""In a real browser: a sales rep converts a qualified lead from its page into an account, a
contact and an opportunity, renaming the opportunity on the way, and lands on the account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from tests.stageskit import records
from tests.webkit import browser_sign_in, live_server, user_id


@pytest.fixture
def ctx(workflow_crm: Context) -> Context:
    return workflow_crm


def test_a_rep_converts_a_lead(browser: Any, ctx: Context, artifacts: Path) -> None:
    from app.records import SYSTEM

    lead = records(ctx).create("lead", {
        "company": "西湖茶业有限公司", "first_name": "伟", "last_name": "李",
        "email": "li.wei@xihu-tea.cn", "status": "qualified",
        "owner": user_id(ctx, "rep")}, SYSTEM)["id"]
    with live_server(ctx) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            browser_sign_in(page, base, "rep")
            page.goto(f"{base}/lead/{lead}")
            page.locator("a:has-text('Convert')").first.click()
            page.wait_for_selector("form input[type=checkbox]")
            page.screenshot(path=str(artifacts / "convert-page.png"), full_page=True)
            names = page.locator("form input[type=text]")
            names.last.fill("西湖茶业 - 茶园 ERP")
            page.locator("button[type=submit]:has-text('Convert')").last.click()
            page.wait_for_url(f"{base}/account/*")
            body = page.inner_text("main")
            assert "was converted" in body and "西湖茶业 - 茶园 ERP" in body and "李" in body
            page.screenshot(path=str(artifacts / "convert-done.png"), full_page=True)
        finally:
            page.close()
    converted = records(ctx).get("lead", lead)
    assert converted["status"] == "converted" and converted["converted_opportunity"]
