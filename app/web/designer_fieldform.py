"""The designer's field form, generated from the field type registry.

Every option a field type accepts becomes an input: the type's own options from its
`options_schema` (the same JSON Schema `app.meta.jsonschema` publishes for editors), so a
plugin's field type gets a form too, and the options every type shares (required, max_length,
min/max, default ...) where they mean something for the type. `parse` turns a submitted form
into the field's YAML definition and the problems per input; `values_of` does the reverse.

Inputs are named for what they set: `label_en`, `opt-max_length`, `opt-to`; the choices of a
picklist are rows `choice-<n>-value`, `-label_en`, `-label_zh`, `-use_color`, `-color` and one
`-x-<key>` per extra key (a stage's `probability`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import jsonschema
from werkzeug.datastructures import MultiDict

from app.fields.base import FieldType, FieldValueError, Registry
from app.fields.dates import DateTimeType, DateType, TimeType
from app.fields.numbers import DecimalType, IntegerType
from app.fields.text import StringType
from app.i18n import N_, _, gettext
from app.meta.jsonschema import field_schema
from app.meta.types import IDENTIFIER, RESERVED_NAMES, FieldDef, freeze

#: how each built-in type is named in the type list (plugin types show their own name)
TYPE_LABELS: dict[str, str] = {
    "string": N_("Text, one line"), "text": N_("Text, several lines"),
    "rich_text": N_("Formatted text"), "email": N_("Email address"), "phone": N_("Phone number"),
    "url": N_("Web address"), "integer": N_("Whole number"), "decimal": N_("Decimal number"),
    "currency": N_("Money"), "percent": N_("Percentage"), "boolean": N_("Yes / no"),
    "date": N_("Date"), "datetime": N_("Date and time"), "time": N_("Time of day"),
    "picklist": N_("Picklist (one value)"), "multi_picklist": N_("Picklist (several values)"),
    "tags": N_("Tags"), "lookup": N_("Link to a record"),
    "master_detail": N_("Master record (detail of)"), "user": N_("User"),
    "formula": N_("Formula (computed)"), "rollup": N_("Roll-up of related records"),
    "autonumber": N_("Automatic number"), "file": N_("File"), "json": N_("JSON data"),
}
#: the options' names on the form
OPTION_LABELS: dict[str, str] = {
    "required": N_("Required"), "unique": N_("Unique (no two records share a value)"),
    "indexed": N_("Indexed (faster search and sort)"), "read_only": N_("Read only on forms"),
    "hidden": N_("Hidden on forms and lists"), "personal": N_("Personal data"),
    "encrypted": N_("Encrypted at rest"), "max_length": N_("Maximum length"),
    "pattern": N_("Pattern (regular expression)"), "min": N_("Minimum"), "max": N_("Maximum"),
    "default": N_("Default value"), "default_expr": N_("Default expression"),
    "visible_when": N_("Visible when"), "required_when": N_("Required when"),
    "to": N_("Links to"), "on_delete": N_("When the linked record is deleted"),
    "currency": N_("Currency"), "precision": N_("Digits in total"),
    "scale": N_("Digits after the point"), "expr": N_("Expression"),
    "result": N_("Result type"), "entity": N_("Related entity"),
    "via": N_("Through its link field"), "op": N_("Calculation"),
    "field": N_("Field summed or compared"), "where": N_("Only records where"),
    "format": N_("Number format"), "max_size": N_("Largest file (bytes)"),
    "accept": N_("Accepted file types"), "choices": N_("Suggestions"),
}
OPTION_HELP: dict[str, str] = {
    "personal": N_("Exported and erased by a personal data request."),
    "encrypted": N_("Never searched, sorted or filtered on."),
    "default_expr": N_("Instead of a value, e.g. today() + 30"),
    "visible_when": N_("An expression, e.g. stage == 'lost'"),
    "required_when": N_("An expression, e.g. stage == 'won'"),
    "accept": N_("Separated by commas: image/*, .pdf"),
    "choices": N_("Separated by commas"),
}
#: keys of a field definition the form sets (others, like renamed_from, are kept as written)
LABEL_KEYS = ("label", "help")
#: the order keys are written in
ORDER = ("type", "preset", "required", "unique", "indexed", "read_only", "hidden", "personal",
         "encrypted", "max_length", "pattern", "min", "max")
TAIL = ("default", "visible_when", "required_when", "label", "help", "choices")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
CHOICE_ROW = re.compile(r"^choice-(\d+)-(.+)$")
#: a choice value: stored in a column of 80 characters
CHOICE_MAX = 80


@dataclass(frozen=True)
class Option:
    """One input of the form: the YAML key it sets, its kind of input, the types it applies to
    and where it goes (`type`: the type's own options; `rules`; `advanced`)."""

    key: str
    kind: str
    input: str
    types: tuple[str, ...]
    group: str
    enum: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""

    @property
    def label(self) -> str:
        text = OPTION_LABELS.get(self.key)
        return gettext(text) if text else self.key.replace("_", " ").capitalize()

    @property
    def help(self) -> str:
        text = OPTION_HELP.get(self.key)
        if text:
            return gettext(text)
        return self.description  # a plugin's own words (from its JSON Schema)


def type_label(name: str) -> str:
    text = TYPE_LABELS.get(name)
    return gettext(text) if text else name.replace("_", " ").capitalize()


# -- which shared options apply to which types ----------------------------------------------
def _stored(t: FieldType) -> bool:
    return t.has_column and not t.computed


def _indexable(t: FieldType) -> bool:
    return _stored(t) and t.expr_kind not in ("list", "any", "bool")


def _text(t: FieldType) -> bool:
    return isinstance(t, StringType)


def _number(t: FieldType) -> bool:
    return isinstance(t, IntegerType | DecimalType)


def _encryptable(name: str, registry: Registry) -> bool:
    from app.meta.checks import encryptable

    return encryptable(FieldDef(name="x", type=name), registry)


def _temporal(kind: type[FieldType]) -> Callable[[FieldType], bool]:
    return lambda t: isinstance(t, kind)


#: (key, kind, group, applies) of the options every type may have
SHARED: tuple[tuple[str, str, str, Callable[[FieldType], bool]], ...] = (
    ("required", "bool", "rules", lambda t: not t.computed),
    ("unique", "bool", "rules", _indexable),
    ("indexed", "bool", "rules", _indexable),
    ("max_length", "integer", "rules", _text),
    ("pattern", "text", "rules", _text),
    ("min", "number", "rules", _number),
    ("max", "number", "rules", _number),
    ("min", "date", "rules", _temporal(DateType)),
    ("max", "date", "rules", _temporal(DateType)),
    ("min", "datetime", "rules", _temporal(DateTimeType)),
    ("max", "datetime", "rules", _temporal(DateTimeType)),
    ("min", "time", "rules", _temporal(TimeType)),
    ("max", "time", "rules", _temporal(TimeType)),
    ("default", "text", "rules", lambda t: _stored(t) and t.expr_kind in ("text", "list")),
    ("default", "boolselect", "rules", lambda t: _stored(t) and t.expr_kind == "bool"),
    ("default", "number", "rules", lambda t: _stored(t) and _number(t)),
    ("default", "date", "rules", lambda t: _stored(t) and _temporal(DateType)(t)),
    ("default", "datetime", "rules", lambda t: _stored(t) and _temporal(DateTimeType)(t)),
    ("default", "time", "rules", lambda t: _stored(t) and _temporal(TimeType)(t)),
    ("default_expr", "expr", "rules", lambda t: _stored(t) and t.name != "file"),
    ("read_only", "bool", "advanced", lambda t: not t.computed),
    ("hidden", "bool", "advanced", lambda t: True),
    ("personal", "bool", "advanced", _stored),
    ("visible_when", "expr", "advanced", lambda t: True),
    ("required_when", "expr", "advanced", lambda t: not t.computed),
)


def _kind_of(key: str, schema: Mapping[str, Any]) -> str:
    """The input for a type's own option, from its JSON Schema."""
    kind = schema.get("type")
    items = schema.get("items") or {}
    if key == "choices" and any(isinstance(x, dict) and x.get("type") == "object"
                                for x in items.get("oneOf", [])):
        return "choices"
    if schema.get("enum"):
        return "select"
    if key in ("to", "entity") and kind == "string":
        return "entity"
    if kind == "string" and (key in ("expr", "where")
                             or "expression" in str(schema.get("description", ""))):
        return "expr"
    if kind == "integer":
        return "integer"
    if kind == "number" or kind == ["number", "string"]:
        return "number"
    if kind == "boolean":
        return "bool"
    if kind == "array" and (items.get("type") == "string"):
        return "list"
    if kind == "string":
        return "text"
    return "yaml"


def options(registry: Registry) -> list[Option]:
    """Every input of the form, each with the types it applies to."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    used: dict[str, str] = {}

    def note(key: str, kind: str, group: str, tname: str, **extra: Any) -> None:
        slot = found.get((key, kind))
        if slot is None:
            taken = used.setdefault(key, kind)
            name = f"opt-{key}" if taken == kind else f"opt-{key}-{kind}"
            slot = found[(key, kind)] = {"key": key, "kind": kind, "input": name,
                                         "types": [], "group": group, **extra}
        slot["types"].append(tname)

    for tname, ftype in registry.items():
        for key, schema in ftype.options_schema.items():
            kind = _kind_of(key, schema)
            note(key, kind, "type", tname, enum=tuple(schema.get("enum") or ()),
                 minimum=schema.get("minimum"), maximum=schema.get("maximum"),
                 description=str(schema.get("description") or ""))
    for key, kind, group, applies in SHARED:
        for tname, ftype in registry.items():
            if applies(ftype):
                note(key, kind, group, tname)
    for tname, _ftype in registry.items():
        if _encryptable(tname, registry):
            note("encrypted", "bool", "advanced", tname)
    out = []
    for slot in found.values():
        slot["types"] = tuple(slot["types"])
        out.append(Option(**slot))
    return out


def applicable(opts: Iterable[Option], type_name: str) -> list[Option]:
    return [o for o in opts if type_name in o.types]


# -- form -> definition ---------------------------------------------------------------------
class Problems(dict[str, list[str]]):
    def add(self, where: str, message: str) -> None:
        self.setdefault(where, []).append(message)


def _number_value(raw: str) -> int | float:
    value = Decimal(raw.replace(",", "").strip())
    if not value.is_finite():
        raise InvalidOperation
    return int(value) if value == value.to_integral_value() else float(value)


def labels(form: MultiDict[str, str], prefix: str) -> dict[str, str]:
    """`<prefix>_en` and `<prefix>_zh` as a YAML label ({en: .., zh: ..}, blanks left out)."""
    out = {}
    for lang in ("en", "zh"):
        text = (form.get(f"{prefix}_{lang}") or "").strip()
        if text:
            out[lang] = text
    return out


def _option_value(opt: Option, raw: str, problems: Problems, entities: Iterable[str]) -> Any:
    """The YAML value of one input (None: not set)."""
    import yaml

    from app.meta import yamlpos

    text = raw.strip()
    if opt.kind == "bool":
        return True if text else None
    if not text:
        return None
    if opt.kind == "integer":
        try:
            number = _number_value(text)
        except (InvalidOperation, ValueError):
            problems.add(opt.input, _("Enter a whole number."))
            return None
        if not isinstance(number, int):
            problems.add(opt.input, _("Enter a whole number."))
            return None
        return number
    if opt.kind == "number":
        try:
            return _number_value(text)
        except (InvalidOperation, ValueError):
            problems.add(opt.input, _("Enter a number."))
            return None
    if opt.kind == "boolselect":
        return text == "true"
    if opt.kind in ("select",) and text not in opt.enum:
        problems.add(opt.input, _("Choose one of: %(values)s", values=", ".join(opt.enum)))
        return None
    if opt.kind == "entity" and text not in set(entities):
        problems.add(opt.input, _("There is no entity %(name)s.", name=text))
        return None
    if opt.kind == "list":
        return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]
    if opt.kind == "yaml":
        try:
            return yamlpos.safe_load(text)  # aliases and nesting within limits
        except yaml.YAMLError as exc:
            problems.add(opt.input, _("Not valid YAML: %(why)s", why=str(exc).splitlines()[0]))
            return None
    return text


def choice_rows(form: MultiDict[str, str]) -> list[dict[str, str]]:
    """The submitted choice rows, in their order on the page."""
    rows: dict[int, dict[str, str]] = {}
    for key in form:
        found = CHOICE_ROW.match(key)
        if found:
            rows.setdefault(int(found.group(1)), {})[found.group(2)] = form.get(key) or ""
    return [rows[i] for i in sorted(rows)]


def _extra_value(text: str) -> Any:
    try:
        return _number_value(text)
    except (InvalidOperation, ValueError):
        return text


def parse_choices(rows: list[dict[str, str]], problems: Problems) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, 1):
        value = (row.get("value") or "").strip()
        label = {lang: (row.get(f"label_{lang}") or "").strip() for lang in ("en", "zh")}
        label = {k: v for k, v in label.items() if v}
        if not value and not label:
            continue  # an empty row
        if not value:
            problems.add("choices", _("Row %(n)s has no value.", n=n))
            continue
        if len(value) > CHOICE_MAX:
            problems.add("choices", _("Row %(n)s: a value has at most %(max)s characters.",
                                      n=n, max=CHOICE_MAX))
        if value in seen:
            problems.add("choices", _("The value %(value)s is there twice.", value=value))
        seen.add(value)
        choice: dict[str, Any] = {"value": value}
        if label:
            choice["label"] = label
        if row.get("use_color"):
            color = (row.get("color") or "").strip()
            if not COLOR.match(color):
                problems.add("choices", _("Row %(n)s: a colour is written #rrggbb.", n=n))
            else:
                choice["color"] = color.lower()
        for key in sorted(k for k in row if k.startswith("x-")):
            extra = (row.get(key) or "").strip()
            if extra:
                choice[key[2:]] = _extra_value(extra)
        out.append(choice)
    if not out:
        problems.add("choices", _("Add at least one value."))
    return out


def _default(ftype: FieldType, raw: Any, options_: dict[str, Any], problems: Problems,
             where: str) -> Any:
    """A default value as the type reads it, written back as plain YAML."""
    try:
        normalized = ftype.normalize_options(dict(options_))
    except (ValueError, TypeError):
        normalized = {}
    fdef = FieldDef(name="x", type=ftype.name, options=freeze(normalized))
    try:
        value = ftype.parse_text(fdef, str(raw)) if isinstance(raw, str) else \
            ftype.to_python(fdef, raw)
        problems_ = ftype.validate(fdef, value) if value is not None else []
    except (FieldValueError, ValueError, TypeError, KeyError) as exc:
        problems.add(where, str(exc))
        return None
    for problem in problems_:
        problems.add(where, problem)
    value = ftype.to_json(fdef, value)
    if isinstance(value, str) and _number(ftype):
        try:
            return _number_value(value)
        except (InvalidOperation, ValueError):
            return value
    return value


def parse(form: MultiDict[str, str], registry: Registry, opts: list[Option],
          entities: Iterable[str], *, keep: Mapping[str, Any] | None = None
          ) -> tuple[dict[str, Any], Problems]:
    """The field definition the form describes and the problems per input name. `keep` is
    the definition as written before: keys the form does not set (renamed_from, ...) stay."""
    problems = Problems()
    tname = (form.get("type") or "").strip()
    if tname not in registry:
        problems.add("type", _("Choose a field type."))
        return {}, problems
    ftype = registry.get(tname)
    spec: dict[str, Any] = {"type": tname}
    entities = list(entities)
    for opt in applicable(opts, tname):
        if opt.kind == "choices":
            spec[opt.key] = parse_choices(choice_rows(form), problems)
            continue
        value = _option_value(opt, form.get(opt.input) or "", problems, entities)
        if value is None:
            continue
        if opt.key == "default_expr":
            if "default" in spec:
                problems.add(opt.input, _("Give a default value or an expression, not both."))
            spec["default"] = {"expr": value}
        elif opt.key == "default":
            spec["default"] = value
        else:
            spec[opt.key] = value
    for key in ftype.required_options:
        if key not in spec:
            where = next((o.input for o in applicable(opts, tname) if o.key == key), "type")
            problems.add("choices" if key == "choices" else where,
                         _("A %(type)s field needs this.", type=type_label(tname)))
    if "default" in spec and not isinstance(spec["default"], dict):
        where = next((o.input for o in applicable(opts, tname) if o.key == "default"), "type")
        spec["default"] = _default(ftype, spec["default"], spec, problems, where)
        if spec["default"] is None:
            del spec["default"]
    for key in LABEL_KEYS:
        text = labels(form, key)
        if text:
            spec[key] = text
    if not (spec.get("label") or {}).get("en"):
        problems.add("label_en", _("Give the field a name in English."))
    spec = ordered(spec, keep, opts)
    schema_problems(spec, registry, opts, problems)
    return spec, problems


def ordered(spec: Mapping[str, Any], keep: Mapping[str, Any] | None = None,
            opts: Iterable[Option] = ()) -> dict[str, Any]:
    """The definition in the order the shipped files use. Keys of `keep` (the definition as
    written before) that no input of any type sets stay, after the type's options; an old
    type's options go when the type changes."""
    managed = set(spec) | set(ORDER) | set(TAIL) | {o.key for o in opts}
    head = {k: spec[k] for k in ORDER if k in spec}
    middle = {k: v for k, v in spec.items() if k not in ORDER and k not in TAIL}
    kept = {k: v for k, v in (keep or {}).items() if k not in managed}
    tail = {k: spec[k] for k in TAIL if k in spec}
    return {**head, **middle, **kept, **tail}


def schema_problems(spec: Mapping[str, Any], registry: Registry, opts: list[Option],
                    problems: Problems) -> None:
    """What the JSON Schema of field definitions says about `spec` (the safety net under the
    checks above: a plugin type's option patterns, ranges)."""
    validator = jsonschema.Draft202012Validator(field_schema(registry))
    by_key = {o.key: o.input for o in applicable(opts, str(spec.get("type")))}
    for err in validator.iter_errors(dict(spec)):
        path = list(err.absolute_path)
        key = str(path[0]) if path else ""
        where = "choices" if key == "choices" else by_key.get(key, "type")
        if where in problems:
            continue  # already said more plainly
        problems.add(where, f"{key}: {err.message}" if key else err.message)


def name_problems(name: str, taken: Iterable[str], what: str = "field") -> list[str]:
    """Why `name` cannot name a new field or preset (empty: it can)."""
    if not name:
        return [_("Give it a name.")]
    if not IDENTIFIER.match(name):
        return [_("Use lower-case letters, digits and _, starting with a letter (at most 63).")]
    if what == "field" and name in RESERVED_NAMES:
        return [_("%(name)s is reserved; choose another name.", name=name)]
    if name in set(taken):
        return [_("There is already one named %(name)s.", name=name)]
    return []


# -- definition -> form ---------------------------------------------------------------------
def values_of(spec: Mapping[str, Any], opts: list[Option]) -> dict[str, str]:
    """The inputs' values showing `spec` (every type's inputs, so switching types keeps what
    applies)."""
    out: dict[str, str] = {"type": str(spec.get("type") or "")}
    for key in LABEL_KEYS:
        text = spec.get(key) or {}
        if isinstance(text, Mapping):
            for lang in ("en", "zh"):
                out[f"{key}_{lang}"] = str(text.get(lang) or "")
    default = spec.get("default")
    tname = str(spec.get("type") or "")
    for opt in opts:
        if opt.kind == "choices" or (tname and tname not in opt.types):
            continue
        if opt.key == "default_expr":
            value = default.get("expr") if isinstance(default, Mapping) else None
        elif opt.key == "default":
            value = None if isinstance(default, Mapping) else default
        else:
            value = spec.get(opt.key)
        out[opt.input] = _shown(opt, value)
    return out


def _shown(opt: Option, value: Any) -> str:
    import yaml

    if value is None:
        return ""
    if opt.kind == "bool":
        return "on" if value else ""
    if opt.kind == "boolselect":
        return "true" if value else "false"
    if opt.kind == "list" and isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if opt.kind == "yaml":
        return str(yaml.safe_dump(value, allow_unicode=True, default_flow_style=True)).strip()
    return str(value)


def rows_of(spec: Mapping[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    """The choice rows of `spec` and the extra keys its choices carry (a stage's
    probability)."""
    rows: list[dict[str, str]] = []
    extras: list[str] = []
    raw = spec.get("choices") or []
    if not isinstance(raw, list | tuple):
        return rows, extras
    for item in raw:
        if not isinstance(item, Mapping):
            item = {"value": item}
        label = item.get("label") or {}
        if isinstance(label, str):
            label = {"en": label}
        row = {"value": str(item.get("value", "")), "label_en": str(label.get("en") or ""),
               "label_zh": str(label.get("zh") or ""),
               "use_color": "on" if item.get("color") else "",
               "color": str(item.get("color") or "#64748b")}
        for key, value in item.items():
            if key in ("value", "label", "color"):
                continue
            if key not in extras:
                extras.append(key)
            row[f"x-{key}"] = "" if value is None else str(value)
        rows.append(row)
    return rows, extras


def extras_of(form: MultiDict[str, str]) -> list[str]:
    """The extra choice keys of a submitted form (kept in hidden `choice_extra` inputs)."""
    found = [k for k in form.getlist("choice_extra") if IDENTIFIER.match(k)]
    return list(dict.fromkeys(found))


def layered(new: Mapping[str, Any], inherited: Mapping[str, Any] | None,
            below: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """What this deployment's file must say so that, on top of `inherited` (the preset's
    options and the base pack's definition), the field is `new`; and the keys the base pack
    sets (`below`) that `new` leaves out, which cannot be taken away there (what a preset
    sets and `new` leaves out, it simply keeps giving)."""
    if not inherited:
        return dict(new), []
    out = {k: v for k, v in new.items() if inherited.get(k) != v}
    for key, value in inherited.items():  # a switch turned off stays off
        if value is True and key not in new and key not in ("remove",):
            out[key] = False
    cannot: list[str] = []
    for key, value in (below or {}).items():
        if key in new or key in ("fields", "preset", "remove"):
            continue
        if isinstance(value, bool):
            if value:
                out[key] = False
        else:
            cannot.append(key)
    if (below or {}).get("preset") and "preset" not in new:
        cannot.append("preset")
    return out, cannot
