"""Publishing a knowledge base article goes through the `kb_publish` approval
(workflows/knowledge.yaml): the author submits a draft (status In review), a service manager
approves it (Published, published_at set, revision counted) or rejects it (back to Draft).
Nobody but the approval moves an article into or out of review; then every reader finds it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.context import Context
from app.kb import search as kb
from app.model.approvals import approval_tasks
from app.records import NotFound, ValidationFailed
from app.workflow.approvals.engine import Approvals
from tests.servicekit import Desk, service_deployment, signed_in, web
from tests.webkit import csrf


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


def _task_of(ctx: Context, approval_id: int, user_id: int | None) -> int:
    t = approval_tasks.c
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(t.id).where(
            t.approval_id == approval_id, t.assignee_id == user_id, t.status == "open"))
            .scalar_one())


def test_an_approval_publishes_a_draft(ctx: Context, desk: Desk) -> None:
    agent = desk.as_user("agent")
    art = agent.create("kb_article", {"title": "Printer jams", "summary": "Open tray 2."},
                       desk.who("agent"))
    assert (art["status"], art["revision"], art["usage_count"]) == ("draft", 0, 0)
    with pytest.raises(ValidationFailed) as refused:  # only the approval publishes
        agent.update("kb_article", art["id"], {"status": "in_review"}, desk.who("agent"))
    assert "status" in refused.value.errors
    with pytest.raises(ValidationFailed):
        agent.update("kb_article", art["id"], {"published_at": "2026-01-01"}, desk.who("agent"))
    assert kb.search(desk.as_user("agent2"), "printer").hits == []

    approval = Approvals(agent, ctx.settings).submit("kb_article", art["id"], desk.who("agent"))
    assert desk.record("kb_article", art["id"])["status"] == "in_review"
    manager = desk.as_user("svcmanager")
    task = _task_of(ctx, approval, desk.who("svcmanager").id)
    Approvals(manager, ctx.settings).decide(task, desk.who("svcmanager"), approve=True)
    done = desk.record("kb_article", art["id"])
    assert done["status"] == "published"
    assert done["published_at"] is not None and done["revision"] == 1
    assert [h.id for h in kb.search(desk.as_user("agent2"), "printer").hits] == [art["id"]]
    assert [h.id for h in kb.search(desk.as_user("rep"), "printer").hits] == [art["id"]]

    # revised: a service manager takes it back to draft, and publishing it again counts
    manager.update("kb_article", art["id"], {"status": "draft"}, desk.who("svcmanager"))
    assert kb.search(desk.as_user("agent2"), "printer").hits == []
    again = Approvals(agent, ctx.settings).submit("kb_article", art["id"], desk.who("agent"))
    task = _task_of(ctx, again, desk.who("svcmanager2").id)
    Approvals(desk.as_user("svcmanager2"), ctx.settings).decide(
        task, desk.who("svcmanager2"), approve=True)
    assert desk.record("kb_article", art["id"])["revision"] == 2


def test_a_rejection_takes_it_back_to_draft(ctx: Context, desk: Desk) -> None:
    agent = desk.as_user("agent")
    art = agent.create("kb_article", {"title": "Toner"}, desk.who("agent"))
    approval = Approvals(agent, ctx.settings).submit("kb_article", art["id"], desk.who("agent"))
    # while in review the article is locked for its author
    with pytest.raises(Exception) as locked:
        agent.update("kb_article", art["id"], {"title": "Toner!"}, desk.who("agent"))
    assert getattr(locked.value, "status", None) == 423
    task = _task_of(ctx, approval, desk.who("svcmanager").id)
    Approvals(desk.as_user("svcmanager"), ctx.settings).decide(
        task, desk.who("svcmanager"), approve=False, comment="Add the model numbers")
    rec = desk.record("kb_article", art["id"])
    assert (rec["status"], rec["published_at"], rec["revision"]) == ("draft", None, 0)
    # a colleague's draft is out of an agent's sight
    with pytest.raises(NotFound):
        desk.as_user("agent2").update("kb_article", art["id"], {"title": "Mine"},
                                      desk.who("agent2"))


def test_the_author_submits_from_the_article_page(ctx: Context, desk: Desk) -> None:
    art = desk.as_user("agent").create("kb_article", {"title": "Scanner"}, desk.who("agent"))
    client = signed_in(web(ctx), "agent")
    page = client.get(f"/kb_article/{art['id']}")
    assert page.status_code == 200
    resp = client.post(f"/kb_article/{art['id']}/approval/submit",
                       data={"csrf_token": csrf(page.text)})
    assert resp.status_code == 303
    assert desk.record("kb_article", art["id"])["status"] == "in_review"
