"""The designer's field editor: a field made in the form (choices with colours, labels in two
languages) goes to the draft, is applied, and every user's next request has it; the option
inputs come from the field type registry (lookups, money, formulas, a plugin's type); bad input
re-shows the form with the problem beside the input and adds nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from app.cli_privacy import live_records
from app.fields import registry
from app.fields.base import FieldType
from tests import designerwebkit
from tests.designerkit import designer_deployment
from tests.designerwebkit import TIER_FORM, DesignerWeb, schema_text

designer_web = designerwebkit.designer_web


def test_a_picklist_made_in_the_form_reaches_every_user_after_apply(
        designer_web: DesignerWeb) -> None:
    web = designer_web
    resp = web.post("/designer/entities/account/fields/new", TIER_FORM)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/designer/draft")
    [change] = web.draft()
    assert change == {"op": "field", "entity": "account", "field": "tier", "definition": {
        "type": "picklist", "label": {"en": "Loyalty tier", "zh": "会员等级"},
        "choices": [
            {"value": "gold", "label": {"en": "Gold", "zh": "金卡"}, "color": "#d4a017"},
            {"value": "silver", "label": {"en": "Silver", "zh": "银卡"}, "color": "#a8a9ad"},
        ]}}
    draft = web.page("/designer/draft")
    assert "Set the field tier of account" in draft
    assert "+  tier:" in draft and 'data-step="add_column"' in draft
    resp = web.post("/designer/draft/apply", {"message": "loyalty tier"})
    assert resp.status_code == 302 and "/designer/applied/" in resp.headers["Location"]
    done = web.page(resp.headers["Location"])
    assert "is live" in done and "schemas/account.yaml" in done
    assert "color: '#d4a017'" in schema_text(web.ctx, "account.yaml") or \
        'color: "#d4a017"' in schema_text(web.ctx, "account.yaml")
    # another user, on the next request: the form has the field and a value saves
    rep = DesignerWeb(web.ctx, "rep")
    form = rep.page("/account/new")
    assert 'name="tier"' in form and ">Gold<" in form and ">Silver<" in form
    resp = rep.post("/account/new", {"name": "Acme", "tier": "gold"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    rid = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert live_records(web.ctx).get("account", rid)["tier"] == "gold"


def _definition_of(web: DesignerWeb, form: dict[str, str], entity: str = "account"
                   ) -> dict[str, Any]:
    resp = web.post(f"/designer/entities/{entity}/fields/new", form)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    change = web.draft()[-1]
    assert change["op"] == "field" and change["field"] == form["name"]
    return dict(change["definition"])


def test_option_inputs_for_lookups_money_and_formulas(designer_web: DesignerWeb) -> None:
    web = designer_web
    page = web.page("/designer/entities/account/fields/new")
    # every type's options are on the page, each marked with the types it applies to
    assert re.search(r'data-types="lookup master_detail".*?<select[^>]*name="opt-to"', page,
                     re.S)
    assert 'name="opt-currency"' in page and 'name="opt-expr"' in page
    assert '<option value="opportunity">' in page  # lookups choose among the entities
    assert _definition_of(web, {
        "name": "partner_account", "type": "lookup", "label_en": "Partner",
        "opt-to": "account", "opt-on_delete": "restrict"}) == {
        "type": "lookup", "to": "account", "on_delete": "restrict",
        "label": {"en": "Partner"}}
    assert _definition_of(web, {
        "name": "budget", "type": "currency", "label_en": "Budget", "label_zh": "预算",
        "opt-currency": "USD", "opt-min": "0", "opt-default-number": "1000",
        "opt-required": "on"}) == {
        "type": "currency", "required": True, "min": 0, "currency": "USD", "default": 1000,
        "label": {"en": "Budget", "zh": "预算"}}
    assert _definition_of(web, {
        "name": "monthly_revenue", "type": "formula", "label_en": "Monthly revenue",
        "opt-expr": "annual_revenue / 12", "opt-result": "currency",
        # options of other types are on the page too: they are left out
        "opt-max_length": "20", "opt-to": "contact"}) == {
        "type": "formula", "expr": "annual_revenue / 12", "result": "currency",
        "label": {"en": "Monthly revenue"}}
    assert _definition_of(web, {
        "name": "code", "type": "string", "label_en": "Code", "opt-max_length": "12",
        "opt-pattern": "^[A-Z]+$", "opt-unique": "on", "opt-visible_when": "vip == true",
        "help_en": "Upper case", "help_zh": "大写"}) == {
        "type": "string", "unique": True, "max_length": 12, "pattern": "^[A-Z]+$",
        "visible_when": "vip == true", "label": {"en": "Code"},
        "help": {"en": "Upper case", "zh": "大写"}}
    resp = web.post("/designer/draft/apply", {"message": "four fields"})
    assert resp.status_code == 302 and "/designer/applied/" in resp.headers["Location"]


class LevelType(FieldType):
    """A plugin's field type, with options of its own."""

    name = "test_level"
    options_schema: ClassVar[dict[str, Any]] = {
        "levels": {"type": "integer", "minimum": 2, "maximum": 9,
                   "description": "how many levels"},
        "style": {"type": "string", "enum": ["stars", "bars"]},
    }


@pytest.fixture
def level_type() -> Iterator[None]:
    registry.register(LevelType, plugin="test_levels")
    try:
        yield
    finally:
        registry.unregister("test_level")


def test_a_plugin_field_type_gets_a_form_from_its_options(designer_web: DesignerWeb,
                                                          level_type: None) -> None:
    page = designer_web.page("/designer/entities/account/fields/new")
    assert '<option value="test_level">Test level · plugin test_levels</option>' in page
    assert re.search(r'data-types="test_level".*?type="number" name="opt-levels"[^>]*'
                     r'step="1" min="2" max="9"', page, re.S)
    assert "how many levels" in page
    assert re.search(r'<select[^>]*name="opt-style".*?<option value="stars"', page, re.S)
    resp = designer_web.post("/designer/entities/account/fields/yaml-preview", {
        "name": "grade", "type": "test_level", "label_en": "Grade", "opt-levels": "12",
        "opt-style": "bars"})
    assert any("levels" in p for p in resp.get_json()["problems"])  # above its maximum


def _problems_of(resp: Any) -> str:
    assert resp.status_code == 422
    return str(resp.get_data(as_text=True))


def test_bad_input_shows_the_form_again_and_adds_nothing(designer_web: DesignerWeb) -> None:
    web = designer_web
    page = _problems_of(web.post("/designer/entities/account/fields/new", {
        "name": "Bad Name", "type": "picklist", "label_zh": "坏"}))
    assert "Nothing was added to your draft" in page
    assert re.search(r'name="name"[^>]*value="Bad Name"', page)  # what was typed stays
    assert re.search(r'is-invalid[^>]*name="name"', page)
    assert "Use lower-case letters, digits and _" in page
    assert "Give the field a name in English." in page
    assert "Add at least one value." in page
    page = _problems_of(web.post("/designer/entities/account/fields/new", {
        "name": "website", "type": "string", "label_en": "Site"}))
    assert "There is already one named website." in page
    page = _problems_of(web.post("/designer/entities/account/fields/new", {
        "name": "budget", "type": "currency", "label_en": "Budget", "opt-currency": "usd"}))
    assert re.search(r'is-invalid[^>]*name="opt-currency"', page)
    page = _problems_of(web.post("/designer/entities/account/fields/new", {
        "name": "twin", "type": "picklist", "label_en": "Twin",
        "choice-0-value": "a", "choice-1-value": "a"}))
    assert "The value a is there twice." in page
    # the config would not load: the loader's error is shown, nothing is added
    page = _problems_of(web.post("/designer/entities/account/fields/new", {
        "name": "broken", "type": "formula", "label_en": "Broken",
        "opt-expr": "no_such_field * 2", "opt-result": "decimal"}))
    assert 'id="config-errors"' in page and "no_such_field" in page
    assert web.draft() == []


def test_the_live_preview_shows_the_lines_the_form_writes(designer_web: DesignerWeb) -> None:
    web = designer_web
    data = web.post("/designer/entities/account/fields/yaml-preview", TIER_FORM).get_json()
    assert data["problems"] == []
    [file] = data["files"]
    assert file["path"] == "schemas/account.yaml" and file["kind"] == "changed"
    added = [text for kind, text in file["lines"] if kind == "add"]
    assert added[0] == "+  tier:" and "+    type: picklist" in added
    assert any("#d4a017" in line for line in added)
    data = web.post("/designer/entities/account/fields/yaml-preview", {
        "type": "string"}).get_json()
    assert "Give the field a name in English." in data["problems"]
    assert any("new_field" in text for _k, text in data["files"][0]["lines"])
    assert web.draft() == []  # previews add nothing


def test_editing_a_stage_keeps_its_probabilities(designer_web: DesignerWeb) -> None:
    web = designer_web
    page = web.page("/designer/entities/opportunity/fields/stage")
    assert 'name="choice-0-x-probability" value="10"' in page
    assert 'name="choice-6-value" value="lost"' in page
    form = {k: v for k, v in re.findall(
        r'<input[^>]*name="(choice-\d+-[a-z_x-]+)" value="([^"]*)"', page)}
    form.update({k: "on" for k in re.findall(r'name="(choice-\d+-use_color)" value="on" checked',
                                              page)})
    form.update({"type": "picklist", "label_en": "Stage", "label_zh": "销售阶段",
                 "opt-default": "prospecting", "opt-indexed": "on",
                 "choice-5-color": "#15803d", "choice_extra": "probability"})
    resp = web.post("/designer/entities/opportunity/fields/stage", form)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    definition = web.draft()[-1]["definition"]
    won = definition["choices"][5]
    assert won == {"value": "won", "label": {"en": "Won", "zh": "赢单"}, "color": "#15803d",
                   "probability": 100}
    assert definition["default"] == "prospecting" and definition["indexed"] is True
    assert "help" not in definition  # not sent: the help text was cleared


def test_a_field_from_a_preset_writes_only_what_it_overrides(designer_web: DesignerWeb
                                                             ) -> None:
    web = designer_web
    page = web.page("/designer/entities/account/fields/rating")
    assert re.search(r'<option value="rating" selected>', page)
    assert 'name="choice-0-value" value="hot"' in page  # the preset's values, shown
    resp = web.post("/designer/entities/account/fields/rating", {
        "preset": "rating", "type": "picklist", "label_en": "Account rating",
        "label_zh": "评级", "choice-0-value": "hot", "choice-0-label_en": "Hot",
        "choice-0-label_zh": "热", "choice-0-use_color": "on", "choice-0-color": "#dc2626",
        "choice-1-value": "warm", "choice-1-label_en": "Warm", "choice-1-label_zh": "温",
        "choice-1-use_color": "on", "choice-1-color": "#f59e0b",
        "choice-2-value": "cold", "choice-2-label_en": "Cold", "choice-2-label_zh": "冷",
        "choice-2-use_color": "on", "choice-2-color": "#3b82f6"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert web.draft()[-1]["definition"] == {
        "preset": "rating", "label": {"en": "Account rating", "zh": "评级"}}


def test_removing_a_field_explains_the_data_is_kept(designer_web: DesignerWeb) -> None:
    web = designer_web
    rs = live_records(web.ctx)
    from app.records import Actor

    rs.create("account", {"name": "Acme", "website": "https://acme.example"},
              Actor(None, "system", ("admin",)))
    page = web.page("/designer/entities/account/fields/website/remove")
    assert "Its values are kept in the database (hidden), not deleted." in page
    assert "1 record has a value in it." in page
    resp = web.post("/designer/entities/account/fields/website/remove")
    assert resp.status_code == 302
    assert web.draft() == [{"op": "remove_field", "entity": "account", "field": "website"}]
    entity_page = web.page("/designer/entities/account")
    assert 'data-field="website"' not in entity_page


def test_a_field_of_a_base_pack_entity_is_written_to_the_overlay(tmp_path: Any,
                                                                  database_url: str) -> None:
    ctx = designer_deployment(tmp_path, database_url, overlay=True)
    try:
        web = DesignerWeb(ctx)
        assert 'data-origin="base"' in web.page("/designer/entities/account")
        resp = web.post("/designer/entities/account/fields/website", {
            "type": "url", "label_en": "Home page", "label_zh": "网站"})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        # only what differs from the base pack goes to the client's file
        assert web.draft()[-1]["definition"] == {"label": {"en": "Home page", "zh": "网站"}}
        resp = web.post("/designer/entities/account/fields/new", TIER_FORM)
        assert resp.status_code == 302
        web.post("/designer/draft/apply", {})
        overlay = (ctx.settings.schema_dirs[-1] / "account.yaml").read_text(encoding="utf-8")
        assert "entity: account" in overlay and "tier:" in overlay and "Home page" in overlay
        assert "Home page" not in (ctx.settings.schema_dirs[0] / "account.yaml").read_text(
            encoding="utf-8")
        assert 'data-origin="changed"' in web.page("/designer/entities/account")
    finally:
        ctx.dispose()


def test_choosing_a_preset_shows_what_it_brings(designer_web: DesignerWeb) -> None:
    web = designer_web
    resp = web.post("/designer/entities/lead/fields/new", {
        "action": "preset", "preset": "rating", "name": "temperature", "type": "string",
        "label_en": "Temperature"})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert 'name="choice-2-value" value="cold"' in page  # the preset's values
    assert 'value="Temperature"' in page and 'value="temperature"' in page  # typed stays
    assert re.search(r'<select[^>]*name="type"[^>]*disabled', page)
    assert web.draft() == []
    resp = web.post("/designer/entities/lead/fields/new", {
        "preset": "rating", "name": "temperature", "label_en": "Temperature"})
    assert resp.status_code == 302
    assert web.draft()[-1]["definition"] == {"preset": "rating",
                                             "label": {"en": "Temperature"}}
