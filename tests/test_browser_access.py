"""In a real browser: a sales rep sees their own opportunities and never another rep's, and
never the hidden margin field, on the list, the detail page, the form, the board, global
search and the CSV export; then shares a deal with the other rep from its page, who opens it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from app.records.change import SYSTEM
from tests.webkit import browser_sign_in, live_server, records_of, user_id, web_app


@pytest.fixture
def server(crm: Context) -> Iterator[str]:
    with live_server(crm) as base:
        yield base


def test_a_rep_sees_only_their_deals_and_no_margin(browser: Any, server: str, crm: Context,
                                                   artifacts: Path) -> None:
    rec = records_of(web_app(crm))
    acc = rec.create("account", {"name": "Westlake Tea"}, SYSTEM)["id"]
    mine = rec.create("opportunity", {
        "name": "Tea garden expansion", "account": acc, "amount": 50000, "margin": 37.5,
        "stage": "proposal", "owner": user_id(crm, "rep")}, SYSTEM)
    rec.create("opportunity", {
        "name": "Tea export deal", "account": acc, "amount": 80000, "margin": 12.25,
        "stage": "proposal", "owner": user_id(crm, "rep2")}, SYSTEM)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    try:
        browser_sign_in(page, server, "rep")
        page.goto(f"{server}/opportunity/")
        table = page.inner_text("#list-table")
        assert "Tea garden expansion" in table and "Tea export deal" not in table
        assert "Margin" not in page.content()
        page.screenshot(path=str(artifacts / "access-rep-list.png"), full_page=True)

        page.goto(f"{server}/opportunity/{mine['id']}")
        body = page.inner_text("main")
        assert "Tea garden expansion" in body and "Margin" not in body and "37.5" not in body
        page.screenshot(path=str(artifacts / "access-rep-detail.png"), full_page=True)
        page.goto(f"{server}/opportunity/{mine['id']}/edit")
        assert page.locator("[data-field=margin]").count() == 0

        page.goto(f"{server}/opportunity/board")
        board = page.inner_text("main")
        assert "Tea garden expansion" in board and "Tea export deal" not in board

        page.goto(f"{server}/search?q=Tea")
        found = page.inner_text("main")
        assert "Tea garden expansion" in found and "Tea export deal" not in found
        page.screenshot(path=str(artifacts / "access-rep-search.png"), full_page=True)

        page.goto(f"{server}/opportunity/")
        with page.expect_download() as info:
            page.click("#export-csv")
        rows = list(csv.reader(io.StringIO(
            Path(info.value.path()).read_text(encoding="utf-8-sig"))))
        assert "Margin (%)" not in rows[0]
        assert [r[0] for r in rows[1:]] == ["Tea garden expansion"]

        # share the deal with rep2, for read
        page.goto(f"{server}/opportunity/{mine['id']}")
        page.select_option("#share-with", f"user:{user_id(crm, 'rep2')}")
        page.click("#share-submit")
        page.wait_for_selector("#sharing [data-share]")
        page.screenshot(path=str(artifacts / "access-rep-shared.png"), full_page=True)
    finally:
        context.close()

    other = browser.new_context(viewport={"width": 1280, "height": 900})
    page2 = other.new_page()
    try:
        browser_sign_in(page2, server, "rep2")
        page2.goto(f"{server}/opportunity/{mine['id']}")
        body = page2.inner_text("main")
        assert "Tea garden expansion" in body and "Margin" not in body
        assert page2.locator("#edit-record").count() == 0  # shared for read only
    finally:
        other.close()
