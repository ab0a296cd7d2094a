"""In a real browser: the top navigation of the full default pack (every module, admin's
long menu) fits the bar at desktop widths, in English and Chinese, and collapses behind the
menu button below 1200 px (before, it ran to ~1460 px and pushed the user menu off screen)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servicekit import password, service_deployment
from tests.webkit import browser_sign_in, live_server


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[str]:
    ctx = service_deployment(tmp_path, database_url)
    try:
        with live_server(ctx) as base:
            yield base
    finally:
        ctx.dispose()


def _overflow(page: Any, width: int) -> list[str]:
    """Navigation items whose right edge is beyond the window."""
    found: list[str] = page.evaluate(
        """(width) => [...document.querySelectorAll('nav .navbar-nav > li, nav form')]
             .filter(el => el.offsetParent !== null)
             .filter(el => el.getBoundingClientRect().right > width + 0.5)
             .map(el => el.innerText.trim() || el.outerHTML.slice(0, 60))""", width)
    return found


def test_the_navigation_fits_or_collapses(browser: Any, server: str, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 700})
    try:
        browser_sign_in(page, server, "admin", password("admin"))
        for language in ("en", "zh"):
            if language == "zh":
                page.click("#user-menu")
                page.click("text=简体中文")
                page.wait_for_load_state()
            for width in (1200, 1300, 1400, 1920):
                page.set_viewport_size({"width": width, "height": 700})
                assert _overflow(page, width) == [], (language, width)
                assert page.locator("nav.navbar").bounding_box()["height"] < 70, width
                assert page.locator("#user-menu").is_visible()
                assert page.locator("#analytics-menu").is_visible()
            page.set_viewport_size({"width": 1300, "height": 700})
            page.screenshot(path=str(artifacts / f"nav-{language}.png"))
            page.set_viewport_size({"width": 1000, "height": 700})
            assert page.locator(".navbar-toggler").is_visible()
            assert not page.locator("#user-menu").is_visible()
            page.click(".navbar-toggler")
            page.locator("#user-menu").wait_for(state="visible")
            page.click(".navbar-toggler")
            page.set_viewport_size({"width": 1300, "height": 700})
    finally:
        page.close()
