"""List views: shared views from YAML (`views:`, checked with located, coded errors, kept in the
config snapshot), and views users save (sys_list_view): mine are private, an admin may share
one, nobody deletes another's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.meta.errors import ConfigErrors
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.model.system import list_views
from tests.factories import meta_of, write_schema
from tests.webkit import csrf, records_of, sign_in


def views_menu(html: str) -> dict[str, str]:
    """View label -> its link, from the list page's Views menu."""
    found = re.findall(r'data-view="[^"]+">\s*<a class="dropdown-item[^"]*" href="([^"]+)">'
                       r"([^<]+)", html)
    return {text.strip(): href.replace("&amp;", "&") for href, text in found}


def save(client: FlaskClient, entity: str, name: str, params: str, **extra: str) -> Any:
    token = csrf(client.get(f"/{entity}/").text)
    return client.post(f"/{entity}/views", data={"name": name, "params": params,
                                                 "csrf_token": token, **extra})


def stored(web: Flask) -> list[tuple[Any, ...]]:
    engine = web.extensions["crm"].ctx.engine
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(
            list_views.c.user_id, list_views.c.entity, list_views.c.name, list_views.c.params
        ).order_by(list_views.c.id))]


def test_shared_yaml_views_are_in_the_menu_in_both_languages(client: FlaskClient,
                                                             web: Flask) -> None:
    rec = records_of(web)
    acc = rec.create("account", {"name": "Acme"})
    rec.create("opportunity", {"name": "Won one", "account": acc["id"], "stage": "won",
                               "amount": 10, "close_date": _this_year()})
    rec.create("opportunity", {"name": "Open one", "account": acc["id"]})
    menu = views_menu(client.get("/opportunity/").text)
    assert {"Open deals", "Won this year", "My pipeline"} <= set(menu)
    won = client.get(menu["Won this year"]).text
    assert re.findall(r'crm-title">([^<]+)<', won) == ["Won one"]
    button = re.search(r'id="views-menu"[^>]*>([^<]+)<', won)
    assert button and button.group(1).strip() == "Won this year"  # the active view
    client.post("/me/language", data={"locale": "zh_CN", "csrf_token": csrf(won)})
    assert {"进行中的商机", "今年赢单"} <= set(views_menu(client.get("/opportunity/").text))


def _this_year() -> str:
    from datetime import date

    return date.today().replace(month=6, day=1).isoformat()


def test_my_saved_view_is_private(web: Flask, client: FlaskClient) -> None:
    resp = save(client, "opportunity", "Big deals", "f.amount.gte=10000&sort=-amount&after=x")
    assert resp.status_code == 302
    assert "f.amount.gte=10000" in resp.headers["Location"]
    assert "after" not in resp.headers["Location"]
    admin_menu = views_menu(client.get("/opportunity/").text)
    assert "Big deals" in admin_menu
    assert "f.amount.gte=10000" in admin_menu["Big deals"]
    other = web.test_client()
    sign_in(other, "rep")
    assert "Big deals" not in views_menu(other.get("/opportunity/").text)
    assert "Big deals" not in views_menu(client.get("/account/").text)  # per entity
    # saving again under the same name replaces it
    save(client, "opportunity", "Big deals", "f.amount.gte=50000")
    rows = stored(web)
    assert len(rows) == 1 and rows[0][3] == [["f.amount.gte", "50000"]]


def test_another_user_cannot_delete_my_view(web: Flask, client: FlaskClient) -> None:
    save(client, "opportunity", "Mine", "q=x")
    view_id = _ids(web)[0]
    rep = web.test_client()
    sign_in(rep, "rep")
    token = csrf(rep.get("/opportunity/").text)
    resp = rep.post(f"/opportunity/views/{view_id}/delete", data={"csrf_token": token})
    assert resp.status_code == 404
    assert len(stored(web)) == 1
    token = csrf(client.get("/opportunity/").text)
    assert client.post(f"/opportunity/views/{view_id}/delete",
                       data={"csrf_token": token}).status_code == 302
    assert stored(web) == []


def _ids(web: Flask) -> list[int]:
    with web.extensions["crm"].ctx.engine.connect() as conn:
        return list(conn.execute(sa.select(list_views.c.id).order_by(list_views.c.id))
                    .scalars())


def test_admin_shares_a_view_everyone_sees_but_only_admins_delete(web: Flask,
                                                                  client: FlaskClient) -> None:
    save(client, "opportunity", "Team view", "f.stage.eq=won", shared="1")
    assert stored(web)[0][0] is None  # user_id NULL = shared
    rep = web.test_client()
    sign_in(rep, "rep")
    html = rep.get("/opportunity/").text
    assert "Team view" in views_menu(html)
    assert f'/opportunity/views/{_ids(web)[0]}/delete' not in html
    # a rep asking to share saves a private view
    save(rep, "opportunity", "Rep view", "q=y", shared="1")
    assert stored(web)[1][0] is not None


def test_saving_needs_csrf_a_name_and_a_valid_query(web: Flask, client: FlaskClient) -> None:
    resp = client.post("/opportunity/views", data={"name": "x", "params": "q=1"})
    assert resp.status_code == 400
    unnamed = save(client, "opportunity", "  ", "q=1")
    assert "Give the view a name" in client.get(unnamed.headers["Location"]).text
    bad = save(client, "opportunity", "Bad", "f.amount.gte=lots")
    assert "lots" in client.get(bad.headers["Location"]).text
    assert stored(web) == []


# --- config: list: and views: ---------------------------------------------------------------
DEAL: dict[str, Any] = {
    "entity": "deal", "title": "name",
    "fields": {"name": {"type": "string"}, "amount": {"type": "currency"},
               "stage": {"type": "picklist", "choices": ["open", "won"]},
               "tags": {"type": "tags"}, "due": {"type": "date"}},
}


def _load(tmp_path: Path, **keys: Any) -> Any:
    write_schema(tmp_path, "deal", {**DEAL, **keys})
    return meta_of(tmp_path)


def test_list_and_views_are_built_and_kept_in_the_snapshot(tmp_path: Path) -> None:
    meta = _load(tmp_path, list={"columns": ["name", "amount"], "sort": "-due",
                                 "page_size": 25},
                 views=[{"name": "big", "label": {"en": "Big", "zh": "大单"},
                         "filters": {"amount": {"gte": 1000}, "due": {"gte": "year_start"}},
                         "sort": "-amount", "mine": True}])
    deal = meta.entity("deal")
    assert deal.list_view.columns == ("name", "amount") and deal.list_view.page_size == 25
    assert deal.views[0].label_for("zh_CN") == "大单" and deal.views[0].mine
    again = meta_from_dict(meta_to_dict(meta)).entity("deal")
    assert again.list_view == type(deal.list_view)(("name", "amount"), "-due", 25,
                                                   again.list_view.source)
    assert again.views[0].filters == deal.views[0].filters
    assert again.views[0].sort == "-amount" and again.views[0].mine


def test_entities_without_list_config_keep_their_snapshot(tmp_path: Path) -> None:
    data = meta_to_dict(_load(tmp_path))
    assert "list" not in data["entities"]["deal"] and "views" not in data["entities"]["deal"]


@pytest.mark.parametrize(("keys", "code", "words"), [
    ({"list": {"columns": ["name", "amout"]}}, "CRM-E038", ["amout", "did you mean 'amount'"]),
    ({"list": {"sort": "-tags"}}, "CRM-E038", ["tags", "cannot be sorted"]),
    ({"views": [{"name": "v", "filters": {"nope": {"eq": 1}}}]}, "CRM-E038", ["nope"]),
    ({"views": [{"name": "v", "filters": {"amount": {"contains": "1"}}}]}, "CRM-E039",
     ["contains", "eq, ne, lt"]),
    ({"views": [{"name": "v", "filters": {"stage": {"eq": "maybe"}}}]}, "CRM-E039",
     ["maybe"]),
    ({"views": [{"name": "v", "filters": {"due": {"between": ["2026-01-01"]}}}]},
     "CRM-E039", ["between"]),
    ({"views": [{"name": "v"}, {"name": "v"}]}, "CRM-E047", ["two views"]),
    ({"views": [{"name": "Bad Name"}]}, "CRM-E014", ["Bad Name"]),
    ({"views": [{"name": "v", "filters": {"amount": {"around": 1}}}]}, "CRM-E010",
     ["around"]),
    ({"list": {"page_size": 0}}, "CRM-E010", ["page_size"]),
    ({"list": {"colums": ["name"]}}, "CRM-E011", ["colums"]),
])
def test_config_errors_are_coded_and_located(tmp_path: Path, keys: dict[str, Any], code: str,
                                             words: list[str]) -> None:
    with pytest.raises(ConfigErrors) as err:
        _load(tmp_path, **keys)
    found = [e for e in err.value.errors if e.code == code]
    assert found, err.value
    assert found[0].source.file.endswith("deal.yaml") and found[0].source.line > 0
    for word in words:
        assert word in found[0].message or word in str(err.value), (word, str(err.value))
