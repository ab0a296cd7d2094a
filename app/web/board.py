"""Kanban boards: `/<entity>/board` shows one column per choice of a picklist (the `stage`, else
`status`, else the first picklist; `?by=` picks another), with a count and a summed money field
per column, and cards that move between columns by drag and drop or a "move to" select.

Column counts and sums are one GROUP BY query; each column then loads at most `CARD_LIMIT` cards,
so a board stays quick on a million rows. A move is `records().update(...)` with the version the
card was read at: the YAML rules and the stage machine of the field (workflows/*.yaml) decide,
and a refused move comes back as JSON the page uses to snap the card back with the reason. Under
a stage machine each card carries the columns its user may move it to (`data-moves`), so the
page greys out the others while it is dragged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import login_required
from markupsafe import Markup

from app.fields import registry
from app.i18n import _
from app.meta.types import EntityDef, FieldDef, label_text
from app.model.system import users
from app.records import Conflict, NotFound, RecordError, ValidationFailed
from app.records.archived import excluded
from app.records.search import contains
from app.textnum import small_int
from app.web import format as fmt
from app.web.state import actor, entity_or_404, records, state
from app.web.templating import show

bp = Blueprint("board", __name__)

#: the most cards shown in one column (the rest are one click away in the list)
CARD_LIMIT = 50
#: picklists a board groups by when `?by=` is not given, in order of preference
DEFAULT_BY = ("stage", "status")
#: value kinds a column can sum
SUM_KINDS = ("currency", "decimal", "integer")
#: the key of the column of records with no value
EMPTY = ""
#: field types shown on cards when nothing better is found
CARD_TYPES = ("picklist", "string", "user", "integer", "decimal", "percent", "email", "phone")
NO_COLOR = "#64748b"
#: the largest id or version an SQL INTEGER holds (larger input is refused, not sent to SQL)
MAX_INT = 2**31 - 1


@dataclass(frozen=True)
class BoardSpec:
    """One board: the entity, the picklist it groups by, the field it sums, its filters."""

    entity: EntityDef
    by: FieldDef
    total: FieldDef | None
    q: str = ""
    mine: bool = False


@dataclass
class Card:
    id: int
    version: int
    title: str
    value: str
    owner: str
    fields: list[tuple[str, str | Markup]] = field(default_factory=list)
    #: the columns a stage machine lets this user move the card to (None: no machine)
    moves: tuple[str, ...] | None = None


@dataclass
class Column:
    value: str
    label: str
    color: str
    count: int = 0
    total: Any = None
    cards: list[Card] = field(default_factory=list)


# --- choosing what a board shows -------------------------------------------------------------
def picklists(e: EntityDef) -> list[FieldDef]:
    columns = records().spec(e.name).columns
    return [f for f in e if f.type == "picklist" and not f.hidden and f.name in columns]


def summable(e: EntityDef) -> list[FieldDef]:
    columns = records().spec(e.name).columns
    formulas = records().models.formulas.get(e.name, {})
    return [f for f in e if not f.hidden and fmt.value_kind(f, records().meta) in SUM_KINDS
            and (f.name in columns or f.name in formulas)]


def resolve(e: EntityDef, args: Mapping[str, Any]) -> BoardSpec:
    """The board `args` (`by`, `sum`, `q`, `owner`) ask for; RecordError (400) names a bad
    parameter, NotFound (404) an entity without a picklist."""
    lists = picklists(e)
    if not lists:
        raise NotFound(_("%(entity)s has no picklist field to make a board of.",
                         entity=e.label_for(_locale())))
    by_name = str(args.get("by") or "")
    if by_name:
        by = next((f for f in lists if f.name == by_name), None)
        if by is None:
            raise RecordError(_("'%(name)s' is not a picklist field of %(entity)s.",
                                name=by_name, entity=e.label_for(_locale())))
    else:
        by = next((f for n in DEFAULT_BY for f in lists if f.name == n), lists[0])
    sums = summable(e)
    sum_name = args.get("sum")
    if sum_name in (None, ""):
        total = next((f for f in sums if fmt.value_kind(f) == "currency"), None)
    elif sum_name == "-":
        total = None
    else:
        total = next((f for f in sums if f.name == sum_name), None)
        if total is None:
            raise RecordError(_("'%(name)s' is not a number field of %(entity)s to sum.",
                                name=str(sum_name), entity=e.label_for(_locale())))
    owner = str(args.get("owner") or "")
    if owner not in ("", "me", "all"):
        raise RecordError(_("owner must be 'me' or 'all'."))
    q = str(args.get("q") or "").replace("\x00", "").strip()[:200]
    return BoardSpec(e, by, total, q, owner == "me")


# --- queries ---------------------------------------------------------------------------------
def _sql(e: EntityDef, f: FieldDef) -> sa.ColumnElement[Any]:
    rec = records()
    formula = rec.models.formulas.get(e.name, {}).get(f.name)
    if formula is not None:
        return formula
    return rec.table(e.name).c[rec.spec(e.name).columns[f.name]]


def _where(spec: BoardSpec) -> list[sa.ColumnElement[bool]]:
    table = records().table(spec.entity.name)
    out: list[sa.ColumnElement[bool]] = [table.c.deleted_at.is_(None),
                                         *excluded(records(), spec.entity.name)]
    access = records().readable(spec.entity.name)
    if access is not None:
        out.append(access)
    if spec.q:
        out.append(contains(records().title_column(spec.entity.name), spec.q))
    if spec.mine:
        out.append(table.c.owner_id == actor().id)
    return out


def column_stats(spec: BoardSpec, values: Sequence[str] | None = None
                 ) -> dict[str, tuple[int, Any]]:
    """Column key -> (count, sum) in one GROUP BY query, for `values` only when given."""
    by = _sql(spec.entity, spec.by)
    cols: list[sa.ColumnElement[Any]] = [by, sa.func.count()]
    if spec.total is not None:
        cols.append(sa.func.sum(_sql(spec.entity, spec.total)))
    stmt = sa.select(*cols).select_from(records().table(spec.entity.name)).where(*_where(spec))
    if values is not None:
        real = [v for v in values if v != EMPTY]
        stmt = stmt.where(sa.or_(by.in_(real), by.is_(None)) if EMPTY in values else by.in_(real))
    with records().engine.connect() as conn:
        rows = conn.execute(stmt.group_by(by)).all()
    return {(row[0] if row[0] is not None else EMPTY):
            (int(row[1]), row[2] if spec.total is not None else None) for row in rows}


def load_board(spec: BoardSpec) -> list[Column]:
    e, by = spec.entity, spec.by
    stats = column_stats(spec)
    columns = [Column(c.value, label_text(c.label, _locale(), c.value), c.color or NO_COLOR)
               for c in by.choices]
    if stats.get(EMPTY, (0,))[0]:
        columns.append(Column(EMPTY, _("(no value)"), NO_COLOR))
    rec = records()
    table = rec.table(e.name)
    by_col = _sql(e, by)
    rows: list[dict[str, Any]] = []
    with rec.engine.connect() as conn:
        for col in columns:
            col.count, col.total = stats.get(col.value, (0, None))
            if not col.count:
                continue
            match = by_col.is_(None) if col.value == EMPTY else by_col == col.value
            stmt = (rec.select(e.name).where(*_where(spec), match)
                    .order_by(table.c.id.desc()).limit(CARD_LIMIT))
            rows += [rec.to_record(r) for r in conn.execute(stmt)]
    cards = {c.id: c for c in make_cards(spec, rows)}
    for row in rows:
        key = row[by.name] if row[by.name] is not None else EMPTY
        for col in columns:
            if col.value == key:
                col.cards.append(cards[row["id"]])
    return columns


def card_fields(spec: BoardSpec) -> list[FieldDef]:
    """Up to three fields a card shows: the summed field, the first lookup, the first date;
    else the first short fields."""
    e = spec.entity
    skip = {e.title, spec.by.name}
    usable = [f for f in e if not f.hidden and f.name not in skip]
    picked: list[FieldDef] = [spec.total] if spec.total is not None else []
    for kinds in (("lookup", "master_detail"), ("date", "datetime")):
        found = next((f for f in usable if f.type in kinds and f not in picked), None)
        if found is not None:
            picked.append(found)
    for f in usable:
        if len(picked) >= 3:
            break
        if f.type in CARD_TYPES and f not in picked:
            picked.append(f)
    return picked[:3]


def user_names(ids: Sequence[int]) -> dict[int, str]:
    wanted = sorted({int(i) for i in ids if i is not None})
    if not wanted:
        return {}
    with records().engine.connect() as conn:
        rows = conn.execute(sa.select(users.c.id, users.c.full_name, users.c.username)
                            .where(users.c.id.in_(wanted))).all()
    return {r.id: r.full_name or r.username for r in rows}


def make_cards(spec: BoardSpec, rows: list[dict[str, Any]]) -> list[Card]:
    e = spec.entity
    rec = records()
    shown = card_fields(spec)
    titles: dict[str, dict[int, str]] = {}
    people = user_names([r["owner_id"] for r in rows] + [
        r[f.name] for f in shown if f.type == "user" for r in rows])
    for f in shown:
        if f.type in ("lookup", "master_detail"):
            titles[f.name] = rec.titles(str(f.opt("to")), [r[f.name] for r in rows])
        elif f.type == "user":
            titles[f.name] = people
    title_of = rec.titles(e.name, [r["id"] for r in rows])
    cards = []
    for r in rows:
        values = [(f.label_for(_locale()), show(f, r.get(f.name), titles.get(f.name)))
                  for f in shown if r.get(f.name) not in (None, "")]
        cards.append(Card(int(r["id"]), int(r["version"]), title_of.get(r["id"], ""),
                          r[spec.by.name] if r[spec.by.name] is not None else EMPTY,
                          people.get(r["owner_id"], ""), values, _moves(spec, r)))
    return cards


def _moves(spec: BoardSpec, record: Mapping[str, Any]) -> tuple[str, ...] | None:
    """Where the stage machine of the board's field lets this user move `record` (None: no
    machine governs that field)."""
    from app.workflow.machine import allowed_moves

    found = allowed_moves(records(), spec.entity.name, record, actor(), spec.by.name)
    return None if found is None else found.to


def total_text(spec: BoardSpec, value: Any) -> str:
    if spec.total is None:
        return ""
    return fmt.display(spec.total, value if value is not None else Decimal(0),
                       currency=state().ctx.settings.currency, meta=records().meta)


# --- pages -----------------------------------------------------------------------------------
@bp.route("/<entity>/board")
@login_required
def board(entity: str) -> str:
    e = entity_or_404(entity)
    spec = resolve(e, request.args)
    columns = load_board(spec)
    more_links = {c.value: list_link(spec, c.value) for c in columns}
    return render_template("board/board.html", e=e, spec=spec, columns=columns,
                           picklists=picklists(e), sums=summable(e), more_links=more_links,
                           total_text=lambda v: total_text(spec, v))


def list_link(spec: BoardSpec, value: str) -> str:
    params = {f"f.{spec.by.name}": value}
    if spec.q:
        params["q"] = spec.q
    return f"/{spec.entity.name}/?{urlencode(params)}"


def _failure(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"ok": False, "error": message, **extra}), status


def _int(value: Any) -> int | None:
    """A whole number that fits an SQL integer, from JSON or form text; else None."""
    if isinstance(value, str):
        return small_int(value, MAX_INT)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if abs(value) <= MAX_INT else None


@bp.route("/<entity>/board/move", methods=["POST"])
@login_required
def move(entity: str) -> ResponseReturnValue:
    """Move a card: JSON {id, to, version[, by, sum, q, owner]} -> JSON; a plain form post
    (the no-script fallback of the "move to" select) -> back to the board with a message."""
    as_json = request.is_json
    payload = request.get_json(silent=True) if as_json else request.form.to_dict()
    if not isinstance(payload, dict):
        return _failure(400, _("Send a JSON object with id, to and version."))
    if entity not in records().meta.entities:
        return _failure(404, _("There is no entity '%(name)s'.", name=entity))
    if not records().access().allows(entity, "read"):
        return _failure(403, _("You may not see %(entities)s.",
                               entities=records().entity(entity).plural_for(_locale())))
    e = records().visible_entity(entity)  # hidden fields: no board, no sums by them
    try:
        spec = resolve(e, {k: payload.get(k) for k in ("by", "sum", "q", "owner")})
    except RecordError as exc:
        return _failure(exc.status, exc.message)
    result = _move(spec, payload)
    if as_json:
        return result
    body, status = result[0].get_json(), result[1]
    flash(body.get("message") if status == 200 else body["error"],
          "success" if status == 200 else "danger")
    args = {k: payload[k] for k in ("by", "sum", "q", "owner") if payload.get(k)}
    query = f"?{urlencode(args)}" if args else ""
    return redirect(url_for("board.board", entity=entity) + query)


def _move(spec: BoardSpec, payload: Mapping[str, Any]) -> tuple[Response, int]:
    e, by = spec.entity, spec.by
    record_id, version, to = _int(payload.get("id")), _int(payload.get("version")), \
        payload.get("to")
    if record_id is None:
        return _failure(400, _("The card's id is missing or not a number."))
    if version is None:
        return _failure(400, _("The card's version is missing or not a number."))
    choices = [c.value for c in by.choices]
    if not isinstance(to, str) or (to not in choices and to != EMPTY):
        return _failure(400, _("'%(value)s' is not a choice of %(field)s.",
                               value=str(to), field=by.label_for(_locale())))
    try:
        old = records().get(e.name, record_id)
        saved = records().update(e.name, record_id, {by.name: to or None}, actor(),
                                 version=version)
    except ValidationFailed as exc:
        return _failure(422, "; ".join(m for ms in exc.errors.values() for m in ms),
                        errors=exc.errors, edit=f"/{e.name}/{record_id}/edit")
    except Conflict as exc:
        return _failure(409, exc.message, record=_card_json(spec, exc.current))
    except RecordError as exc:
        return _failure(exc.status, exc.message)
    keys = [k if k is not None else EMPTY for k in (old[by.name], saved[by.name])]
    stats = column_stats(spec, keys)
    columns = {k: {"count": stats.get(k, (0, None))[0],
                   "total": total_text(spec, stats.get(k, (0, None))[1])} for k in keys}
    title = records().titles(e.name, [record_id]).get(record_id, "")
    message = _("%(title)s moved to %(column)s.", title=title,
                column=fmt.choice_label(by, to) if to else _("(no value)"))
    return jsonify({"ok": True, "record": _card_json(spec, saved), "columns": columns,
                    "message": message}), 200


def _card_json(spec: BoardSpec, record: Mapping[str, Any]) -> dict[str, Any]:
    by = spec.by
    value = record.get(by.name)
    out = {"id": record.get("id"), "version": record.get("version"),
           by.name: registry.get(by.type).to_json(by, value) if value is not None else None,
           "value": value if value is not None else EMPTY}
    if spec.total is not None and record.get(spec.total.name) is not None:
        out[spec.total.name] = total_text(spec, record[spec.total.name])
    moves = _moves(spec, record)
    if moves is not None:
        out["moves"] = list(moves)
    return out


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()
