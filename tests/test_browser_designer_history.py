"""The designer's history in a real browser (Debian Chromium via Playwright): an admin opens
the history, compares two versions (a field added, then its label changed), reverts to the
first version and lands on the draft, whose plan hides the field. Screenshots:
/tmp/designer_history.png (the comparison) and test-artifacts/designer-history-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.context import Context
from app.designer.service import Designer
from tests import designerkit, designertabskit
from tests.designerkit import field_change
from tests.designertabskit import draft_changes
from tests.webkit import browser_sign_in, live_server

ctx = designertabskit.ctx


def test_an_admin_compares_two_versions_and_reverts(browser: Any, ctx: Context,
                                                    artifacts: Path) -> None:
    designer = Designer(ctx)
    designer.add("admin", field_change(name="tier"))
    v2 = designer.apply("admin", message="loyalty tier").version
    designer.add("admin", field_change(name="tier", definition={
        **designerkit.TIER, "label": {"en": "Customer tier", "zh": "客户等级"}}))
    v3 = designer.apply("admin", message="clearer label").version
    assert v2 is not None and v3 is not None
    v1 = v2 - 1
    with live_server(ctx) as base:
        bctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = bctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error"
                and "Failed to load resource" not in m.text else None)  # the favicon
        try:
            browser_sign_in(page, base)
            page.goto(f"{base}/designer/history")
            rows = page.locator("#versions tbody tr")
            assert rows.count() == 3
            assert "clearer label" in rows.nth(0).inner_text()
            page.screenshot(path=str(artifacts / "designer-history-list.png"), full_page=True)
            # the two newest are picked: compare them
            page.click("#compare")
            page.wait_for_url("**/designer/history/diff?*")
            assert sorted(page.url.split("?")[1].split("&")) == [f"a={v2}", f"b={v3}"]
            change = page.locator("#differences [data-where='account.tier']")
            assert "Loyalty tier" in change.inner_text()
            assert "Customer tier" in change.inner_text()
            assert "label: {en: Customer tier" in page.locator("#file-diffs").inner_text()
            page.screenshot(path="/tmp/designer_history.png", full_page=True)
            # revert to the first version: the draft restores it
            page.goto(f"{base}/designer/history")
            page.click(f"[data-revert='{v1}']")
            page.wait_for_url("**/designer/draft")
            # the draft's plan: the field is hidden, its values kept
            assert "hide account.tier" in page.locator("body").inner_text()
            page.screenshot(path=str(artifacts / "designer-history-revert.png"), full_page=True)
        finally:
            bctx.close()
    assert draft_changes(ctx) == [{"op": "restore", "version": v1}]
    preview = Designer(ctx).preview("admin")
    assert [(s.op, s.column) for s in preview.hides] == [("hide_column", "tier")]
    assert not errors, errors
