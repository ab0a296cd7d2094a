"""Searching the knowledge base: articles by text and category, ranked, as one user may see them.

    hits = search(rs, "打印机 卡纸", category=3)          # published articles only
    hits = search(rs, "printer", statuses=None)          # an editor: every status

Every term of the text must appear in the title, keywords, summary or body (case-insensitive
`LIKE`); articles are ranked by where the terms appear (a title hit outweighs a hit everywhere
else), then by how often agents used them, then by the newest change. Only records the records
service's actor may read are searched (`Records.select`: their scope and the sharing rule that
lets everyone read published articles). A category includes its sub-categories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.i18n import _
from app.kb.markdown import plain
from app.records.errors import RecordError
from app.records.service import Records

ARTICLE = "kb_article"
CATEGORY = "kb_category"
PUBLISHED = "published"
STATUSES = ("draft", "in_review", "published", "archived")
#: the most terms of one query that are searched (more are ignored)
MAX_TERMS = 8
MAX_QUERY = 200
MAX_LIMIT = 200
#: weight of a hit per column: one title hit outweighs a hit in all the others together
WEIGHTS = (("title", 8), ("keywords", 4), ("summary", 2), ("body", 1))


class SearchError(RecordError):
    """A search that cannot run (a bad category, limit or status): 400 with the reason."""

    status = 400


@dataclass(frozen=True)
class Category:
    """One category of the tree, with its children (sorted by sort order, then name) and the
    published articles in it and below it."""

    id: int
    name: str
    parent: int | None
    depth: int
    published: int
    children: tuple[Category, ...] = ()


@dataclass(frozen=True)
class Hit:
    """One article found."""

    id: int
    title: str
    summary: str
    status: str | None
    category: int | None
    category_name: str | None
    language: str | None
    usage_count: int
    updated_at: datetime | None
    published_at: datetime | None
    score: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "summary": self.summary,
                "status": self.status, "language": self.language,
                "category": None if self.category is None else
                {"id": self.category, "title": self.category_name},
                "usage_count": self.usage_count,
                "updated_at": self.updated_at.isoformat() if self.updated_at else None,
                "published_at": self.published_at.isoformat() if self.published_at else None,
                "url": f"/kb/{self.id}"}


@dataclass(frozen=True)
class Results:
    hits: list[Hit] = field(default_factory=list)
    #: how many articles match in all (hits holds at most `limit` of them)
    total: int = 0


def terms_of(text: str | None) -> list[str]:
    """The search terms of a query: words separated by spaces (and Chinese/ASCII commas)."""
    cleaned = (text or "").replace("\x00", "")[:MAX_QUERY]
    for sep in ",，;；、":
        cleaned = cleaned.replace(sep, " ")
    return [t for t in dict.fromkeys(cleaned.split()) if t][:MAX_TERMS]


def _contains(column: sa.ColumnElement[Any], term: str) -> sa.ColumnElement[bool]:
    return sa.func.lower(sa.func.coalesce(column, "")).contains(term.lower(), autoescape=True)


def may_edit_all(rs: Records) -> bool:
    """Whether the records service's actor edits the knowledge base (an editor: admins, and
    roles that may edit every article, such as service managers). Editors may search drafts,
    articles in review and archived ones; everyone else searches published articles only."""
    acc = rs.access()
    if acc.unrestricted:
        return True
    if ARTICLE not in rs.meta.entities or not acc.allows(ARTICLE, "edit"):
        return False
    return acc.entity(ARTICLE).scope("edit") == "all"


def category_tree(rs: Records, *, active_only: bool = True) -> list[Category]:
    """The categories the actor may read, as a tree (roots first); a category whose parent is
    missing, unreadable or part of a loop is shown as a root."""
    if CATEGORY not in rs.meta.entities or not rs.access().allows(CATEGORY, "read"):
        return []
    table = rs.table(CATEGORY)
    stmt = rs.select(CATEGORY).where(table.c.deleted_at.is_(None))
    with rs.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    if active_only:
        rows = [r for r in rows if r.get("active") is not False]
    rows.sort(key=lambda r: (r.get("sort_order") if r.get("sort_order") is not None else 9999,
                             str(r.get("name") or "").lower(), r["id"]))
    ids = {r["id"] for r in rows}
    kids: dict[int | None, list[dict[str, Any]]] = {}
    for r in rows:
        parent = r.get("parent")
        kids.setdefault(parent if parent in ids and parent != r["id"] else None, []).append(r)

    seen: set[int] = set()

    def build(row: dict[str, Any], depth: int) -> Category:
        seen.add(row["id"])
        children = tuple(build(c, depth + 1) for c in kids.get(row["id"], [])
                         if c["id"] not in seen)
        published = int(row.get("published_count") or 0) + sum(c.published for c in children)
        return Category(int(row["id"]), str(row.get("name") or f"#{row['id']}"),
                        row.get("parent"), depth, published, children)

    roots = [build(r, 0) for r in kids.get(None, [])]
    roots += [build(r, 0) for r in rows if r["id"] not in seen]  # loops: shown as roots
    return roots


def flatten(tree: Iterable[Category]) -> list[Category]:
    """The tree depth first, in display order."""
    out: list[Category] = []
    for node in tree:
        out.append(node)
        out += flatten(node.children)
    return out


def descendants(tree: Sequence[Category], category_id: int) -> list[int] | None:
    """`category_id` and the ids below it; None when the actor cannot see that category."""
    for node in flatten(tree):
        if node.id == category_id:
            return [n.id for n in flatten([node])]
    return None


def search(rs: Records, text: str | None = None, *, category: int | None = None,
           statuses: Sequence[str] | None = (PUBLISHED,), language: str | None = None,
           limit: int = 50, offset: int = 0) -> Results:
    """Articles matching `text` (every term somewhere), in `category` and its sub-categories,
    with one of `statuses` (None: any), best first. Raises Forbidden when the actor may read
    no article, SearchError for a category they cannot see or a bad limit."""
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise SearchError(_("The limit must be between 1 and %(max)s.", max=MAX_LIMIT))
    stmt = rs.select(ARTICLE)
    table = rs.table(ARTICLE)
    cols = rs.spec(ARTICLE).columns
    where: list[sa.ColumnElement[bool]] = [table.c.deleted_at.is_(None)]
    if statuses is not None:
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown:
            raise SearchError(_("Unknown status '%(status)s'.", status=unknown[0][:40]))
        where.append(table.c[cols["status"]].in_(list(statuses)))
    if language:
        where.append(table.c[cols["language"]] == language)
    if category is not None:
        ids = descendants(category_tree(rs, active_only=False), category)
        if ids is None:
            raise SearchError(_("There is no category #%(id)s.", id=category))
        where.append(table.c[cols["category"]].in_(ids))
    score: sa.ColumnElement[Any] = sa.literal(0)
    for term in terms_of(text):
        hits = [(_contains(table.c[cols[name]], term), weight) for name, weight in WEIGHTS]
        where.append(sa.or_(*(h for h, _w in hits)))
        for hit, weight in hits:
            score = score + sa.case((hit, weight), else_=0)
    scored = stmt.add_columns(score.label("kb_score")).where(*where)
    ordered = scored.order_by(sa.desc("kb_score"),
                              sa.func.coalesce(table.c[cols["usage_count"]], 0).desc(),
                              table.c.updated_at.desc(), table.c.id.desc())
    count = sa.select(sa.func.count()).select_from(
        sa.select(table.c.id).where(*where, *_access(rs)).subquery())
    with rs.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(ordered.limit(limit).offset(offset))]
        total = int(conn.execute(count).scalar_one())
    names = rs.titles(CATEGORY, [r["category"] for r in rows if r.get("category")])
    return Results([_hit(r, names) for r in rows], total)


def _access(rs: Records) -> list[sa.ColumnElement[bool]]:
    where = rs.readable(ARTICLE)
    return [] if where is None else [where]


def _hit(row: Mapping[str, Any], categories: Mapping[int, str]) -> Hit:
    cat = row.get("category")
    return Hit(id=int(row["id"]), title=str(row.get("title") or f"#{row['id']}"),
               summary=plain(row.get("summary") or row.get("body")),
               status=row.get("status"), category=cat,
               category_name=categories.get(cat) if cat is not None else None,
               language=row.get("language"), usage_count=int(row.get("usage_count") or 0),
               updated_at=row.get("updated_at"), published_at=row.get("published_at"),
               score=int(row.get("kb_score") or 0))
