"""Knowledge base search (app/kb/search.py, /kb/): every word must match somewhere, title hits
rank first, a category includes its sub-categories, and only published articles are found by
agents and sales users (editors may search the other statuses); drafts stay private."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.kb import search as kb
from app.records import Actor, Forbidden, NotFound, Records
from tests.servicekit import Desk, service_deployment, signed_in, web


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = service_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def desk(ctx: Context) -> Desk:
    return Desk(ctx)


def _library(desk: Desk) -> dict[str, int]:
    hardware = desk.category("Hardware", sort_order=10)
    printers = desk.category("Printers", parent=hardware)
    software = desk.category("Software", sort_order=20)
    return {
        "hardware": hardware, "printers": printers, "software": software,
        "body": desk.article("Paper feed problems", category=printers,
                             body="When the PRINTER pulls two sheets, fan the paper."),
        "title": desk.article("Printer jams", category=printers, summary="Open tray 2."),
        "keywords": desk.article("Tray 2 errors", category=hardware, keywords="printer, tray"),
        "other": desk.article("Reset a password", category=software, summary="Use the portal"),
        "draft": desk.article("Printer driver draft", status="draft", owner="agent2"),
        "review": desk.article("Printer in review", status="in_review", owner="agent"),
        "archived": desk.article("Old printer model", status="archived"),
    }


def test_title_hits_rank_first_and_every_word_must_match(desk: Desk) -> None:
    ids = _library(desk)
    agent = desk.as_user("agent")
    found = kb.search(agent, "printer")
    assert [h.id for h in found.hits] == [ids["title"], ids["keywords"], ids["body"]]
    assert found.total == 3
    assert found.hits[0].summary == "Open tray 2."
    assert found.hits[0].category_name == "Printers"
    # both words in "Tray 2 errors" (title and keywords) beat "Printer jams" (title, summary)
    assert [h.id for h in kb.search(agent, "PRINTER tray").hits] == [ids["keywords"],
                                                                      ids["title"]]
    assert kb.search(agent, "printer nothing-like-this").hits == []
    assert [h.id for h in kb.search(agent, "50%_").hits] == []  # LIKE wildcards are literal
    # no text: every published article, the most used first
    assert {h.id for h in kb.search(agent, "").hits} == {
        ids["title"], ids["keywords"], ids["body"], ids["other"]}


def test_a_category_includes_its_sub_categories(desk: Desk) -> None:
    ids = _library(desk)
    agent = desk.as_user("agent")
    assert {h.id for h in kb.search(agent, "printer", category=ids["hardware"]).hits} == {
        ids["title"], ids["keywords"], ids["body"]}
    assert {h.id for h in kb.search(agent, "printer", category=ids["printers"]).hits} == {
        ids["title"], ids["body"]}
    assert kb.search(agent, "printer", category=ids["software"]).hits == []
    with pytest.raises(kb.SearchError):
        kb.search(agent, "printer", category=999999)
    tree = kb.category_tree(agent)
    assert [(c.name, c.depth, c.published) for c in kb.flatten(tree)] == [
        ("Hardware", 0, 3), ("Printers", 1, 2), ("Software", 0, 1)]  # with sub-categories


def test_unpublished_articles_are_hidden_from_agents_and_sales(desk: Desk) -> None:
    ids = _library(desk)
    published = {ids["title"], ids["keywords"], ids["body"]}
    for username in ("agent", "agent2", "rep"):
        rs = desk.as_user(username)
        assert {h.id for h in kb.search(rs, "printer").hits} == published, username
        assert not kb.may_edit_all(rs)
    # an agent reads their own draft, never a colleague's
    assert desk.as_user("agent").get("kb_article", ids["review"])["title"] == "Printer in review"
    with pytest.raises(NotFound):
        desk.as_user("agent").get("kb_article", ids["draft"])
    # an editor (service manager) may search every status
    editor = desk.as_user("svcmanager")
    assert kb.may_edit_all(editor)
    assert {h.id for h in kb.search(editor, "printer", statuses=None).hits} == published | {
        ids["draft"], ids["review"], ids["archived"]}
    assert [h.id for h in kb.search(editor, "printer", statuses=("draft",)).hits] == [
        ids["draft"]]
    with pytest.raises(kb.SearchError):
        kb.search(editor, "printer", statuses=("nonsense",))
    # a user whose roles read no article is refused
    nobody = Records(editor.engine, editor.models, actor=Actor(editor.actor.id, "nobody", ()))
    with pytest.raises(Forbidden):
        kb.search(nobody, "printer")
    assert kb.category_tree(nobody) == []


def test_the_kb_page_searches_by_text_and_category(ctx: Context, desk: Desk) -> None:
    ids = _library(desk)
    client = signed_in(web(ctx), "agent")
    home = client.get("/")
    assert 'id="kb-link"' in home.text
    page = client.get("/kb/?q=printer")
    assert page.status_code == 200
    text = page.text
    assert text.index("Printer jams") < text.index("Tray 2 errors") < text.index(
        "Paper feed problems")
    assert "Printer driver draft" not in text and "Printer in review" not in text
    assert f'data-category="{ids["printers"]}"' in text
    assert 'id="kb-status"' not in text  # agents search published articles only
    sub = client.get(f"/kb/?q=printer&category={ids['software']}")
    assert 'id="kb-none"' in sub.text
    assert client.get("/kb/?category=abc").status_code == 400
    article = client.get(f"/kb/{ids['title']}")
    assert article.status_code == 200 and "Open tray 2." in article.text
    assert client.get(f"/kb/{ids['draft']}").status_code == 404
    editor = signed_in(web(ctx), "svcmanager")
    assert "Printer driver draft" in editor.get("/kb/?q=printer&status=any").text
