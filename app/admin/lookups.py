"""Lookup fields of the back office: a search-as-you-type select (flask-admin's select2 ajax
widget, served from its own static files) whose value is a record id.

Loaders read through the records service (entity lookups) or `sys_user` (user fields, owners);
they never load a whole table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
import wtforms
from flask_admin.model.ajax import AjaxModelLoader
from flask_admin.model.widgets import AjaxSelect2Widget

from app.admin.common import Lazy
from app.i18n import _
from app.model.system import users
from app.textnum import small_int
from app.web.state import records, state

MAX_LIMIT = 50


class LookupField(wtforms.Field):
    """A record id picked by search; blank is None, anything but a whole number is refused
    beside the field. Whether the id exists is the records service's check."""

    widget = AjaxSelect2Widget()

    def __init__(self, label: Any = None, validators: Any = None, *,
                 loader: AjaxModelLoader, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.loader = loader
        self.allow_blank = True

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = str(valuelist[0]).strip() if valuelist else ""
        if raw in ("", "__None"):
            self.data = None
            return
        if not small_int(raw):
            self.data = None
            raise ValueError(_("Choose a record from the list."))
        self.data = int(raw)


def _limits(offset: int | None, limit: int | None) -> tuple[int, int]:
    return max(offset or 0, 0), min(max(limit or 10, 1), MAX_LIMIT)


def _as_id(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class RecordLoader(AjaxModelLoader):
    """Records of one entity by their title, through the records service."""

    def __init__(self, name: str, entity: str) -> None:
        super().__init__(name, {"placeholder": _placeholder(), "minimum_input_length": 0})
        self.entity = entity

    def format(self, model: Any) -> tuple[Any, str] | None:
        pk = _as_id(model)
        if pk is None:
            return None
        if isinstance(model, dict) and "title" in model:
            return pk, str(model["title"]) if model["title"] not in (None, "") else f"#{pk}"
        title = records().titles(self.entity, [pk]).get(pk, f"#{pk}")
        return pk, title

    def get_one(self, pk: Any) -> Any:
        key = _as_id(pk)
        return {"id": key} if key is not None else None

    def get_list(self, query: str, offset: int = 0, limit: int = 10) -> list[Any]:
        rec = records()
        table = rec.table(self.entity)
        title = rec.title_column(self.entity)
        start, size = _limits(offset, limit)
        stmt = sa.select(table.c.id, title.label("title")).where(table.c.deleted_at.is_(None))
        query = (query or "").replace("\x00", "").strip()  # PostgreSQL refuses NUL
        if query:
            stmt = stmt.where(sa.cast(title, sa.String).icontains(query, autoescape=True))
        stmt = stmt.order_by(title, table.c.id).limit(size).offset(start)
        with rec.engine.connect() as conn:
            return [{"id": r.id, "title": r.title} for r in conn.execute(stmt)]


class UserLoader(AjaxModelLoader):
    """Active users by username or full name."""

    def __init__(self, name: str) -> None:
        super().__init__(name, {"placeholder": _placeholder(), "minimum_input_length": 0})

    def format(self, model: Any) -> tuple[Any, str] | None:
        pk = _as_id(model)
        if pk is None:
            return None
        if isinstance(model, dict) and "title" in model:
            return pk, str(model["title"])
        return pk, user_names([pk]).get(pk, f"#{pk}")

    def get_one(self, pk: Any) -> Any:
        key = _as_id(pk)
        return {"id": key} if key is not None else None

    def get_list(self, query: str, offset: int = 0, limit: int = 10) -> list[Any]:
        start, size = _limits(offset, limit)
        stmt = sa.select(users.c.id, users.c.username, users.c.full_name) \
            .where(users.c.active.is_(True))
        word = (query or "").replace("\x00", "").strip()  # PostgreSQL refuses NUL
        if word:
            stmt = stmt.where(sa.or_(users.c.username.icontains(word, autoescape=True),
                                     users.c.full_name.icontains(word, autoescape=True)))
        stmt = stmt.order_by(users.c.username).limit(size).offset(start)
        with state().ctx.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [{"id": r.id, "title": _user_title(r.username, r.full_name)} for r in rows]


def _placeholder() -> Lazy:
    return Lazy(lambda: _("Type to search"))


def user_names(ids: Iterable[Any]) -> dict[int, str]:
    """User id -> `Full Name (username)`."""
    wanted = sorted({int(i) for i in ids if i is not None})
    if not wanted:
        return {}
    with state().ctx.engine.connect() as conn:
        rows = conn.execute(sa.select(users.c.id, users.c.username, users.c.full_name)
                            .where(users.c.id.in_(wanted))).all()
    return {r.id: _user_title(r.username, r.full_name) for r in rows}


def _user_title(username: str, full_name: str | None) -> str:
    return f"{full_name} ({username})" if full_name and full_name != username else username
