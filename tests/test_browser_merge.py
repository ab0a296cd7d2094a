"""In a real browser: an admin opens Duplicates, picks the pair of duplicate contacts, takes
one value from the second record, merges, and lands on the surviving contact showing that
value and the activity that moved to it (the issue's "done when")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from tests.mergekit import current, default_pack_deployment, records
from tests.webkit import browser_sign_in, live_server


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = default_pack_deployment(tmp_path, database_url)
    yield c
    c.dispose()


def test_an_admin_merges_two_contacts(browser: Any, ctx: Context, artifacts: Path) -> None:
    rs = records(ctx)
    acme = rs.create("account", {"name": "西湖茶业有限公司"})
    keep = rs.create("contact", {"last_name": "王", "first_name": "芳", "title": "经理",
                                 "email": "wang.fang@xihu-tea.cn", "account": acme["id"]})
    lose = rs.create("contact", {"last_name": "王", "first_name": "芳", "title": "采购总监",
                                 "email": "Wang.Fang@xihu-tea.cn", "mobile": "13800138000"})
    rs.create("activity", {"subject": "续约电话 Renewal call", "related_contact": lose["id"]})
    with live_server(ctx) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            browser_sign_in(page, base, "admin")
            page.click("#user-menu")
            page.click("#duplicates-link")
            page.wait_for_selector("#duplicates-filter")
            page.select_option("#dup-entity", "contact")
            page.click("#dup-find")
            group = page.locator(f".dup-group[data-ids='{keep['id']},{lose['id']}']")
            group.wait_for()
            page.screenshot(path=str(artifacts / "duplicates-groups.png"), full_page=True)
            group.locator(".dup-merge").click()
            page.wait_for_selector("#merge-compare")
            page.check(f"#choice-title-{lose['id']}")
            assert page.is_checked(f"#choice-mobile-{lose['id']}")  # the survivor has none
            page.screenshot(path=str(artifacts / "duplicates-compare.png"), full_page=True)
            page.click("#merge-confirm")
            page.wait_for_url(f"{base}/contact/{keep['id']}")
            body = page.inner_text("main")
            assert "1 record was merged into" in body
            assert "采购总监" in body and "13800138000" in body
            assert "续约电话 Renewal call" in body
            page.screenshot(path=str(artifacts / "duplicates-merged.png"), full_page=True)
        finally:
            page.close()
    assert current(ctx, "contact", lose["id"])["deleted_at"] is not None
