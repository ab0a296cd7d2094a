"""A list's state as a query string and back: what list pages, exports, the API, saved views
and report drill-downs put in their links (`q`, `cols`, `sort`, `size`, `after`, `before`,
`owner=me`, `archived=1`, `f.<field>.<op>`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, time
from typing import Any

from app.i18n import _
from app.meta.listconf import NO_VALUE_OPS
from app.meta.types import EntityDef
from app.records.query import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Filter,
    ListQuery,
    QueryError,
    resolve_columns,
)
from app.records.service import Records
from app.textnum import small_int


def from_params(records: Records, entity: EntityDef, args: Mapping[str, Sequence[str]], *,
                me: int | None = None) -> ListQuery:
    """A ListQuery from a list page's query string (`q`, `cols`, `sort`, `size`, `after`,
    `before`, `owner=me`, `f.<field>.<op>`); the entity's `list:` fills what is not given."""

    def one(key: str) -> str:
        values = args.get(key) or [""]
        return str(values[0]).strip()

    size_text = one("size")
    size = entity.list_view.page_size or DEFAULT_PAGE_SIZE
    if size_text:
        chosen = small_int(size_text, MAX_PAGE_SIZE)
        if not chosen:
            raise QueryError(_("The page size must be between 1 and %(max)s.",
                               max=MAX_PAGE_SIZE))
        size = chosen
    cols = tuple(c.strip() for v in args.get("cols") or () for c in str(v).split(",")
                 if c.strip())  # `cols=a,b` or one `cols` per column picker checkbox
    resolve_columns(records, entity, cols)
    filters = []
    for key, values in args.items():
        if not key.startswith("f."):
            continue
        rest = key[2:]  # `f.<field>.<op>`, or `f.<field>` for equality (links from boards)
        fname, op = (rest.rpartition(".")[0], rest.rpartition(".")[2]) if "." in rest \
            else (rest, "eq")
        given = [str(v) for v in values if str(v).strip() != ""]
        if not given:
            continue  # an empty input of the filter panel
        if op in NO_VALUE_OPS:
            given = []
        filters.append(Filter(fname, op, tuple(given)))
    owner = one("owner")
    if owner and owner != "me":
        raise QueryError(_("The owner filter takes only 'me'."))
    after, before = one("after"), one("before")
    return ListQuery(
        search=one("q")[:200], filters=tuple(filters), sort=one("sort") or None,
        page_size=size, cursor=before or after or None, backward=bool(before),
        owner_id=me if owner == "me" else None, me=me, columns=cols,
        include_archived=one("archived") == "1")


def to_params(query: ListQuery) -> list[tuple[str, str]]:
    """The query string of a query, without its cursor (for links and saved views)."""
    out: list[tuple[str, str]] = []
    if query.search:
        out.append(("q", query.search))
    if query.columns:
        out.append(("cols", ",".join(query.columns)))
    if query.sort:
        out.append(("sort", query.sort))
    out.append(("size", str(query.page_size)))
    if query.owner_id is not None:
        out.append(("owner", "me"))
    if query.include_archived:
        out.append(("archived", "1"))
    for flt in query.filters:
        key = f"f.{flt.field}.{flt.op}"
        if flt.op in NO_VALUE_OPS:
            out.append((key, "1"))
        else:
            out += [(key, param_text(v)) for v in flt.values]
    return out


def param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def view_params(view: Any) -> list[tuple[str, str]]:
    """The query string of a shared view from YAML (`ViewDef`)."""
    filters = []
    for fname, ops in view.filters.items():
        for op, value in ops.items():
            values = value if isinstance(value, list | tuple) else [value]
            filters.append(Filter(fname, str(op), tuple(values)))
    query = ListQuery(search=view.search or "", filters=tuple(filters), sort=view.sort,
                      owner_id=0 if view.mine else None, columns=tuple(view.columns))
    return to_params(query)
