"""One back-office view per entity of the live config, writing only through the records service.

flask-admin gives the list (paging, sorting, search, filters), the forms and the delete button;
every read goes through `records().select/get/titles` and every write through
`records().create/update/delete`, so validation, autonumbers, optimistic locking, the audit trail
and plugin hooks are the same as in the rest of the CRM. A refusal is flashed and shown beside
its field, and flask-admin shows the form again with nothing saved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
import wtforms
from flask import flash, request
from flask_admin.actions import action
from flask_admin.form import BaseForm
from flask_admin.helpers import get_form_data
from flask_admin.model.ajax import AjaxModelLoader
from markupsafe import Markup
from wtforms.fields.core import UnboundField
from wtforms.validators import InputRequired

from app.admin.common import (
    EqualsFilter,
    Lazy,
    Row,
    SelectView,
    ServiceRequired,
    as_bool,
    label_of,
    when,
    yes_no,
)
from app.admin.lookups import LookupField, RecordLoader, UserLoader, user_names
from app.fields import registry
from app.fields.base import FieldValueError
from app.i18n import _, get_locale, ngettext
from app.meta.types import EntityDef, FieldDef
from app.records import RECORD, Conflict, RecordError, ValidationFailed
from app.records.values import OWNER
from app.textnum import small_int
from app.web.state import actor, records
from app.web.templating import show

#: field types that are long or not shown in a list column
LONG_TYPES = frozenset({"text", "rich_text", "json", "file", "tags", "multi_picklist"})
LINK_TYPES = frozenset({"lookup", "master_detail", "user"})
#: how many field columns a list shows besides id, title and the last change
LIST_FIELDS = 5
SEARCH_TYPES = frozenset({"string", "email", "phone", "url", "autonumber"})
SYSTEM_LABELS = {
    "id": lambda: _("ID"),
    "owner_id": lambda: _("Owner"),
    "created_at": lambda: _("Created"),
    "updated_at": lambda: _("Last changed"),
    "version": lambda: _("Version"),
}


def _field_label(f: FieldDef) -> Lazy:
    return Lazy(lambda: f.label_for(get_locale()))


class EntityView(SelectView):
    """The back office of one entity: list, create, edit, details, delete (to the recycle bin)."""

    can_view_details = True
    details_modal = False

    def __init__(self, entity: EntityDef, category: Lazy) -> None:
        self.entity = entity
        self.types = {f.name: registry.get(f.type) for f in entity}
        self.stored = [f for f in entity if self.types[f.name].has_column]
        self.editable = [f for f in entity if self._editable(f)]
        self.column_labels = {**{k: Lazy(v) for k, v in SYSTEM_LABELS.items()},
                              **{f.name: _field_label(f) for f in entity}}
        self.column_list = self._list_columns_of(entity)
        self.column_details_list = ["id", *[f.name for f in entity if not f.hidden],
                                    "owner_id", "created_at", "updated_at", "version"]
        self.column_formatters = {name: _format_value for name in self.column_details_list}
        self.column_sortable_list = [c for c in self.column_list
                                     if c in SYSTEM_LABELS or self._sortable(c)]
        self.search_columns = self._search_columns_of(entity)
        self.column_filters = self._filters_of(entity)
        self.form_ajax_refs: dict[str, AjaxModelLoader] = {OWNER: UserLoader(OWNER)}
        for f in self.editable:
            if f.type == "user":
                self.form_ajax_refs[f.name] = UserLoader(f.name)
            elif f.type in LINK_TYPES:
                self.form_ajax_refs[f.name] = RecordLoader(f.name, str(f.opt("to")))
        self._forms: dict[tuple[str, bool], type[BaseForm]] = {}
        super().__init__(Row, name=Lazy(lambda: entity.plural_for(get_locale())),
                         category=category, endpoint=f"admin_{entity.name}",
                         url=f"/admin/records/{entity.name}")

    # --- what the list shows -----------------------------------------------------------------
    def _editable(self, f: FieldDef) -> bool:
        ftype = self.types[f.name]
        return (ftype.has_column and not ftype.computed and not f.read_only and not f.hidden
                and f.type != "file")

    def _sortable(self, name: str) -> bool:
        f = self.entity.fields.get(name)
        return f is not None and f.type not in LONG_TYPES

    def _list_columns_of(self, entity: EntityDef) -> list[str]:
        title = entity.title if entity.title in entity.fields else None
        rest = [f.name for f in entity if f.name != title and not f.hidden
                and f.type not in LONG_TYPES][:LIST_FIELDS]
        return ["id", *([title] if title else []), *rest, "updated_at"]

    def _search_columns_of(self, entity: EntityDef) -> list[str]:
        names = [f.name for f in self.stored if f.type in SEARCH_TYPES and not f.hidden]
        if entity.title in entity.fields and entity.title not in names:
            names.insert(0, str(entity.title))
        return names

    def _filters_of(self, entity: EntityDef) -> list[EqualsFilter]:
        out: list[EqualsFilter] = []
        for f in self.stored:
            if f.hidden:
                continue
            if f.type == "picklist":
                options = [(c.value, label_of(c.label, c.value)) for c in f.choices]
                out.append(EqualsFilter(f.name, _field_label(f), options))
            elif f.type == "boolean":
                out.append(EqualsFilter(f.name, _field_label(f), yes_no(), convert=as_bool))
        return out

    # --- reading through the records service -------------------------------------------------
    def engine(self) -> sa.Engine:
        return records().engine

    def query(self) -> sa.Select[Any]:
        rec = records()
        return rec.select(self.entity.name).where(
            rec.table(self.entity.name).c.deleted_at.is_(None))

    def decorate(self, rows: list[Row]) -> None:
        """Titles of linked records and names of users, one query per linked entity."""
        rec = records()
        wanted: dict[str, list[str]] = {"user": ["owner_id"]}
        for f in self.entity:
            if f.type in LINK_TYPES and f.name in self.types and self.types[f.name].has_column:
                target = "user" if f.type == "user" else str(f.opt("to"))
                wanted.setdefault(target, []).append(f.name)
        for target, keys in wanted.items():
            ids = [int(v) for v in {row.get(key) for row in rows for key in keys} if v]
            if target == "user":
                found = user_names(ids)
            elif target in rec.meta.entities:
                found = rec.titles(target, ids)
            else:
                found = {}
            for row in rows:
                for key in keys:
                    row.titles[key] = found

    # --- forms -------------------------------------------------------------------------------
    def scaffold_list_columns(self) -> list[str]:
        return list(self.column_list or [])

    def scaffold_form(self) -> type[BaseForm]:
        return self._form_class(creating=True)

    def _form_class(self, *, creating: bool) -> type[BaseForm]:
        """The form in the current language (built once per language and kind)."""
        key = (get_locale(), creating)
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = self._build_form(key[0], creating)
        return form

    def _build_form(self, locale: str, creating: bool) -> type[BaseForm]:
        attrs: dict[str, Any] = {}
        for f in self.editable:
            attrs[f.name] = self._unbound(f, locale)
        attrs[OWNER] = LookupField(
            label=_("Owner"), loader=self.form_ajax_refs[OWNER],
            validators=[wtforms.validators.Optional()],
            description=_("Blank: you, for a new record; unchanged when editing."))
        if not creating:
            attrs["version"] = wtforms.HiddenField()
        return type(f"{self.entity.name.title()}AdminForm", (self.form_base_class,), attrs)

    def _unbound(self, f: FieldDef, locale: str) -> UnboundField[Any]:
        ftype = self.types[f.name]
        if f.type in LINK_TYPES:
            kw = ftype.form_kwargs(f, locale)
            return LookupField(loader=self.form_ajax_refs[f.name], **_service_required(kw))
        unbound: UnboundField[Any] = ftype.form_field(f, locale)
        return unbound.field_class(*unbound.args, **_service_required(dict(unbound.kwargs)))

    def create_form(self, obj: Any = None) -> Any:
        if obj is None and request.method == "GET":
            obj = Row({f.name: _form_value(f, self.types[f.name].to_python(f, f.default))
                       for f in self.editable if f.default is not None})
        return self._form_class(creating=True)(get_form_data(), obj=obj)

    def edit_form(self, obj: Any = None) -> Any:
        shown = None
        if obj is not None:
            shown = Row({f.name: _form_value(f, obj.get(f.name)) for f in self.editable})
            shown.update(version=obj["version"], owner=obj["owner_id"])
        return self._form_class(creating=False)(get_form_data(), obj=shown)

    def _values(self, form: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """The form's values for the records service; text goes through each type's parser."""
        values: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for f in self.editable:
            value = form[f.name].data
            if isinstance(value, str):
                try:
                    value = self.types[f.name].parse_text(f, value)
                except FieldValueError as exc:
                    errors[f.name] = [str(exc)]
                    continue
            values[f.name] = value
        if form[OWNER].data is not None:
            values[OWNER] = form[OWNER].data
        return values, errors

    # --- writing through the records service -------------------------------------------------
    def create_model(self, form: Any) -> Any:
        values, errors = self._values(form)
        if errors:
            return self._refused(form, errors)
        given = {k: v for k, v in values.items() if v is not None and v != []}
        try:
            record = records().create(self.entity.name, given, actor())
        except ValidationFailed as exc:
            return self._refused(form, exc.errors)
        except RecordError as exc:
            flash(exc.message, "error")
            return False
        return Row(record)

    def update_model(self, form: Any, model: Any) -> bool:
        values, errors = self._values(form)
        version = small_int(str(form["version"].data or ""))
        if version is None:
            flash(_("The form lost the record's version; open the record again."), "error")
            return False
        if errors:
            return self._refused(form, errors)
        try:
            record = records().update(self.entity.name, int(model["id"]), values, actor(),
                                      version=version)
        except Conflict as exc:
            flash(exc.message, "error")
            for change in exc.changes:
                flash(self._their_change(change), "warning")
            return False
        except ValidationFailed as exc:
            return self._refused(form, exc.errors)
        except RecordError as exc:
            flash(exc.message, "error")
            return False
        model.clear()
        model.update(record)
        return True

    def delete_model(self, model: Any) -> bool:
        try:
            records().delete(self.entity.name, int(model["id"]), actor())
        except RecordError as exc:
            flash(exc.message, "error")
            return False
        return True

    @action("delete", Lazy(lambda: _("Move to the recycle bin")),
            Lazy(lambda: _("Move the selected records to the recycle bin?")))
    def action_delete(self, ids: list[str]) -> None:
        wanted = [n for n in map(small_int, ids) if n is not None]
        try:
            done = records().bulk_delete(self.entity.name, wanted, actor())
        except RecordError as exc:
            flash(exc.message, "error")
            return
        flash(ngettext("%(num)d record moved to the recycle bin.",
                       "%(num)d records moved to the recycle bin.", done), "success")

    def _refused(self, form: Any, errors: Mapping[str, list[str]]) -> bool:
        """Flash each problem and put it beside its field; flask-admin shows the form again."""
        for name, messages in errors.items():
            for message in messages:
                flash(message, "error")
            key = "owner" if name == OWNER else name
            if name != RECORD and key in form:
                form[key].errors = [*form[key].errors, *messages]
        return False

    def _their_change(self, change: Any) -> str:
        f = self.entity.fields.get(change.field)
        name = f.label_for(get_locale()) if f is not None else change.field
        return _("%(field)s: %(old)s → %(new)s (by %(who)s)", field=name,
                 old=_plain(change.old), new=_plain(change.new), who=change.by or "system")


def _service_required(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Field kwargs with InputRequired swapped for ServiceRequired (the records service checks
    required values itself, with defaults and `required_when`, and says why in its words)."""
    kwargs["validators"] = [ServiceRequired() if isinstance(v, InputRequired) else v
                            for v in kwargs.get("validators") or ()]
    return kwargs


def _form_value(f: FieldDef, value: Any) -> Any:
    """A stored value as its form field shows it (tags as `a, b`, JSON as text)."""
    if value is None:
        return None
    if f.type == "tags" and isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if f.type == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    return value


def _plain(value: Any) -> str:
    if value is None or value == "":
        return "∅"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _format_value(view: Any, context: Any, model: Any, name: str) -> Any:
    """A list or detail cell: picklists as badges, links as titles, the rest formatted."""
    value = model.get(name)
    if name in ("created_at", "updated_at"):
        return when(value)
    if name == "owner_id":
        return model.titles.get(name, {}).get(value, "") if value is not None else ""
    f = view.entity.fields.get(name)
    if f is None:
        return "" if value is None else value
    titles = model.titles.get(name) if f.type in LINK_TYPES else None
    out = show(f, value, titles)
    if f.type == "json" and value is not None:
        return Markup("<pre class='mb-0 small'>{}</pre>").format(_form_value(f, value))
    return out
