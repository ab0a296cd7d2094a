"""Take the README's module screenshots (docs/screenshots/*.png) from a running demo CRM.

    crm setup                                  # a fresh database with demo data
    crm user passwd admin --password <pw>      # and the demo users share it (see setup's output)
    crm document generate quote_pdf --id 2 -o /tmp/quote.pdf
    crm archive run --entity case --older-than 1y
    crm serve --port 5099 &
    python scripts/screenshots.py http://127.0.0.1:5099 <pw> [--pdf /tmp/quote.pdf]

Needs Playwright with Debian's /usr/bin/chromium, and pdftoppm (poppler-utils) for the PDF.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")


def shot(page: Page, base: str, path: str, name: str, *, full: bool = False) -> None:
    page.goto(f"{base}{path}")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
    print(f"{name}.png  <- {path}")


def first_link(page: Page, base: str, path: str, pattern: str) -> str:
    page.goto(f"{base}{path}")
    found = re.search(pattern, page.content())
    if not found:
        raise SystemExit(f"no link like {pattern} on {path}")
    return found.group(0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("password")
    ap.add_argument("--pdf", type=Path)
    ap.add_argument("--quote", type=int, default=2)
    ap.add_argument("--account", type=int, help="the timeline's account (default: the quote's)")
    args = ap.parse_args()
    base, pw = args.base.rstrip("/"), args.password
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 860})
        sign_in(page, base, "admin", pw)
        shot(page, base, f"/quote/{args.quote}", "quote")
        account = f"/account/{args.account}" if args.account else \
            first_link(page, base, f"/quote/{args.quote}", r"/account/\d+")
        shot(page, base, f"{account}/communications", "timeline")
        shot(page, base, "/archive/", "archive")
        compare = first_link(page, base, "/duplicates/?entity=contact",
                             r"/duplicates/contact/compare\?[^\"']+")
        shot(page, base, compare.replace("&amp;", "&"), "merge")
        sign_in(page, base, "manager", pw)
        shot(page, base, "/my-work/followups?scope=team", "followups")
        shot(page, base, "/targets/", "targets")
        sign_in(page, base, "svcmanager", pw)
        shot(page, base, "/kb/", "kb")
        page.goto(f"{base}/dashboards/service")
        page.wait_for_load_state("networkidle")
        page.get_by_text("CSAT by month").first.scroll_into_view_if_needed()
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUT / "service-dashboard.png"))
        print("service-dashboard.png  <- /dashboards/service")
        sign_in(page, base, "marketing", pw)
        shot(page, base, "/consents/report", "consents")
        browser.close()
    if args.pdf:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1",
                            str(args.pdf), f"{tmp}/page"], check=True)
            made = sorted(Path(tmp).glob("page*.png"))
            (OUT / "quote-pdf.png").write_bytes(made[0].read_bytes())
            print("quote-pdf.png  <- " + str(args.pdf))


if __name__ == "__main__":
    main()
