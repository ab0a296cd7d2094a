"""Using the knowledge base on a case: "Use this answer" and "Was this helpful?".

    case = use_answer(rs, actor, case_id=12, article_id=7)

`use_answer` writes the article's summary (its body when it has no summary) into the case's
`resolution` (after what is there already, unless the text is there) and links the article
(`kb_article`), as the acting user, through the records service: their permission to edit the
case, its rules, its audit trail. In the same transaction the article's `usage_count` goes up
by one (as the system: the field is read-only for users). Only a published article the user
may read can be used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from app.i18n import _
from app.kb.markdown import plain
from app.kb.search import ARTICLE, PUBLISHED
from app.records.change import SYSTEM, Actor, Change
from app.records.errors import RecordError
from app.records.service import Records

CASE = "case"
#: the case fields "Use this answer" writes
ANSWER_FIELD = "resolution"
LINK_FIELD = "kb_article"
USAGE = "usage_count"
HELPFUL = "helpful_count"


class NotPublished(RecordError):
    """The article is not published: it cannot be used as an answer (409)."""

    status = 409


def answer_text(article: dict[str, Any]) -> str:
    """What an article contributes to a case: its summary, else its body as plain text."""
    summary = str(article.get("summary") or "").strip()
    if summary:
        return summary
    return plain(article.get("body"), limit=4000)


def published_article(rs: Records, article_id: int) -> dict[str, Any]:
    """The article as the records service's actor may read it (NotFound otherwise), refused
    with NotPublished unless it is published."""
    article = rs.get(ARTICLE, article_id)
    if article.get("status") != PUBLISHED:
        raise NotPublished(_("Only a published article can be used: %(title)s is not "
                             "published.", title=article.get("title") or f"#{article_id}"))
    return article


def _bump(rs: Records, conn: sa.Connection, article_id: int, field: str) -> Change:
    """Add one to a counter of the article, as the system, reading it under a row lock (two
    agents using the same article at once both count)."""
    table = rs.table(ARTICLE)
    column = table.c[rs.spec(ARTICLE).columns[field]]
    current = conn.execute(sa.select(column).where(table.c.id == article_id)
                           .with_for_update()).scalar()
    return rs._update(conn, ARTICLE, article_id, {field: int(current or 0) + 1}, SYSTEM, None)


def _run(rs: Records, work: Callable[[sa.Connection], list[Change]]) -> list[Change]:
    with rs.transaction() as conn:
        changes = work(conn)
    for change in changes:
        rs._after_commit(change)
    return changes


def use_answer(rs: Records, actor: Actor, case_id: int, article_id: int) -> dict[str, Any]:
    """Write the article into the case (see the module's docstring); the case as saved.
    NotFound when the user may not read either, Forbidden when they may not edit the case,
    NotPublished for an article that is not published, ValidationFailed when the case refuses
    the values (its rules)."""
    article = published_article(rs, article_id)
    case = rs.get(CASE, case_id)
    text = answer_text(article)
    before = str(case.get(ANSWER_FIELD) or "").rstrip()
    if not text or text in before:
        resolution = before or None
    else:
        resolution = f"{before}\n\n{text}" if before else text
    values = {ANSWER_FIELD: resolution, LINK_FIELD: article_id}

    def work(conn: sa.Connection) -> list[Change]:
        saved = rs._update(conn, CASE, case_id, values, actor, int(case["version"]))
        return [saved, _bump(rs, conn, article_id, USAGE)]

    return dict(_run(rs, work)[0].record)


def mark_helpful(rs: Records, article_id: int) -> int:
    """Count one "this was helpful" for a published article the actor may read; the new
    count."""
    published_article(rs, article_id)
    changes = _run(rs, lambda conn: [_bump(rs, conn, article_id, HELPFUL)])
    return int(changes[0].record.get(HELPFUL) or 0)
