"""What every back-office view shares: admin-only access, CSRF-carrying forms, text that follows
the user's language, and a list view over a SQLAlchemy Core SELECT (offset paging, sorting,
search and filters) that the entity and system views build on.

Views are created once per Flask app (one per config version) and serve many requests and
threads: nothing request-specific is kept on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from babel.support import NullTranslations, Translations
from flask import abort, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_admin.form import SecureForm
from flask_admin.model import BaseModelView
from flask_admin.model.filters import BaseFilter
from flask_login import current_user
from markupsafe import Markup, escape
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import HiddenInput

from app.i18n import _, format_datetime, get_locale
from app.web.baseform import LocalizedMeta

PAGE_SIZES = (20, 50, 100)


class Lazy:
    """Text computed when it is shown, so labels made once per app follow each request's
    language (flask-admin keeps view names, column labels and filter names for the app's life)."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], str]) -> None:
        self._make = make

    def __str__(self) -> str:
        return str(self._make())

    def __html__(self) -> str:
        return str(escape(self._make()))

    def __repr__(self) -> str:
        return f"Lazy({self._make()!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def label_of(labels: Any, fallback: str) -> Lazy:
    """A YAML label mapping ({en: ..., zh: ...}) in the language of the request."""
    from app.meta.types import label_text

    return Lazy(lambda: label_text(labels, get_locale(), fallback))


# --- flask-admin's own texts ---------------------------------------------------------------
@lru_cache(maxsize=4)
def _admin_catalog(locale: str) -> NullTranslations:
    """flask-admin's shipped catalogue for the locale (its templates say 'List', 'Create'...)."""
    if locale != "zh_CN":
        return NullTranslations()
    import flask_admin.translations

    folder = Path(next(iter(flask_admin.translations.__path__)))
    return Translations.load(str(folder), ["zh_Hans_CN"], domain="admin")


def admin_gettext(text: str, **variables: Any) -> str:
    out = _admin_catalog(get_locale()).gettext(str(text))
    return out % variables if variables else out


def admin_ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    out = _admin_catalog(get_locale()).ngettext(singular, plural, num)
    return out % {"num": num, **variables}


def translate_flashes() -> None:
    """Messages flask-admin flashed in English, in the user's language (ours already are)."""
    if get_locale() == "en" or not session.get("_flashes"):
        return
    session["_flashes"] = [(cat, admin_gettext(msg)) for cat, msg in session["_flashes"]]


# --- forms -----------------------------------------------------------------------------------
class AdminForm(SecureForm):
    """flask-admin's SecureForm with Flask-WTF's CSRF token instead of its session HMAC: the app's
    CSRFProtect checks every POST, so both must agree on one token (`csrf_token`)."""

    class Meta(LocalizedMeta):
        pass

    def hidden_tag(self) -> Markup:
        """The hidden fields (CSRF token, record version); flask-admin's templates call this
        instead of adding a second token."""
        return Markup("\n").join(Markup(str(f)) for f in self
                                  if isinstance(f.widget, HiddenInput))


class ServiceRequired(InputRequired):
    """Marks a field required (the asterisk and the HTML attribute) but lets an empty value
    through: the records service decides, with defaults and conditions, and says why."""

    def __call__(self, form: Any, field: Any) -> None:
        Optional()(form, field)


# --- access ----------------------------------------------------------------------------------
class AdminAccess:
    """Admin role only. Anonymous visitors go to the sign-in page, others get a 403 page."""

    def is_accessible(self) -> bool:
        user: Any = current_user
        return bool(user.is_authenticated and "admin" in (user.roles or []))

    def inaccessible_callback(self, name: str, **kwargs: Any) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(403)

    def render(self, template: str, **kwargs: Any) -> str:
        translate_flashes()
        args: dict[str, Any] = self._template_args  # type: ignore[attr-defined]
        args.update(_gettext=admin_gettext, _ngettext=admin_ngettext)
        out: str = super().render(template, **kwargs)  # type: ignore[misc]
        return out

    def _run_view(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._run_view(fn, *args, **kwargs)  # type: ignore[misc]
        finally:
            translate_flashes()


# --- rows and filters ------------------------------------------------------------------------
class Row(dict[str, Any]):
    """A record or system row: a dict whose keys also read as attributes (flask-admin and
    WTForms read model attributes). `titles` holds names of linked records by column."""

    titles: dict[str, dict[int, str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.titles = {}

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class EqualsFilter(BaseFilter):
    """`column = value`, with a drop-down when `options` are given (other values are refused)."""

    def __init__(self, column: str, name: Lazy, options: Sequence[tuple[str, Any]] | None = None,
                 *, convert: Callable[[str], Any] = str) -> None:
        super().__init__(name, list(options) if options else None)
        self.column = column
        self.convert = convert

    def clean(self, value: Any) -> Any:
        text = str(value).strip()
        if self.options and text not in {str(k) for k, _v in self.options}:
            raise ValueError(text)
        try:
            return self.convert(text)
        except (TypeError, ValueError, ArithmeticError):
            raise ValueError(text) from None

    def apply(self, query: Any, value: Any) -> Any:
        return query.where(query.selected_columns[self.column] == self.clean(value))

    def operation(self) -> Any:
        return Lazy(lambda: _("equals"))


def yes_no() -> list[tuple[str, Lazy]]:
    return [("1", Lazy(lambda: _("Yes"))), ("0", Lazy(lambda: _("No")))]


def as_bool(text: str) -> bool:
    return text == "1"


def when(value: Any) -> str:
    return format_datetime(value, get_locale()) if value is not None else ""


# --- list views over a SELECT ----------------------------------------------------------------
class SelectView(AdminAccess, BaseModelView):
    """A flask-admin model view whose rows come from a Core SELECT (`query`), read with
    `engine()`. Subclasses say which SELECT, which columns search looks in, and how to write."""

    form_base_class = AdminForm
    can_set_page_size = True
    page_size = PAGE_SIZES[0]
    page_size_options = PAGE_SIZES
    #: labelled columns of `query()` searched by the search box
    search_columns: Sequence[str] = ()
    #: the order when the user picked none: (column, descending)
    default_order: tuple[str, bool] = ("id", True)

    # what subclasses provide
    def query(self) -> sa.Select[Any]:
        raise NotImplementedError

    def engine(self) -> sa.Engine:
        raise NotImplementedError

    def decorate(self, rows: list[Row]) -> None:
        """Add what rows need for display (titles of linked records) in a few queries."""

    # flask-admin's data API
    def get_pk_value(self, model: Any) -> Any:
        return model["id"]

    def init_search(self) -> bool:
        return bool(self.search_columns)

    def search_placeholder(self) -> str | None:
        return _("Search")

    def get_empty_list_message(self) -> str:
        return _("Nothing here yet.")

    def scaffold_sortable_columns(self) -> dict[Any, Any]:
        return {}

    def scaffold_filters(self, name: Any) -> list[BaseFilter] | None:
        return None

    def get_list(self, page: int | None, sort_field: Any, sort_desc: bool, search: str | None,
                 filters: Any, page_size: int | None = None) -> tuple[int, list[Any]]:
        stmt = self.query()
        cols = stmt.selected_columns
        for idx, _name, value in filters or ():
            flt = (self._filters or [])[idx]
            stmt = flt.apply(stmt, value)
        words = (search or "").replace("\x00", "").split()[:10]  # PostgreSQL refuses NUL
        if words and self.search_columns:
            for word in words:
                stmt = stmt.where(sa.or_(*[
                    sa.cast(cols[c], sa.String).icontains(word, autoescape=True)
                    for c in self.search_columns]))
        with self.engine().connect() as conn:
            count = int(conn.execute(sa.select(sa.func.count())
                                     .select_from(stmt.subquery())).scalar_one())
            sortable = sort_field in self._sortable_columns and sort_field in cols
            column, desc = (sort_field, bool(sort_desc)) if sortable else self.default_order
            order = cols[column].desc() if desc else cols[column].asc()
            stmt = stmt.order_by(order, cols["id"].desc() if desc else cols["id"].asc())
            size = page_size or self.page_size
            stmt = stmt.limit(size).offset(max(page or 0, 0) * size)
            rows = [Row(r._mapping) for r in conn.execute(stmt)]
        self.decorate(rows)
        return count, rows

    def get_one(self, id: Any) -> Any:
        try:
            pk = int(id)
        except (TypeError, ValueError):
            return None
        stmt = self.query()
        with self.engine().connect() as conn:
            row = conn.execute(stmt.where(stmt.selected_columns["id"] == pk)).first()
        if row is None:
            return None
        out = Row(row._mapping)
        self.decorate([out])
        return out


def bullet_list(items: Sequence[str | Markup]) -> Markup:
    if not items:
        return Markup("")
    inner = Markup("").join(Markup("<li>{}</li>").format(i) for i in items)
    return Markup('<ul class="list-unstyled mb-0 small">{}</ul>').format(inner)
