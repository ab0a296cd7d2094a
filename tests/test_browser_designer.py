"""The designer in a real browser (Debian Chromium via Playwright): an admin adds a picklist
with two coloured values, watches the YAML preview follow the typing, previews the plan and
applies it on a gunicorn server with two workers; every worker serves the new version on its
next request, and a sales rep in another browser finds the field on the account form and saves
a value. Screenshots: /tmp/designer_field.png, /tmp/designer_draft.png (and test-artifacts/)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.context import Context
from tests.designerkit import designer_deployment
from tests.webkit import browser_sign_in, live_server


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = designer_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def _preview_text(page: Any) -> str:
    return str(page.locator("#yaml-preview").inner_text())


def test_an_admin_adds_a_coloured_picklist_and_a_rep_uses_it(
        browser: Any, ctx: Context, artifacts: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from app.runtime import version_of
    from tests.serverkit import gunicorn, healthz_spread

    before = version_of(ctx.engine)
    assert before is not None
    with gunicorn(ctx, tmp_path, workers=2) as server:
        base = server.base
        admin = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = admin.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        browser_sign_in(page, base)
        page.goto(f"{base}/designer/entities/account")
        page.click("#add-field")
        page.wait_for_url(f"{base}/designer/entities/account/fields/new")
        # only the options of the chosen type show
        expect(page.locator("#choices-card")).to_be_hidden()
        expect(page.locator("[name='opt-max_length']")).to_be_visible()
        page.fill("#field-name", "tier")
        page.select_option("#type", "picklist")
        expect(page.locator("#choices-card")).to_be_visible()
        expect(page.locator("[name='opt-max_length']")).to_be_hidden()
        page.fill("#label_en", "Loyalty tier")
        expect(page.locator("#yaml-preview")).to_contain_text("tier:")
        expect(page.locator("#yaml-preview")).to_contain_text("Loyalty tier")
        page.fill("#label_zh", "会员等级")
        page.fill("[name='choice-0-value']", "gold")
        page.fill("[name='choice-0-label_en']", "Gold")
        page.fill("[name='choice-0-label_zh']", "金卡")
        page.fill("[name='choice-0-color']", "#d4a017")  # picking a colour ticks its box
        expect(page.locator("[name='choice-0-use_color']")).to_be_checked()
        page.click("#choice-add")
        page.fill("[name='choice-1-value']", "silver")
        page.fill("[name='choice-1-label_en']", "Silver")
        page.fill("[name='choice-1-label_zh']", "银卡")
        page.check("[name='choice-1-use_color']")
        page.fill("[name='choice-1-color']", "#a8a9ad")
        # the preview follows the typing: the last value and its colour are in it
        expect(page.locator("#yaml-preview")).to_contain_text("#a8a9ad")
        preview = _preview_text(page)
        assert "会员等级" in preview and "value: gold" in preview and "#d4a017" in preview
        # tier, type, label, choices and the two values: the lines to be added
        assert page.locator("#yaml-preview [data-line=add]").count() == 6
        expect(page.locator("#yaml-preview-problems")).to_be_hidden()
        page.screenshot(path="/tmp/designer_field.png", full_page=True)
        shutil.copy("/tmp/designer_field.png", artifacts / "designer-field.png")
        page.click("#field-save")
        page.wait_for_url(f"{base}/designer/draft")
        expect(page.locator("#draft-count")).to_have_text("1")
        step = page.locator("#plan tr[data-step=add_column]")
        expect(step).to_contain_text("account.tier")
        expect(step.locator("[data-safety=safe]")).to_be_visible()
        expect(page.locator("#files [data-line=add]").first).to_be_visible()
        page.fill("#apply-message", "Loyalty tier on accounts")
        page.screenshot(path="/tmp/designer_draft.png", full_page=True)
        shutil.copy("/tmp/designer_draft.png", artifacts / "designer-draft.png")
        page.click("#apply")
        page.wait_for_url(f"{base}/designer/applied/*")
        expect(page.locator("#applied-title")).to_contain_text("is live")
        expect(page.locator("#files-written")).to_contain_text("schemas/account.yaml")
        page.screenshot(path=str(artifacts / "designer-applied.png"), full_page=True)
        assert errors == []
        admin.close()
        # every worker, not only the one that applied, serves the new version now
        answers = healthz_spread(base, 32)
        assert {v for _pid, v, _h in answers} == {before + 1}
        assert len({pid for pid, _v, _h in answers}) == 2

        # a sales rep, in another browser, on their next click
        rep = browser.new_context(viewport={"width": 1280, "height": 900})
        page = rep.new_page()
        browser_sign_in(page, base, "rep")
        page.goto(f"{base}/account/new")
        field = page.locator("[data-field=tier]")
        expect(field).to_contain_text("Loyalty tier")
        page.fill("[name=name]", "Jade Tea House")
        page.select_option("[name=tier]", "gold")
        page.locator("form.crm-form button[type=submit]").first.click()
        page.wait_for_url(re.compile(rf"{re.escape(base)}/account/\d+$"))
        expect(page.locator("body")).to_contain_text("Gold")
        rep.close()
    with ctx.engine.connect() as conn:
        saved = conn.execute(sa.text("select tier from ent_account where name = :n"),
                             {"n": "Jade Tea House"}).scalars().all()
    assert saved == ["gold"]


def test_the_layout_editor_and_field_order_by_dragging(browser: Any, ctx: Context,
                                                       artifacts: Path) -> None:
    from playwright.sync_api import expect

    from app.designer.service import Designer

    with live_server(ctx) as base:
        # tall enough that dragging needs no scrolling
        bctx = browser.new_context(viewport={"width": 1440, "height": 2400})
        page = bctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        browser_sign_in(page, base)
        page.goto(f"{base}/designer/entities/account")
        # fields: drag VIP above the name, then save the order as one change
        expect(page.locator("#order-form")).to_be_hidden()
        page.drag_and_drop("#field-table tr[data-field=vip] td:nth-child(2)",
                           "#field-table tr[data-field=name] td:nth-child(2)")
        expect(page.locator("#order-form")).to_be_visible()
        page.click("#order-save")
        page.wait_for_url(f"{base}/designer/entities/account#fields")
        rows = page.locator("#field-table tr[data-field]")
        assert rows.first.get_attribute("data-field") == "vip"
        # layout: the editor shows fields as chips; take website out of its section, put it
        # into the first one, add a section and drag the phone into it
        sections = page.locator("#layout-sections [data-section]")
        expect(sections).to_have_count(7)  # the blank section of the page without script
        expect(sections.nth(0).locator("[data-chip=name]")).to_be_visible()
        expect(sections.nth(0).locator("[data-fields-input]")).to_be_hidden()
        sections.nth(1).locator("[data-chip=website] [data-action=chip-remove]").click()
        expect(page.locator("#layout-unplaced [data-chip=website]")).to_be_visible()
        sections.nth(0).locator("[data-add-field]").select_option("website")
        expect(sections.nth(0).locator("[data-chip=website]")).to_be_visible()
        page.click("#layout-add-section")
        expect(sections).to_have_count(8)
        new = sections.nth(7)
        new.locator("[name=section_en]").fill("Reach")
        new.locator("[name=section_zh]").fill("联系")
        new.locator("[data-columns]").select_option("1")
        page.drag_and_drop("#layout-sections [data-chip=phone] .layout-chip",
                           "#layout-sections [data-section]:nth-child(8) [data-chips]")
        expect(new.locator("[data-chip=phone]")).to_be_visible()
        page.screenshot(path=str(artifacts / "designer-layout.png"), full_page=True)
        page.click("#layout-save")
        page.wait_for_url(f"{base}/designer/entities/account#layout")
        assert errors == []
        bctx.close()
    changes = Designer(ctx).draft("admin").changes
    assert [c["op"] for c in changes] == ["order_fields", "layout"]
    assert changes[0]["fields"][:2] == ["vip", "name"]
    layout = changes[1]["layout"]
    assert "website" in layout[0]["fields"] and "website" not in layout[1]["fields"]
    assert layout[-1] == {"section": {"en": "Reach", "zh": "联系"}, "columns": 1,
                          "fields": ["phone"]}
    assert all("phone" not in s["fields"] for s in layout[:-1])
