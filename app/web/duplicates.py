"""Duplicates: the /duplicates/ page (groups found by the rules of workflows/*.yaml
`duplicates:`), the side-by-side compare page where the user picks the surviving record and
each field's value, the merge itself, "not duplicates", and the "Merge duplicates…" buttons on
a record's page (`crm_record_actions`). For users with the `merge` grant (admins always).

Thin: `app.dedupe` finds, plans and merges; this module checks input, renders and redirects.
A page module (app/web/pages.py) and a built-in plugin (app/plugins.py) for its hooks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required
from markupsafe import Markup

from app import dedupe
from app.dedupe.plan import MAX_LOSERS, MergeRefused, Plan, value_of
from app.i18n import _, get_locale, ngettext
from app.meta.duplicates import rules_of
from app.meta.types import EntityDef, FieldDef
from app.plugins import hookimpl
from app.records import Conflict, ValidationFailed
from app.records.values import OWNER
from app.textnum import small_int
from app.web.detail import MAX_ID, Refs, detail_url, record_title, value_html
from app.web.recordext import RecordAction
from app.web.security import safe_next
from app.web.state import actor, entity_or_404, records, state

bp = Blueprint("duplicates", __name__)


# --- helpers -----------------------------------------------------------------------------------
def _ids(raw: Sequence[str]) -> list[int]:
    """Record ids from the request (a bad one is a 400), in order, without repeats."""
    out: list[int] = []
    for text in raw:
        number = small_int(text.strip(), MAX_ID) if text else None
        if number is None or number < 1:
            abort(400)
        if number not in out:
            out.append(number)
    return out


def _entity(name: str) -> EntityDef:
    e = entity_or_404(name)
    dedupe.may_merge(records(), actor(), name)
    return e


def compare_url(entity: str, ids: Sequence[int], survivor: int | None = None) -> str:
    query: list[tuple[str, Any]] = [("ids", i) for i in ids]
    if survivor is not None:
        query.append(("survivor", survivor))
    return f"/duplicates/{entity}/compare?{urlencode(query)}"


def _refs(e: EntityDef, rows: Sequence[Mapping[str, Any]], fields: Sequence[FieldDef]) -> Refs:
    refs = Refs()
    for row in rows:
        refs.add_record(e, row, fields)
    return refs.resolve()


# --- the groups --------------------------------------------------------------------------------
@bp.get("/duplicates/")
@login_required
def index() -> ResponseReturnValue:
    rs = records()
    who = actor()
    choices = dedupe.mergeable(rs, who)
    if not choices:
        abort(403)
    name = request.args.get("entity") or choices[0].name
    e = next((c for c in choices if c.name == name), None)
    if e is None:
        abort(404)
    rules = dedupe.rules_for(rs, who, e.name)
    rule = request.args.get("rule") or None
    if rule is not None and rule not in {r.name for r in rules}:
        abort(404)
    limit = small_int(request.args.get("limit") or "50", 500) or 50
    groups = dedupe.find(rs, who, e.name, rule=rule, limit=limit)
    shown = {r.name: [e.fields[n] for n in r.fields] for r in rules}
    title_field = e.fields.get(e.title or "")
    fields = [f for fs in shown.values() for f in fs]
    refs = _refs(e, [r for g in groups for r in g.records], fields)
    return render_template(
        "duplicates/index.html", e=e, entities=choices, rules=rules, rule=rule, groups=groups,
        shown=shown, title_field=title_field, refs=refs, limit=limit,
        rule_labels={r.name: r.label_for(get_locale()) for r in rules},
        val=lambda f, v: value_html(f, v, refs, link=False), record_title=record_title,
        compare_url=compare_url)


# --- compare and merge -------------------------------------------------------------------------
@bp.get("/duplicates/<entity>/compare")
@login_required
def compare(entity: str) -> ResponseReturnValue:
    e = _entity(entity)
    ids = _ids(request.args.getlist("ids"))
    survivor = small_int(request.args.get("survivor") or "", MAX_ID) or (ids[0] if ids else 0)
    if len(ids) < 2 or survivor not in ids:
        abort(400)
    if len(ids) > MAX_LOSERS + 1:
        raise MergeRefused(_("At most %(n)s records can be merged into one at a time.",
                             n=MAX_LOSERS))
    found = dedupe.plan(records(), actor(), entity, survivor, [i for i in ids if i != survivor])
    return _compare_page(e, found)


def _compare_page(e: EntityDef, p: Plan, *, chosen: Mapping[str, int] | None = None,
                  errors: Mapping[str, Sequence[str]] | None = None, error: str | None = None,
                  status: int = 200) -> ResponseReturnValue:
    rows = p.records
    fields = [f for f in p.fields if any(value_of(r, f.name) not in (None, "", [])
                                         for r in rows)]
    refs = _refs(e, rows, fields)
    refs.user_ids.update(int(r["owner_id"]) for r in rows if r.get("owner_id") is not None)
    refs.resolve()
    ids = [int(r["id"]) for r in rows]
    picks = {**p.defaults, **(chosen or {})}

    def val(f: FieldDef | None, value: Any) -> Markup:
        if f is None:  # the owner
            return Markup.escape(refs.name(value)) if value is not None else Markup("—")
        return value_html(f, value, refs, link=False)

    return render_template(
        "duplicates/compare.html", e=e, plan=p, rows=rows, fields=fields, ids=ids, picks=picks,
        val=val, owner=OWNER, record_title=record_title, compare_url=compare_url,
        errors=errors or {}, error=error, value_of=value_of), status


@bp.post("/duplicates/<entity>/merge")
@login_required
def do_merge(entity: str) -> ResponseReturnValue:
    e = _entity(entity)
    form = request.form
    ids = _ids(form.getlist("ids"))
    survivor = small_int(form.get("survivor") or "", MAX_ID)
    if survivor is None or survivor not in ids or len(ids) < 2:
        abort(400)
    losers = [i for i in ids if i != survivor]
    versions = {i: small_int(form.get(f"version_{i}") or "", MAX_ID) for i in ids}
    if any(v is None for v in versions.values()):
        abort(400)
    choices = {key[len("choice_"):]: value for key, value in form.items()
               if key.startswith("choice_")}
    rs, who = records(), actor()
    try:
        done = dedupe.merge(rs, who, entity, survivor, losers, choices=choices,
                            versions=versions)
    except ValidationFailed as exc:
        return _again(e, survivor, losers, choices, errors=exc.errors, error=exc.message,
                      status=422)
    except MergeRefused as exc:
        return _again(e, survivor, losers, choices, error=exc.message, status=422)
    except Conflict as exc:
        return _again(e, survivor, losers, {}, error=exc.message, status=409)
    flash(ngettext(
        "%(num)s record was merged into %(title)s; its related records now belong here.",
        "%(num)s records were merged into %(title)s; their related records now belong here.",
        len(done.merged), title=record_title(e, done.survivor)), "success")
    return redirect(detail_url(entity, survivor), 303)


def _again(e: EntityDef, survivor: int, losers: list[int], choices: Mapping[str, str], *,
           errors: Mapping[str, Sequence[str]] | None = None, error: str | None = None,
           status: int) -> ResponseReturnValue:
    """The compare page again (as the records are now), with what went wrong."""
    p = dedupe.plan(records(), actor(), e.name, survivor, losers)
    ids = {int(r["id"]) for r in p.records}
    chosen = {k: int(v) for k, v in choices.items()
              if k in p.defaults and str(v).isdigit() and int(v) in ids}
    return _compare_page(e, p, chosen=chosen, errors=errors, error=error, status=status)


@bp.post("/duplicates/<entity>/dismiss")
@login_required
def dismiss(entity: str) -> ResponseReturnValue:
    _entity(entity)
    ids = _ids(request.values.getlist("ids"))
    made = dedupe.dismiss(records(), actor(), entity, ids)
    flash(ngettext("Marked as not duplicates (%(num)s pair).",
                   "Marked as not duplicates (%(num)s pairs).", made) if made
          else _("These records were already marked as not duplicates."), "success")
    target = safe_next(request.values.get("next")) or f"/duplicates/?entity={entity}"
    return redirect(target, 303)


# --- hooks and template globals ---------------------------------------------------------------
@hookimpl
def crm_record_actions(entity: str, record: dict[str, Any]) -> list[RecordAction] | None:
    """"Merge duplicates…" and "Not duplicates" on a record some rule finds duplicates of
    (for users who may merge it)."""
    meta = state().meta
    if meta is None or not rules_of(meta, entity) or record.get("deleted_at") is not None:
        return None
    rs = records()
    who = actor()
    if not rs.access(who).allows(entity, "merge"):
        return None
    others = dedupe.duplicates_of(rs, who, entity, record)[:MAX_LOSERS]
    if not others:
        return None
    ids = [int(record["id"]), *others]
    back = urlencode([("ids", i) for i in ids] + [("next", detail_url(entity, ids[0]))])
    return [
        RecordAction("merge-duplicates", ngettext(
            "Merge duplicates… (%(num)s)", "Merge duplicates… (%(num)s)", len(others)),
            compare_url(entity, ids), style="outline-warning"),
        RecordAction("not-duplicates", _("Not duplicates"),
                     f"/duplicates/{entity}/dismiss?{back}", method="post",
                     confirm=_("Stop offering these records as duplicates of this one?")),
    ]


@bp.app_template_global()
def may_merge_any() -> bool:
    """For the user menu, which every page shows (also the "no config yet" page)."""
    return state().models is not None and bool(dedupe.mergeable(records(), actor()))


@bp.app_template_global()
def merged_into(entity: str, rows: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """Deleted record id -> {"id", "title"} of the record it was merged into, for the recycle
    bin and a deleted record's page."""
    rs = records()
    with rs.engine.connect() as conn:
        return dedupe.merged_into(conn, entity, [r for r in rows if r.get("deleted_at")])
