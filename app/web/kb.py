"""The knowledge base pages (docs/service.md), a page module with record-page hooks.

- `/kb/`: search box (title, keywords, summary, body; title hits first), the category tree,
  results; `?case=<id>` answers that case: each result gets "Use this answer".
- `/kb/<id>`: the article (its body drawn from the safe Markdown subset), category, dates,
  "Was this helpful?", and "Use this answer" when opened for a case.
- POST `/kb/<id>/use` (CSRF; form field `case`): the article into the case's resolution
  (app/kb/answer.py), then back to the case.
- POST `/kb/<id>/helpful` (CSRF): counts one "helpful" per article and browser session.
- On a case's page: the button "Answer from knowledge base" (`crm_record_actions`).

Everyone searches published articles; editors (admins and roles that may edit every article,
service managers by default) may also search the other statuses.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_login import login_required

from app.i18n import _
from app.kb import answer as kb_answer
from app.kb import search as kb
from app.kb.markdown import render
from app.plugins import hookimpl
from app.web.detail import check_id, detail_url
from app.web.recordext import RecordAction
from app.web.state import actor, entity_or_404, records, state

bp = Blueprint("kb", __name__)
PAGE_SIZE = 20
#: session key: the articles this browser marked helpful already
HELPFUL_SEEN = "kb_helpful"


@bp.app_template_global()
def kb_in_nav() -> bool:
    """Whether the navigation shows "Knowledge base": the user may read articles."""
    if state().models is None:
        return False
    rs = records()
    return kb.ARTICLE in rs.meta.entities and rs.access().allows(kb.ARTICLE, "read")


def _int_arg(name: str) -> int | None:
    raw = (request.values.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 10:
        abort(400, description=_("%(name)s must be a record number.", name=name))
    value = int(raw)
    check_id(value)
    return value


def _case(case_id: int | None) -> dict[str, Any] | None:
    """The case being answered, as the user may see it (404 when they may not)."""
    if case_id is None:
        return None
    entity_or_404(kb_answer.CASE)
    return records().get(kb_answer.CASE, case_id)


def _may_answer(case: dict[str, Any] | None) -> bool:
    return case is not None and records().permits(kb_answer.CASE, int(case["id"]), "edit")


@bp.get("/kb/")
@login_required
def index() -> ResponseReturnValue:
    e = entity_or_404(kb.ARTICLE)
    rs = records()
    editor = kb.may_edit_all(rs)
    case = _case(_int_arg("case"))
    category = _int_arg("category")
    status = (request.args.get("status") or kb.PUBLISHED) if editor else kb.PUBLISHED
    if status not in (*kb.STATUSES, "any"):
        abort(400, description=_("Unknown status '%(status)s'.", status=status[:40]))
    page = max(1, min(_int_arg("page") or 1, 500))
    text = request.args.get("q", "")[:kb.MAX_QUERY]
    tree = kb.category_tree(rs)
    results = kb.search(rs, text, category=category,
                        statuses=None if status == "any" else (status,),
                        limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template(
        "kb/index.html", e=e, q=text, category=category, categories=kb.flatten(tree),
        results=results, case=case, may_answer=_may_answer(case), editor=editor,
        status=status, statuses=kb.STATUSES, page=page, page_size=PAGE_SIZE,
        status_field=e.fields["status"])


@bp.get("/kb/<int:article_id>")
@login_required
def article(article_id: int) -> ResponseReturnValue:
    check_id(article_id)
    e = entity_or_404(kb.ARTICLE)
    rs = records()
    rec = rs.get(kb.ARTICLE, article_id)  # a draft: its author, editors and approvers
    case = _case(_int_arg("case"))
    category = None
    if rec.get("category"):
        category = rs.titles(kb.CATEGORY, [rec["category"]]).get(rec["category"])
    seen = article_id in (session.get(HELPFUL_SEEN) or [])
    return render_template(
        "kb/article.html", e=e, rec=rec, body=render(rec.get("body")), category=category,
        case=case, may_answer=_may_answer(case) and rec.get("status") == kb.PUBLISHED,
        may_edit=rs.permits(kb.ARTICLE, article_id, "edit"), helpful_seen=seen,
        published=rec.get("status") == kb.PUBLISHED)


@bp.post("/kb/<int:article_id>/use")
@login_required
def use(article_id: int) -> ResponseReturnValue:
    check_id(article_id)
    entity_or_404(kb.ARTICLE)
    case_id = _int_arg("case")
    if case_id is None:
        abort(400, description=_("Choose the case to answer."))
    case = kb_answer.use_answer(records(), actor(), case_id, article_id)
    flash(_("The answer was added to the case's resolution."), "success")
    return redirect(detail_url(kb_answer.CASE, int(case["id"])), 303)


@bp.post("/kb/<int:article_id>/helpful")
@login_required
def helpful(article_id: int) -> ResponseReturnValue:
    check_id(article_id)
    entity_or_404(kb.ARTICLE)
    seen = list(session.get(HELPFUL_SEEN) or [])
    if article_id not in seen:
        kb_answer.mark_helpful(records(), article_id)
        session[HELPFUL_SEEN] = [*seen[-199:], article_id]
    flash(_("Thank you for your feedback."), "success")
    case_id = _int_arg("case")
    back = f"/kb/{article_id}" + (f"?case={case_id}" if case_id else "")
    return redirect(back, 303)


# --- record pages ------------------------------------------------------------------------------
@hookimpl
def crm_record_actions(entity: str, record: dict[str, Any]) -> list[RecordAction] | None:
    """"Answer from knowledge base" on a case the user may edit; "Open in knowledge base" on a
    published article."""
    rs = records()
    if kb.ARTICLE not in rs.meta.entities or not rs.access().allows(kb.ARTICLE, "read"):
        return None
    rid = int(record["id"])
    if entity == kb_answer.CASE and rs.permits(kb_answer.CASE, rid, "edit"):
        return [RecordAction("kb-answer", _("Answer from knowledge base"), f"/kb/?case={rid}")]
    if entity == kb.ARTICLE and record.get("status") == kb.PUBLISHED:
        return [RecordAction("kb-open", _("Open in knowledge base"), f"/kb/{rid}")]
    return None
