"""In two browser sessions (admin and a sales rep) on real gunicorn with three workers: a field
published while both are signed in shows on the rep's next page load, takes a value and shows
it on the detail page, and the admin sees it too; no restart, no waiting."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from app.runtime import VERSION_HEADER, version_of
from tests.serverkit import add_account_field, gunicorn
from tests.webkit import browser_sign_in, deployment

SHOT = "/tmp/live_reload.png"


def test_a_second_user_sees_and_fills_the_new_field(browser: Any, tmp_path: Path,
                                                     database_url: str) -> None:
    ctx = deployment(tmp_path, database_url)
    admin_ctx = rep_ctx = None
    try:
        old = version_of(ctx.engine)
        assert old is not None
        with gunicorn(ctx, tmp_path, workers=3) as server:
            base = server.base
            admin_ctx, rep_ctx = browser.new_context(), browser.new_context()
            admin, rep = admin_ctx.new_page(), rep_ctx.new_page()
            browser_sign_in(admin, base, "admin")
            browser_sign_in(rep, base, "rep")
            first = rep.goto(base + "/account/new")
            assert first is not None and first.headers[VERSION_HEADER.lower()] == str(old)
            assert rep.locator("#f-loyalty_tier").count() == 0

            new = add_account_field(ctx)
            again = rep.reload()
            assert again is not None and again.headers[VERSION_HEADER.lower()] == str(new)
            rep.locator("#f-loyalty_tier").wait_for(state="visible", timeout=5_000)
            assert "Loyalty tier" in rep.locator("label[for=f-loyalty_tier]").inner_text()
            rep.fill("#f-name", "Browser Reload Ltd")
            rep.fill("#f-loyalty_tier", "Gold")
            rep.click("#save")
            rep.wait_for_url(re.compile(re.escape(base) + r"/account/\d+$"))
            assert "Gold" in rep.content() and "Loyalty tier" in rep.content()
            rep.screenshot(path=SHOT, full_page=True)

            detail = admin.goto(rep.url)
            assert detail is not None and detail.status == 200
            assert "Gold" in admin.content() and "Browser Reload Ltd" in admin.content()
            rep_ctx.close()
            admin_ctx.close()
            admin_ctx = rep_ctx = None
    finally:
        for c in (admin_ctx, rep_ctx):
            if c is not None:
                c.close()
        ctx.dispose()
