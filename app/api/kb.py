"""`GET /api/v1/kb/search?q=&category=&language=&limit=&offset=`: published knowledge base
articles matching the text, best first (app/kb/search.py), as the caller may read them:
`{"data": [{"id", "title", "summary", "status", "language", "category": {"id", "title"},
"usage_count", "updated_at", "published_at", "url"}], "count", "limit", "offset"}`. 400 for a
bad parameter or a category the caller cannot see, 403 when they may read no article. The
articles and categories themselves are the generic resources `/api/v1/kb_article` and
`/api/v1/kb_category`. A built-in plugin (`crm_api_blueprints`)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from app.i18n import _
from app.kb import search as kb
from app.plugins import hookimpl
from app.textnum import small_int
from app.web.state import entity_or_404, records

bp = Blueprint("api_kb", __name__)
PARAMS = frozenset({"q", "category", "language", "limit", "offset"})
DEFAULT_LIMIT = 20


def _number(name: str, high: int, default: int, low: int = 1) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    value = small_int(raw, high)
    if value is None or value < low:
        raise kb.SearchError(_("%(name)s must be a whole number from %(low)s to %(high)s.",
                               name=name, low=low, high=high))
    return int(value)


@bp.get("/kb/search")
def search() -> Response:
    for key in request.args:
        if key not in PARAMS:
            raise kb.SearchError(_("Unknown parameter '%(name)s'.", name=key[:60]))
    entity_or_404(kb.ARTICLE)
    limit = _number("limit", kb.MAX_LIMIT, DEFAULT_LIMIT)
    offset = _number("offset", 100_000, 0, low=0)
    category = _number("category", 2**31 - 1, 0) if request.args.get("category") else None
    language = request.args.get("language") or None
    if language is not None and language not in ("en", "zh"):
        raise kb.SearchError(_("language must be en or zh."))
    found = kb.search(records(), request.args.get("q", ""), category=category,
                      language=language, limit=limit, offset=offset)
    return jsonify({"data": [h.as_json() for h in found.hits], "count": found.total,
                    "limit": limit, "offset": offset})


@hookimpl
def crm_api_blueprints() -> list[Blueprint]:
    return [bp]
