"""In a real browser, the discount approval across three users: a sales rep writes a quote with a
45% discount and a line and submits it; the manager finds it in the approvals inbox and approves
it with a comment; the sales director approves it too; the rep sees the quote approved, with the
history. Screenshots of the record card, the inbox and the statistics go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from tests.approvalkit import Flow, approval_deployment, password
from tests.webkit import browser_sign_in, live_server


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = approval_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def sign_in(page: Any, base: str, name: str) -> None:
    browser_sign_in(page, base, name, password(name))


def sign_out(page: Any) -> None:
    page.click("#user-menu")
    page.click("#sign-out")
    page.wait_for_url("**/login*")


def decide_in_inbox(page: Any, base: str, comment: str) -> None:
    page.click("#approvals-link")
    page.wait_for_url(f"{base}/approvals/")
    item = page.locator("#pending-list [data-task]").first
    item.locator("textarea[name=comment]").fill(comment)
    item.locator("button[data-action=approve]").click()
    page.wait_for_selector("text=You approved it.")


def test_a_discount_approved_by_manager_and_director(browser: Any, ctx: Context,
                                                     artifacts: Path) -> None:
    with live_server(ctx) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            sign_in(page, base, "rep")
            page.goto(f"{base}/quote/new")
            page.fill("input[name=name]", "Hangzhou tea gardens - ERP rollout")
            page.fill("input[name=discount]", "45")
            page.click("button[type=submit]#save")
            page.wait_for_url(f"{base}/quote/*")
            quote = int(page.url.rsplit("/", 1)[1])
            page.click(f"a[href='/quote_line/new?quote={quote}']")
            page.fill("input[name=description]", "ERP licences")
            page.fill("input[name=quantity]", "10")
            page.fill("input[name=unit_price]", "1200")
            page.click("button[type=submit]#save")
            page.wait_for_url("**/quote_line/*")
            page.goto(f"{base}/quote/{quote}")
            page.fill("#approval-submit-comment", "Strategic account, three-year deal")
            page.click("#approval-submit")
            page.wait_for_selector("#approval-lock")
            assert "step Manager approval" in page.inner_text("#approval-lock")
            page.locator("#approval").screenshot(path=str(artifacts / "approval-card-pending.png"))
            sign_out(page)

            sign_in(page, base, "manager")
            assert page.inner_text("#approvals-count") == "1"
            page.click("#approvals-link")
            page.wait_for_selector("#pending-list")
            assert "Hangzhou tea gardens" in page.inner_text("#pending-list")
            page.screenshot(path=str(artifacts / "approval-inbox.png"), full_page=True)
            page.goto(f"{base}/quote/{quote}")  # the approver's card: decide here or there
            assert page.locator("#approval button[data-action=approve]").count() == 1
            page.locator("#approval").screenshot(path=str(artifacts / "approval-card-approver.png"))
            decide_in_inbox(page, base, "Fine: the margin stays above 30%")
            assert "Nothing waits for your approval." in page.inner_text("main")
            sign_out(page)

            sign_in(page, base, "director")
            decide_in_inbox(page, base, "Approved for the three-year term")
            page.goto(f"{base}/approvals/stats")
            page.screenshot(path=str(artifacts / "approval-stats.png"), full_page=True)
            sign_out(page)

            sign_in(page, base, "rep")
            page.goto(f"{base}/quote/{quote}")
            assert page.inner_text("#approval-status") == "Approved"
            assert page.locator("#approval-lock").count() == 0
            history = page.inner_text("#approval-history")
            for text in ("Strategic account", "Fine: the margin stays above 30%",
                         "Approved for the three-year term", "Approval complete: approved"):
                assert text in history, text
            page.screenshot(path=str(artifacts / "approval-record-approved.png"),
                            full_page=True)
        finally:
            page.close()
    flow = Flow(ctx)
    assert flow.record("quote", quote)["status"] == "approved"
