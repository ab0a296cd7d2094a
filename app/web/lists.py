"""List pages: `/<entity>/` with columns, quick search, filters per field type, sort, keyset
pages and counts; saved views (mine, and shared ones from YAML); bulk edit and bulk delete.

Every part of a list's state is in its query string (see
`app.records.queryparams.from_params`), so a list can be bookmarked, shared and saved as a
view. Exports (`app.web.export`) are registered under this blueprint and read the same query
string.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app.i18n import N_, _, get_locale, ngettext
from app.meta.listconf import fields_of, sortable, value_field
from app.meta.types import EntityDef, FieldDef, label_text
from app.model.system import list_views, users
from app.records import RecordError, ValidationFailed
from app.records.archived import archived_ids
from app.records.query import (
    PAGE_SIZES,
    ListQuery,
    Page,
    QueryError,
    check,
    default_columns,
    run,
)
from app.records.queryparams import from_params, to_params, view_params
from app.textnum import small_int
from app.web import export
from app.web.baseform import CrmForm
from app.web.state import actor, entity_or_404, records, state

bp = Blueprint("lists", __name__)
bp.register_blueprint(export.bp)

#: query-string keys that are not part of a saved view
TRANSIENT = ("after", "before", "view", "saved")
RANGE_KINDS = {"integer": "number", "decimal": "number", "currency": "number",
               "percent": "number", "date": "date", "datetime": "date", "time": "time"}
TEXT_TYPES = {"string", "text", "rich_text", "email", "phone", "url", "autonumber", "tags"}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: at most this many records in one bulk edit or delete
BULK_LIMIT = 1000


@dataclass
class Widget:
    """One input group of the filter panel."""

    field: FieldDef
    kind: str  # range, choices, lookup, user, boolean, text
    #: (param key, current value) of each input; range: (min key, max key)
    keys: list[str]
    values: dict[str, list[str]]
    input_type: str = "text"
    choices: list[tuple[str, str, str | None]] = dataclasses.field(default_factory=list)
    target: str = ""
    title: str = ""

    def value(self, key: str) -> str:
        return self.values.get(key, [""])[0] if self.values.get(key) else ""

    def typed(self, key: str) -> str:
        """The input type for a key's value: a date input only holds YYYY-MM-DD."""
        value = self.value(key)
        if self.input_type == "date" and value and not ISO_DATE.fullmatch(value):
            return "text"
        if self.input_type == "number":
            return "text"  # accepts ¥1,000 and 12.5%
        return self.input_type


def _args() -> dict[str, list[str]]:
    return request.args.to_dict(flat=False)


def _expanded(e: EntityDef, args: dict[str, list[str]]) -> dict[str, list[str]]:
    """`?view=<name>` alone (a bookmark) stands for that shared view's whole query string."""
    name = (args.get("view") or [""])[0]
    if not name or set(args) - {"view", "size"}:
        return args
    view = next((v for v in e.views if v.name == name), None)
    if view is None:
        return args
    out = _multi(view_params(view))
    out.update({k: v for k, v in args.items() if k == "size"})
    out["view"] = [name]
    return out


def _multi(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def _me() -> int:
    return int(current_user.id)


def _query(e: EntityDef, args: dict[str, list[str]]) -> ListQuery:
    return from_params(records(), e, args, me=_me())


def list_url(entity: str, pairs: Sequence[tuple[str, str]]) -> str:
    query = urlencode(list(pairs))
    return f"/{entity}/" + (f"?{query}" if query else "")


@bp.route("/<entity>/")
@login_required
def index(entity: str) -> ResponseReturnValue:
    e = entity_or_404(entity)
    args = _expanded(e, _args())
    page: Page | None = None
    error = None
    try:
        query = _query(e, args)
        page = run(records(), entity, query)
    except QueryError as exc:
        error = exc.message  # shown above the filters, which keep what was typed
        query = ListQuery(search=(args.get("q") or [""])[0], me=_me())
    status = 400 if error else 200
    return render_template(
        "lists/list.html", e=e, page=page, error=error, query=query, args=args,
        ctx=_context(e, query, args, page)), status


def _context(e: EntityDef, query: ListQuery, args: dict[str, list[str]], page: Page | None
             ) -> dict[str, Any]:
    """What the list template needs besides the page: links, widgets, views, bulk fields."""
    base = to_params(query)
    current = base + [(k, v) for k in ("view", "saved") for v in args.get(k, [])]

    def link(**changes: str | None) -> str:
        pairs = [(k, v) for k, v in current if k not in changes]
        pairs += [(k, v) for k, v in changes.items() if v is not None]
        return list_url(e.name, pairs)

    chosen = list(query.columns or default_columns(e, records().registry))
    known = fields_of(e)
    reg = records().registry
    widgets = [w for f in known.values() if (w := _widget(e, f, args)) is not None]
    in_panel = {k for w in widgets for k in w.keys}
    return {
        "count_label": ngettext("%(num)s record", "%(num)s records", page.count,
                                num=page.count_text) if page else "",
        "widgets": widgets,
        "hidden_filters": [(k, v) for k, v in to_params(query)
                           if k.startswith("f.") and k not in in_panel],
        "link": link,
        "params": urlencode(base),
        "export_query": urlencode(base),
        "current_url": link(),
        "sort_name": (page.sort if page else "").removeprefix("-"),
        "sort_desc": (page.sort if page else "").startswith("-"),
        "chips": _chips(e, query),
        "all_columns": [f for f in known.values() if not f.hidden],
        "chosen": chosen,
        # lookups sort by id, which means nothing to people: no sort link for them
        "sortable": {n for n, f in known.items() if sortable(f, reg)
                     and f.type not in ("lookup", "master_detail", "user")},
        "numeric": {n for n, f in known.items()
                    if value_field(f, reg)[1].type in ("integer", "decimal", "currency",
                                                       "percent")},
        "page_sizes": sorted({*PAGE_SIZES, query.page_size}),
        "views": _views(e),
        "active_view": (args.get("view") or args.get("saved") or [""])[0],
        "bulk_fields": bulk_fields(e),
        "has_board": any(f.type == "picklist" for f in e),
        "title_field": e.title if e.title in chosen else (chosen[0] if chosen else None),
        "mine": query.owner_id is not None,
        "archived": query.include_archived,
        "archived_ids": archived_ids(records(), e.name, [int(r["id"]) for r in page.rows])
        if page and query.include_archived else set(),
    }


def bulk_fields(e: EntityDef) -> list[FieldDef]:
    """The fields "Edit selected" may change: stored, not files, and neither hidden from nor
    read-only for the user (`e` is the entity as they see it)."""
    return [f for f in records().spec(e.name).writable if f.name in e.fields
            and not e.fields[f.name].read_only and not f.read_only and f.type != "file"]


def _widget(e: EntityDef, f: FieldDef, args: Mapping[str, list[str]]) -> Widget | None:
    """The filter panel's input for a field, by its type (None: not in the panel)."""
    reg = records().registry
    if f.hidden:
        return None
    ops = reg.get(f.type).filter_ops_of(f)
    kind = value_field(f, reg)[1].type

    def make(wkind: str, ops_: Sequence[str], **kw: Any) -> Widget:
        keys = [f"f.{f.name}.{op}" for op in ops_]
        return Widget(f, wkind, keys, {k: list(args.get(k, [])) for k in keys}, **kw)

    if kind in RANGE_KINDS and "gte" in ops:
        return make("range", ("gte", "lte"), input_type=RANGE_KINDS[kind])
    if kind in ("picklist", "multi_picklist"):
        op = "in" if "in" in ops else "contains"
        choices = [(c.value, label_text(c.label, get_locale(), c.value), c.color)
                   for c in value_field(f, reg)[1].choices]
        return make("choices", (op,), choices=choices)
    if kind in ("lookup", "master_detail") and "eq" in ops:
        w = make("lookup", ("eq",), target=str(f.opt("to")))
        chosen = w.values[w.keys[0]]
        picked = small_int(chosen[0]) if chosen else None
        if picked is not None:
            w.title = _readable_title(w.target, picked, "")
        return w
    if kind == "user" and "eq" in ops:
        return make("user", ("eq",), choices=_user_choices())
    if kind == "boolean":
        return make("boolean", ("eq",))
    if kind in TEXT_TYPES and "contains" in ops:
        return make("text", ("contains",))
    return None


def _user_choices() -> list[tuple[str, str, str | None]]:
    stmt = (sa.select(users.c.id, users.c.full_name, users.c.username)
            .where(users.c.active.is_(True)).order_by(users.c.username).limit(200))
    with state().ctx.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [("me", _("Me"), None)] + [(str(r.id), r.full_name or r.username, None)
                                       for r in rows]


def _chips(e: EntityDef, query: ListQuery) -> list[tuple[str, str]]:
    """(text, link without it) for each active filter, so any filter can be removed."""
    known = fields_of(e)
    out = []
    params = to_params(query)
    for flt in query.filters:
        f = known.get(flt.field)
        name = f.label_for(get_locale()) if f else flt.field
        shown = ", ".join(_chip_value(f, v) if f else str(v) for v in flt.values)
        text = f"{name} {_(OP_WORDS.get(flt.op, flt.op))} {shown}"
        key = f"f.{flt.field}.{flt.op}"
        out.append((text.strip(), list_url(e.name, [(k, v) for k, v in params if k != key])))
    if query.search:
        out.append((f"“{query.search}”", list_url(e.name, [(k, v) for k, v in params
                                                           if k != "q"])))
    if query.owner_id is not None:
        out.append((_("Mine only"), list_url(e.name, [(k, v) for k, v in params
                                                      if k != "owner"])))
    if query.include_archived and current_user.is_admin:
        out.append((_("Archived records included"),
                    list_url(e.name, [(k, v) for k, v in params if k != "archived"])))
    return out


def _chip_value(f: FieldDef, raw: Any) -> str:
    """A filter value as people know it: a choice's label, a record's or user's name."""
    text = str(raw).strip()
    kind = value_field(f, records().registry)[1]
    if kind.type in ("picklist", "multi_picklist"):
        return next((label_text(c.label, get_locale(), c.value) for c in kind.choices
                     if c.value == text), text)
    if text.lower() == "me" and kind.type == "user":
        return _("me")
    number = small_int(text)
    if number is not None and kind.type in ("lookup", "master_detail"):
        return _readable_title(str(f.opt("to")), number, text)
    if text.isdecimal() and kind.type == "user":
        return reference_names([int(text)]).get(int(text), text)
    return text


def _readable_title(entity: str, record_id: int, default: str) -> str:
    """The title of a record named by a filter, when the user may read it (else `default`:
    a crafted filter learns no title)."""
    if not records().permits(entity, record_id, "read"):
        return default
    return records().titles(entity, [record_id]).get(record_id, default)


def reference_names(ids: Sequence[int]) -> dict[int, str]:
    stmt = sa.select(users.c.id, users.c.full_name, users.c.username).where(
        users.c.id.in_(list(ids)))
    with state().ctx.engine.connect() as conn:
        return {r.id: r.full_name or r.username for r in conn.execute(stmt)}


OP_WORDS = {"eq": N_("is"), "ne": N_("is not"), "lt": N_("before / below"),
            "lte": N_("at most"), "gt": N_("after / above"), "gte": N_("at least"),
            "between": N_("between"), "contains": N_("contains"),
            "starts_with": N_("starts with"), "in": N_("is one of"),
            "not_in": N_("is none of"), "empty": N_("is empty"), "not_empty": N_("is not empty")}


# --- saved views ------------------------------------------------------------------------------
@dataclass
class SavedView:
    key: str  # YAML name, or the id of a saved one
    label: str
    url: str
    shared: bool
    deletable: bool
    id: int | None = None


def _views(e: EntityDef) -> list[SavedView]:
    out = [SavedView(v.name, v.label_for(get_locale()),
                     list_url(e.name, [*view_params(v), ("view", v.name)]), True, False)
           for v in e.views]
    stmt = (sa.select(list_views).where(list_views.c.entity == e.name, sa.or_(
        list_views.c.user_id == _me(), list_views.c.user_id.is_(None)))
        .order_by(list_views.c.user_id.is_(None).desc(), list_views.c.name))
    with state().ctx.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    for r in rows:
        pairs = [(str(k), str(v)) for k, v in r.params or []]
        mine = r.user_id == _me()
        out.append(SavedView(str(r.id), r.name,
                             list_url(e.name, [*pairs, ("saved", str(r.id))]),
                             r.user_id is None, mine or current_user.is_admin, r.id))
    return out


@bp.route("/<entity>/views", methods=["POST"])
@login_required
def save_view(entity: str) -> ResponseReturnValue:
    e = entity_or_404(entity)
    name = (request.form.get("name") or "").strip()
    pairs = [(k, v) for k, v in parse_qsl(request.form.get("params") or "")
             if k not in TRANSIENT]
    back = list_url(entity, pairs)
    if not name or len(name) > 120:
        flash(_("Give the view a name of at most 120 characters."), "danger")
        return redirect(back)
    try:
        check(records(), entity, _query(e, _multi(pairs)))
    except QueryError as exc:
        flash(exc.message, "danger")
        return redirect(back)
    shared = bool(request.form.get("shared")) and current_user.is_admin
    owner = None if shared else _me()
    with state().ctx.engine.begin() as conn:
        mine = list_views.c.user_id.is_(None) if owner is None else \
            list_views.c.user_id == owner
        found = conn.execute(sa.select(list_views.c.id).where(
            mine, list_views.c.entity == entity, list_views.c.name == name)).first()
        if found is not None:
            conn.execute(list_views.update().where(list_views.c.id == found.id)
                         .values(params=[list(p) for p in pairs]))
            view_id = found.id
        else:
            view_id = conn.execute(list_views.insert().values(
                user_id=owner, entity=entity, name=name, params=[list(p) for p in pairs])
                .returning(list_views.c.id)).scalar_one()
    flash(_("The view '%(name)s' was saved.", name=name), "success")
    return redirect(list_url(entity, [*pairs, ("saved", str(view_id))]))


@bp.route("/<entity>/views/<int:view_id>/delete", methods=["POST"])
@login_required
def delete_view(entity: str, view_id: int) -> ResponseReturnValue:
    entity_or_404(entity)
    with state().ctx.engine.begin() as conn:
        row = conn.execute(sa.select(list_views).where(
            list_views.c.id == view_id, list_views.c.entity == entity)).first()
        allowed = row is not None and (row.user_id == _me() or (
            row.user_id is None and current_user.is_admin))
        if row is None or not allowed:
            abort(404)
        conn.execute(list_views.delete().where(list_views.c.id == view_id))
    flash(_("The view '%(name)s' was deleted.", name=row.name), "success")
    return redirect(list_url(entity, []))


# --- bulk edit and delete ---------------------------------------------------------------------
def _ids() -> list[int]:
    raw = request.form.getlist("ids")
    try:
        ids = sorted({int(i) for i in raw})
    except ValueError:
        abort(400)
    if len(ids) > BULK_LIMIT:
        abort(400)
    return ids


def _back(entity: str) -> str:
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if not parts.netloc and not parts.scheme and target.startswith(f"/{entity}/"):
        return target
    return list_url(entity, [])


def _bulk_form(f: FieldDef) -> CrmForm:
    unbound = records().registry.get(f.type).form_field(f, get_locale())

    class BulkForm(CrmForm):
        value = unbound

    return BulkForm()


def _selection(entity: str) -> tuple[EntityDef, list[int], str]:
    """The entity, the ids ticked on the list page and the list to go back to; with no ids, a
    message asks the user to select some."""
    e = entity_or_404(entity)
    ids = _ids()
    if not ids:
        flash(_("Select at least one record first."), "warning")
    return e, ids, _back(entity)


def _titles(entity: str, ids: list[int]) -> dict[int, str]:
    """Titles of the records among `ids` the user may see (a crafted form learns nothing about
    the others, not even their titles: the service refuses them by id)."""
    if not ids:
        return {}
    rec = records()
    table = rec.table(entity)
    stmt = sa.select(table.c.id).where(table.c.id.in_(ids), table.c.deleted_at.is_(None))
    where = rec.readable(entity)
    with rec.engine.connect() as conn:
        found = list(conn.execute(stmt if where is None else stmt.where(where)).scalars())
    return rec.titles(entity, found)


@bp.route("/<entity>/bulk/edit", methods=["POST"])
@login_required
def bulk_edit(entity: str) -> ResponseReturnValue:
    e, ids, back = _selection(entity)
    if not ids:
        return redirect(back)
    fields = {f.name: f for f in bulk_fields(e)}
    f = fields.get(request.form.get("field") or "")
    if f is None:
        flash(_("Choose a field to change."), "warning")
        return redirect(back)
    form = _bulk_form(f)
    titles = _titles(entity, ids)
    status = 200
    if request.form.get("apply") and form.validate_on_submit():
        try:
            done = records().bulk_update(entity, ids, {f.name: form["value"].data}, actor())
        except ValidationFailed as exc:
            form["value"].errors = [m for msgs in exc.errors.values() for m in msgs]
            status = 422
        except RecordError as exc:
            form["value"].errors = [exc.message]
            status = exc.status
        else:
            flash(ngettext("%(field)s was changed on %(num)s record.",
                           "%(field)s was changed on %(num)s records.", done,
                           field=f.label_for(get_locale())), "success")
            return redirect(back)
    elif request.form.get("apply"):
        status = 422
    return render_template("lists/bulk_edit.html", e=e, f=f, form=form, ids=ids,
                           titles=titles, back=back), status


@bp.route("/<entity>/bulk/delete", methods=["POST"])
@login_required
def bulk_delete(entity: str) -> ResponseReturnValue:
    e, ids, back = _selection(entity)
    if not ids:
        return redirect(back)
    titles = _titles(entity, ids)
    if request.form.get("confirm") == "yes":
        try:
            done = records().bulk_delete(entity, ids, actor())
        except RecordError as exc:
            flash(exc.message, "danger")
            return redirect(back)
        flash(ngettext("%(num)s record was moved to the recycle bin.",
                       "%(num)s records were moved to the recycle bin.", done), "success")
        return redirect(back)
    return render_template("lists/bulk_delete.html", e=e, ids=ids, titles=titles, back=back)
