"""Global search: `/search?q=` finds records of every entity by title and short text fields,
grouped by entity (HTML, or JSON for `Accept: application/json`). The work is bounded in
`app.records.search`: a few columns and hits per entity, a capped count."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app.i18n import _, get_locale
from app.records.search import MIN_LENGTH, EntityHits, search
from app.web.errors import wants_json
from app.web.state import records
from app.web.templating import nav_entities

bp = Blueprint("search", __name__)

#: the longest query searched (longer text is cut)
MAX_QUERY = 200


def list_link(entity: str, q: str) -> str:
    return f"/{entity}/?{urlencode({'q': q})}"


def as_json(q: str, hint: str | None, found: list[EntityHits]) -> dict[str, Any]:
    locale = get_locale()
    return {
        "q": q,
        "hint": hint,
        "results": [{
            "entity": g.entity.name,
            "label": g.entity.plural_for(locale),
            "total": g.total,
            "capped": g.capped,
            "list": list_link(g.entity.name, q),
            "hits": [{"id": h.id, "title": h.title, "url": f"/{g.entity.name}/{h.id}",
                      "field": h.field.name if h.field else None,
                      "field_label": h.field.label_for(locale) if h.field else None,
                      "value": h.value} for h in g.hits],
        } for g in found],
    }


@bp.route("/search")
@login_required
def index() -> ResponseReturnValue:
    q = " ".join(request.args.get("q", "").replace("\x00", "").split())[:MAX_QUERY]
    archived = request.args.get("archived") == "1" and bool(current_user.is_admin)
    hint: str | None = None
    found: list[EntityHits] = []
    if len(q) < MIN_LENGTH:
        hint = _("Type at least %(n)s characters to search.", n=MIN_LENGTH)
    else:
        found = search(records(), q, entities=[e.name for e in nav_entities()],
                       include_archived=archived)
    if wants_json():
        return as_json(q, hint, found)
    return render_template("search/results.html", q=q, hint=hint, found=found,
                           list_link=list_link, total=sum(g.total for g in found),
                           archived=archived)
