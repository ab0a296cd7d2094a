"""The designer's entity pages: the list of entities, adding one, an entity's properties, the
order of its fields and its form layout, presets; and that only administrators get in."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import designerwebkit
from tests.designerwebkit import DesignerWeb, schema_text

designer_web = designerwebkit.designer_web


def test_the_entities_and_a_new_one(designer_web: DesignerWeb) -> None:
    web = designer_web
    page = web.page("/designer/")
    row = re.search(r'<tr data-entity="account">.*?</tr>', page, re.S)
    assert row and "Account" in row.group(0) and 'data-fields="27"' in row.group(0)
    assert 'data-origin="own"' in row.group(0)
    resp = web.post("/designer/", {"name": "project", "label_en": "Project",
                                   "label_zh": "项目", "plural_en": "Projects",
                                   "plural_zh": "项目"})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/designer/entities/project")
    assert web.draft() == [{"op": "add_entity", "entity": "project",
                            "label": {"en": "Project", "zh": "项目"},
                            "plural": {"en": "Projects", "zh": "项目"}}]
    page = web.page("/designer/entities/project")  # the draft's entity has a page already
    assert 'data-status="new"' in page and 'data-field="name"' in page
    resp = web.post("/designer/entities/project/fields/new", {
        "name": "budget", "type": "currency", "label_en": "Budget"})
    assert resp.status_code == 302
    web.post("/designer/draft/apply", {"message": "projects"})
    assert "projects" in schema_text(web.ctx, "project.yaml").lower()
    assert 'data-entity="project"' in web.page("/project/")


@pytest.mark.parametrize(("form", "problem"), [
    ({"name": "Project X", "label_en": "P"}, "Use lower-case letters"),
    ({"name": "account", "label_en": "Again"}, "There is already one named account."),
    ({"name": "select", "label_en": "Select"}, "select is reserved"),
    ({"name": "project", "label_zh": "项目"}, "Write it in English at least."),
])
def test_a_bad_entity_is_not_added(designer_web: DesignerWeb, form: dict[str, str],
                                   problem: str) -> None:
    resp = designer_web.post("/designer/", form)
    assert resp.status_code == 422 and problem in resp.get_data(as_text=True)
    assert designer_web.draft() == []


def test_properties_write_only_what_changed(designer_web: DesignerWeb) -> None:
    web = designer_web
    resp = web.post("/designer/entities/account/properties", {
        "label_en": "Customer", "label_zh": "客户", "plural_en": "Accounts", "plural_zh": "客户",
        "title": "name", "icon": "building-2", "description": ""})
    assert resp.status_code == 302
    assert web.draft() == [{"op": "entity", "entity": "account",
                            "values": {"label": {"en": "Customer", "zh": "客户"}}}]
    web.post("/designer/entities/account/properties", {"label_en": "Customer", "title": "nothing"})
    assert len(web.draft()) == 1  # refused: there is no field `nothing`


def _order(web: DesignerWeb) -> list[str]:
    page = web.page("/designer/entities/account")
    table = re.search(r'id="field-table".*?</table>', page, re.S)
    assert table
    return re.findall(r'<tr data-field="([a-z_]+)"', table.group(0))


def test_moving_fields_up_and_down_is_one_change(designer_web: DesignerWeb) -> None:
    web = designer_web
    first = _order(web)
    assert first[:3] == ["name", "account_number", "type"]
    web.post("/designer/entities/account/order", {"move": "type", "by": "up"})
    web.post("/designer/entities/account/order", {"move": "type", "by": "up"})
    assert _order(web)[:3] == ["type", "name", "account_number"]
    [change] = web.draft()  # the second move replaced the first
    assert change["op"] == "order_fields" and change["fields"][:3] == [
        "type", "name", "account_number"]
    # the whole order at once (what dragging sends)
    wanted = list(reversed(first))
    web.post("/designer/entities/account/order", [("order", n) for n in wanted])
    assert _order(web) == wanted and len(web.draft()) == 1
    web.post("/designer/entities/account/order", [("order", "name")])  # not every field: refused
    assert _order(web) == wanted


def _layout_form(sections: list[tuple[str, str, str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for en, zh, columns, fields in sections:
        out += [("section_en", en), ("section_zh", zh), ("section_columns", columns),
                ("section_fields", fields)]
    return out


def test_the_layout_is_saved_as_one_change(designer_web: DesignerWeb) -> None:
    web = designer_web
    page = web.page("/designer/entities/account")
    assert re.search(r'name="section_en" value="Contact details"', page)
    assert 'name="section_fields" value="phone email website"' in page
    web.post("/designer/entities/account/layout", _layout_form([
        ("Main", "主要", "3", "name type vip phone"),
        ("Money", "", "1", "annual_revenue, employees"),
        ("", "", "2", ""),  # an empty section (the blank one of the page) is left out
    ]))
    [change] = web.draft()
    assert change == {"op": "layout", "entity": "account", "layout": [
        {"section": {"en": "Main", "zh": "主要"}, "columns": 3,
         "fields": ["name", "type", "vip", "phone"]},
        {"section": {"en": "Money"}, "columns": 1, "fields": ["annual_revenue", "employees"]},
    ]}
    assert 'name="section_en" value="Money"' in web.page("/designer/entities/account")
    for bad in (
        [("Main", "", "3", "name nothing")],
        [("Main", "", "5", "name")],
        [("Main", "", "2", "name"), ("Again", "", "2", "name")],
        [("", "", "2", "name")],
    ):
        web.post("/designer/entities/account/layout", _layout_form(bad))
        assert len(web.draft()) == 1, bad
    web.post("/designer/draft/apply", {})
    form = web.page("/account/new")
    # phone now comes before industry, which no section names any more (it goes last)
    assert form.index('data-field="phone"') < form.index('data-field="industry"')


def test_presets_are_listed_and_edited(designer_web: DesignerWeb) -> None:
    web = designer_web
    page = web.page("/designer/presets")
    row = re.search(r'<tr data-preset="rating">.*?</tr>', page, re.S)
    assert row and "account.rating" in row.group(0)
    address = re.search(r'<tr data-preset="address">.*?</tr>', page, re.S)
    assert address and "street, city" in address.group(0)
    resp = web.post("/designer/presets/rating", {
        "type": "picklist", "label_en": "Rating", "label_zh": "评级",
        "choice-0-value": "hot", "choice-0-label_en": "Hot",
        "choice-1-value": "frozen", "choice-1-label_en": "Frozen",
        "choice-1-use_color": "on", "choice-1-color": "#0000ff"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert web.draft()[-1] == {"op": "preset", "preset": "rating", "definition": {
        "type": "picklist", "label": {"en": "Rating", "zh": "评级"},
        "choices": [{"value": "hot", "label": {"en": "Hot"}},
                    {"value": "frozen", "label": {"en": "Frozen"}, "color": "#0000ff"}]}}
    resp = web.post("/designer/presets/new?kind=block", {
        "kind": "block", "name": "money_range",
        "fields_yaml": "low: {type: currency}\nhigh: {type: currency}\n"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert web.draft()[-1]["definition"] == {"fields": {"low": {"type": "currency"},
                                                        "high": {"type": "currency"}}}
    resp = web.post("/designer/presets/new?kind=block", {
        "kind": "block", "name": "broken", "fields_yaml": "low: [not a field"})
    assert resp.status_code == 422 and "Not valid YAML" in resp.get_data(as_text=True)
    web.post("/designer/presets/rating/delete")  # used by account.rating: refused
    assert web.draft()[-1]["preset"] == "money_range"


DESIGNER_URLS: list[tuple[str, str]] = [
    ("GET", "/designer/"), ("POST", "/designer/"), ("GET", "/designer/entities/account"),
    ("POST", "/designer/entities/account/properties"), ("POST", "/designer/entities/account/order"),
    ("POST", "/designer/entities/account/layout"), ("GET", "/designer/entities/account/fields/new"),
    ("POST", "/designer/entities/account/fields/new"),
    ("GET", "/designer/entities/account/fields/website"),
    ("POST", "/designer/entities/account/fields/yaml-preview"),
    ("GET", "/designer/entities/account/fields/website/remove"),
    ("POST", "/designer/entities/account/fields/website/remove"), ("GET", "/designer/presets"),
    ("GET", "/designer/presets/rating"), ("POST", "/designer/presets/rating/delete"),
    ("POST", "/designer/presets/yaml-preview"), ("GET", "/designer/draft"),
    ("POST", "/designer/draft/apply"), ("POST", "/designer/draft/discard"),
    ("POST", "/designer/draft/rebase"), ("POST", "/designer/draft/changes/0/remove"),
    ("GET", "/designer/draft/download"), ("GET", "/designer/applied/1"),
    ("GET", "/designer/purge"), ("POST", "/designer/purge"),
]


def test_only_administrators_get_in(designer_web: DesignerWeb) -> None:
    rep = DesignerWeb(designer_web.ctx, "rep")
    for method, url in DESIGNER_URLS:
        resp: Any = rep.post(url, {"confirm": "yes"}) if method == "POST" else rep.get(url)
        assert resp.status_code == 403, (method, url, resp.status_code)
    from werkzeug.test import Client

    from app.runtime import Runtime

    anonymous = Client(Runtime(designer_web.ctx))
    resp = anonymous.get("/designer/entities/account")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert designer_web.draft() == []
