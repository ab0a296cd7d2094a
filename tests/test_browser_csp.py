"""In a real browser, with the Content-Security-Policy on: the CRM's pages, Swagger UI at
/api/v1/docs and flask-admin's back office at /admin/ run without one CSP violation or script
error (the policy is in app.web.security)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.context import Context
from tests.webkit import browser_sign_in, live_server, records_of, web_app

# reports every violation, also those the console does not show (runs outside the page's CSP)
WATCH = """document.addEventListener('securitypolicyviolation', e => {
  (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI);
});"""


@pytest.fixture
def server(crm: Context) -> Iterator[str]:
    with live_server(crm) as base:
        yield base


def test_pages_docs_and_back_office_keep_the_policy(browser: Any, server: str,
                                                    crm: Context) -> None:
    records = records_of(web_app(crm))
    account = records.create("account", {"name": "Acme <b>Ltd</b>"})
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} {m.location}")
            if (m.type == "error" or "Content Security Policy" in m.text)
            and "/favicon.ico" not in m.location.get("url", "") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 else None)
    page.add_init_script(WATCH)

    def visit(path: str, ready: str = "body") -> None:
        resp = page.goto(server + path)
        assert resp is not None and resp.status == 200, path
        assert "script-src" in resp.headers["content-security-policy"]
        page.wait_for_selector(ready, timeout=20_000)
        page.wait_for_load_state("networkidle")
        problems.extend(f"{path}: {v}" for v in page.evaluate("window.__csp || []"))

    try:
        browser_sign_in(page, server)
        visit("/")
        visit("/account/")
        visit(f"/account/{account['id']}")
        visit("/account/new")
        visit("/opportunity/board", ".board")
        visit("/search?q=Acme")
        visit("/me/tokens")
        visit("/api/v1/docs", ".swagger-ui .opblock-tag")
        page.click("#operations-account-list_account")  # open one operation: more rendering
        page.wait_for_selector("#operations-account-list_account .try-out__btn")
        problems.extend(f"docs: {v}" for v in page.evaluate("window.__csp || []"))
        visit("/admin/")
        visit("/admin/records/account/", ".model-list")
        page.click("a.dropdown-toggle:has-text('Add Filter'), a:has-text('Add Filter')")
        problems.extend(f"admin: {v}" for v in page.evaluate("window.__csp || []"))
        visit("/admin/system/users/")
        page.click("#admin-sign-out")
        page.wait_for_url("**/login**")
        problems.extend(f"/login: {v}" for v in page.evaluate("window.__csp || []"))
    finally:
        page.close()
    assert problems == []
