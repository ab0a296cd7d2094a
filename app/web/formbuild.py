"""Form classes generated from the metadata.

One Flask-WTF form class per entity and locale, built from each editable field's
`form_field(f, locale)` (the field type registry decides the WTForms field), once per config
version: the classes are cached on the Flask app of that version (`app.extensions["crm_forms"]`).
Computed fields (formula, roll-up, autonumber) and read-only fields have no input: edit forms
show their values as text and they are never sent to the records service.

The form renders and keeps what the user typed; it does not validate. Typed text becomes values
through each type's `parse_text` (which accepts `¥1,234.50`, `12.5%` or `2024年3月5日`) and the
records service checks them, so every rule holds whichever way data comes in, with messages in
the user's language.

Layouts come from YAML (`layout:`): sections with a label, 1-4 columns and their fields in
order; fields no section names follow in a last section; without a layout, one two-column
section in field order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Flask
from wtforms import BooleanField, FileField, SelectField, SelectMultipleField, TextAreaField
from wtforms.fields.core import Field

from app.fields import registry
from app.fields.base import FieldValueError
from app.fields.numbers import plain
from app.fields.text import sanitize_html
from app.i18n import N_, gettext
from app.meta.types import EntityDef, FieldDef, label_text
from app.web.baseform import CrmForm

#: Bootstrap column classes of a section of 1 to 4 columns (one column on a phone)
COLUMN_CLASSES = {
    1: "col-12",
    2: "col-12 col-md-6",
    3: "col-12 col-md-6 col-lg-4",
    4: "col-12 col-sm-6 col-lg-3",
}
#: the label of the section holding the fields no layout section names
OTHER_SECTION = N_("More details")
#: widgets that take a whole row whatever the section's columns
WIDE_KINDS = frozenset({"textarea", "rich_text"})


def attr(name: str) -> str:
    """The form attribute of a field: `f_<name>`, so that a field called `data`, `meta` or
    `errors` never shadows WTForms' own attributes. The HTML name is the field name."""
    return f"f_{name}"


def input_id(name: str) -> str:
    """The HTML id of a field's input: `f-<name>` (never clashes with the page's own ids)."""
    return f"f-{name}"


class EntityForm(CrmForm):
    """The base of every generated form class."""

    crm_entity = ""

    def crm_field(self, name: str) -> Field | None:
        """The bound WTForms field of an entity field, None when it has no input."""
        found: Field | None = self._fields.get(attr(name))
        return found


def is_editable(f: FieldDef) -> bool:
    """Whether a form has an input for this field: stored, not computed, not read-only, not
    hidden."""
    ftype = registry.get(f.type)
    return ftype.has_column and not ftype.computed and not f.read_only and not f.hidden


def build_form_class(entity: EntityDef, locale: str) -> type[EntityForm]:
    attrs: dict[str, Any] = {"crm_entity": entity.name}
    for f in entity:
        if not is_editable(f):
            continue
        unbound = registry.get(f.type).form_field(f, locale)
        unbound.name = f.name
        unbound.kwargs["id"] = input_id(f.name)
        attrs[attr(f.name)] = unbound
    name = "".join(part.capitalize() for part in entity.name.split("_")) + "Form"
    return type(name, (EntityForm,), attrs)


def form_class(app: Flask, entity: EntityDef, locale: str) -> type[EntityForm]:
    """The form class of `entity` in `locale`, built once per app (one app = one config
    version) for each view of it: users whose roles hide fields or make them read-only see
    another entity (app/access/view.py), so the key names the fields and which are read-only."""
    cache: dict[tuple[Any, ...], type[EntityForm]] = app.extensions.setdefault("crm_forms", {})
    key = (entity.name, locale, tuple((f.name, f.read_only) for f in entity))
    cls = cache.get(key)
    if cls is None:
        cls = cache[key] = build_form_class(entity, locale)
    return cls


# --- layout ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    """Fields shown together under a label, in `columns` columns."""

    label: str
    columns: int
    fields: tuple[FieldDef, ...]

    @property
    def col_class(self) -> str:
        return COLUMN_CLASSES[self.columns]


def _columns(raw: Any) -> int:
    try:
        return min(4, max(1, int(raw)))
    except (TypeError, ValueError):
        return 2


def sections(entity: EntityDef, locale: str,
             include: Callable[[FieldDef], bool] = lambda f: not f.hidden) -> list[Section]:
    """The layout of `entity` for the fields `include` accepts: YAML sections in order, then
    the fields no section names; empty sections are left out."""
    if not entity.layout:
        fields = tuple(f for f in entity if include(f))
        return [Section("", 2, fields)] if fields else []
    out: list[Section] = []
    placed: set[str] = set()
    for raw in entity.layout:
        names = [n for n in raw.get("fields", ()) if n in entity.fields and n not in placed]
        placed.update(names)
        fields = tuple(entity.fields[n] for n in names if include(entity.fields[n]))
        if fields:
            out.append(Section(label_text(raw.get("section"), locale, ""),
                               _columns(raw.get("columns", 2)), fields))
    rest = tuple(f for f in entity if f.name not in placed and include(f))
    if rest:
        out.append(Section(gettext(OTHER_SECTION) if out else "", 2, rest))
    return out


# --- widgets ---------------------------------------------------------------------------------
def widget_kind(field: Field) -> str:
    """How the form template renders a WTForms field: by its class and the attributes its
    field type gave it (`data-lookup`, `data-rich-text`, `data-currency`, `data-suffix`)."""
    kw = field.render_kw or {}
    if "data-lookup" in kw:
        return "lookup"
    if "data-rich-text" in kw:
        return "rich_text"
    if "data-currency" in kw:
        return "money"
    if "data-suffix" in kw:
        return "suffix"
    if isinstance(field, BooleanField):
        return "switch"
    if isinstance(field, SelectMultipleField):
        return "checkboxes"
    if isinstance(field, SelectField):
        return "select"
    if isinstance(field, FileField):
        return "file"
    if isinstance(field, TextAreaField):
        return "textarea"
    return "input"


def limit_choices(field: Field, keep: Collection[str]) -> None:
    """Offer only the values in `keep` in a select (a stage machine's allowed moves and the
    current value; `""` in `keep` keeps the blank choice)."""
    choices = getattr(field, "choices", None)
    if isinstance(choices, list):
        field.choices = [c for c in choices
                         if str(getattr(c, "value", c[0] if isinstance(c, tuple) else c))
                         in keep]


def lookup_target(field: Field) -> str | None:
    """The entity a lookup input searches (`user` for user fields), else None."""
    kw = field.render_kw or {}
    target = kw.get("data-lookup")
    return str(target) if target else None


# --- values <-> form data --------------------------------------------------------------------
def form_value(f: FieldDef, field: Field, value: Any) -> Any:
    """A record value as the form field holds it."""
    if value is None or isinstance(field, FileField):
        return None
    if f.type == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    if isinstance(field, SelectMultipleField):
        return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Decimal) and getattr(field, "places", None) is None:
        return Decimal(plain(value))
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if widget_kind(field) == "rich_text" and isinstance(value, str):
        return sanitize_html(value)
    return value


def load(form: EntityForm, entity: EntityDef, values: Mapping[str, Any]) -> None:
    """Put record values (or defaults and prefilled values) into a form built without
    form data."""
    for f in entity:
        field = form.crm_field(f.name)
        if field is not None and f.name in values:
            field.data = form_value(f, field, values[f.name])


def read_values(form: EntityForm, entity: EntityDef, data: Any, *, partial: bool = False
                ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Values by field from submitted form data (a MultiDict), and the fields whose text could
    not be read. A whole form (`partial=False`) sends every input: an unticked box is False, no
    ticked choice is empty. Prefilled query arguments (`partial=True`) set only what they name.
    File inputs are left to the caller."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for f in entity:
        field = form.crm_field(f.name)
        if field is None or isinstance(field, FileField):
            continue
        if partial and f.name not in data:
            continue
        ftype = registry.get(f.type)
        try:
            if isinstance(field, BooleanField) and not partial:
                values[f.name] = f.name in data and data.get(f.name) not in ("", "0", "false")
            elif isinstance(field, SelectMultipleField):
                items = [v for v in data.getlist(f.name) if v.strip()]
                if partial and len(items) == 1:
                    values[f.name] = ftype.parse_text(f, items[0])
                else:
                    values[f.name] = ftype.to_python(f, items) if items else None
            else:
                values[f.name] = ftype.parse_text(f, str(data.get(f.name) or ""))
        except FieldValueError as exc:
            errors[f.name] = [str(exc)]
    return values, errors


def json_values(form: EntityForm, entity: EntityDef, payload: Mapping[str, Any]
                ) -> dict[str, Any]:
    """Values by field from the JSON the form script sends (`{field: text, list or bool}`);
    what cannot be read counts as empty (the save reports it)."""
    values: dict[str, Any] = {}
    for f in entity:
        field = form.crm_field(f.name)
        if field is None or isinstance(field, FileField) or f.name not in payload:
            continue
        raw = payload[f.name]
        ftype = registry.get(f.type)
        try:
            if isinstance(raw, str):
                values[f.name] = ftype.parse_text(f, raw)
            elif isinstance(raw, list):
                values[f.name] = ftype.to_python(f, raw) if raw else None
            elif isinstance(raw, bool):
                values[f.name] = ftype.to_python(f, raw)
            else:
                values[f.name] = None
        except FieldValueError:
            values[f.name] = None
    return values
