"""The stage machine on the kanban board, in a real browser (Debian Chromium via Playwright): a
sales rep drags a deal; the columns the machine forbids are greyed out, a drop there is refused
with the reason, a drop on an allowed column moves the deal. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from tests.stageskit import actor, deal, records, stage_deployment
from tests.webkit import browser_sign_in, live_server


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = stage_deployment(tmp_path, database_url)
    try:
        yield c
    finally:
        c.dispose()


def test_a_rep_drags_a_deal_along_the_pipeline(browser: Any, ctx: Context,
                                               artifacts: Path) -> None:
    made = deal(ctx, actor(ctx, "rep", "sales_rep"), name="Tea gardens ERP")
    rid = made["id"]
    with live_server(ctx) as base:
        bctx = browser.new_context(viewport={"width": 1600, "height": 900})
        page = bctx.new_page()
        try:
            browser_sign_in(page, base, "rep")
            page.goto(f"{base}/opportunity/board")
            card = page.locator(f".board-card[data-id='{rid}']")
            won = page.locator(".board-column[data-value=won]")
            # while the card is dragged, the columns it may not go to are greyed out
            card.hover()
            page.mouse.down()
            won.locator(".board-cards").hover()
            won.locator(".board-cards").hover(position={"x": 20, "y": 20})
            assert "board-forbidden" in (won.get_attribute("class") or "")
            qualification = page.locator(".board-column[data-value=qualification]")
            assert "board-forbidden" not in (qualification.get_attribute("class") or "")
            page.screenshot(path=str(artifacts / "stages-board-dragging.png"))
            page.mouse.up()
            # dropped there anyway: refused with the reason, the card back where it was
            alert = page.locator("#board-alert.alert-danger")
            alert.wait_for()
            assert "Prospecting → Won is not allowed" in alert.inner_text()
            page.locator(f".board-cards[data-value=prospecting] "
                         f".board-card[data-id='{rid}']").wait_for()
            assert records(ctx).get("opportunity", rid)["stage"] == "prospecting"
            page.screenshot(path=str(artifacts / "stages-board-refused.png"))
            # an allowed column: the deal moves
            card.drag_to(qualification.locator(".board-cards"))
            page.locator(f".board-cards[data-value=qualification] "
                         f".board-card[data-id='{rid}'][data-version='2']").wait_for()
            page.locator("#board-alert.alert-success").wait_for()
            assert records(ctx).get("opportunity", rid)["stage"] == "qualification"
            moves = page.locator(f".board-card[data-id='{rid}']").get_attribute("data-moves")
            assert moves is not None and "needs_analysis" in moves
        finally:
            bctx.close()
