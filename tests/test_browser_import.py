"""In a real browser: an administrator imports a small CSV of Chinese contacts from the contact
list: uploads it, maps the company column to the account lookup, runs a dry run that shows the
bad row, runs the import and sees the result; the progress bar of a running import follows
its status and the page reloads when it is done. No CSP violation on the way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from app.imports import jobs
from tests.importkit import csv_bytes, import_deployment, live
from tests.webkit import browser_sign_in, live_server

ROWS = [["王", "小明", "wang@example.cn", "13812345678", "西湖茶业", "2024年3月5日"],
        ["李", "娜", "li@example.cn", "+86 139 1234 5678", "西湖茶业", "05/03/1990"],
        ["张", "伟", "不是邮箱", "13712345678", "西湖茶业", "1985/7/1"],
        ["Smith", "Anna", "anna@example.com", "", "", ""]]


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Any:
    made = import_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def test_import_a_csv_in_the_browser(browser: Any, ctx: Context, artifacts: Path,
                                     tmp_path: Path) -> None:
    live(ctx).create("account", {"name": "西湖茶业"})
    data = tmp_path / "联系人.csv"
    data.write_bytes(csv_bytes(ROWS, ["姓", "名", "邮箱", "手机", "公司", "生日"]))
    problems: list[str] = []
    with live_server(ctx) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("console", lambda m: problems.append(m.text)
                if "Content Security Policy" in m.text else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        try:
            browser_sign_in(page, base)
            page.goto(f"{base}/contact/")
            page.click("#import-records")
            page.set_input_files("#file", str(data))
            page.click("#upload")
            page.wait_for_selector("#columns")
            assert page.input_value("select[name=col-0]") == "last_name"
            assert page.input_value("select[name=col-2]") == "email"
            page.select_option("select[name=col-4]", "account")
            page.select_option("#date_order", "dmy")
            page.select_option("#dedupe", ["email"])
            page.screenshot(path=str(artifacts / "import-map.png"), full_page=True)
            page.click("#dry-run")
            page.wait_for_selector("#import-errors")
            body = page.inner_text("main")
            assert "Dry run: nothing was saved." in body and "不是邮箱" in body
            assert page.inner_text("[data-count=created]") == "3"
            page.screenshot(path=str(artifacts / "import-dry-run.png"), full_page=True)
            page.click("#run-import")
            page.wait_for_selector("#undo-import")
            assert page.inner_text("[data-count=created]") == "3"
            assert page.inner_text("[data-count=failed]") == "1"
            page.screenshot(path=str(artifacts / "import-done.png"), full_page=True)
            job_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

            with ctx.engine.begin() as conn:  # as if a worker were halfway through it
                jobs.update(conn, job_id, status="running", processed=2, total=4)
            page.goto(f"{base}/imports/{job_id}")
            page.wait_for_function(
                "document.getElementById('import-bar').style.width === '50%'")
            page.screenshot(path=str(artifacts / "import-progress.png"), full_page=True)
            with ctx.engine.begin() as conn:
                jobs.update(conn, job_id, status="done", processed=4)
            page.wait_for_selector("#undo-import", timeout=10_000)  # reloaded when done
        finally:
            page.close()
    assert not problems, problems
