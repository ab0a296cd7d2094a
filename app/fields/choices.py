"""Choice field types: picklist (one value), multi_picklist (several), tags (free words)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import marshmallow.fields as mf
import sqlalchemy as sa
import wtforms
from marshmallow import validate as mv
from sqlalchemy.dialects import postgresql

from app.fields.base import ConfigProblem, FieldType, FieldValueError, register, shown
from app.i18n import _
from app.meta.types import Choice, FieldDef, freeze, label_text

if TYPE_CHECKING:
    from app.meta.types import EntityDef, Meta

LABELS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"en": {"type": "string"}, "zh": {"type": "string"}},
    "additionalProperties": {"type": "string"},
}
CHOICES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "values in display order: plain strings, or {value, label, color, ...}",
    "items": {
        "oneOf": [
            {"type": "string"},
            {
                "type": "object",
                "properties": {
                    "value": {"type": "string"},
                    "label": LABELS_SCHEMA,
                    "color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
                },
                "required": ["value"],
                "additionalProperties": True,
            },
        ]
    },
}
#: separators between values typed in one cell: , ; ， ； |
SEPARATORS = re.compile(r"[,;，；|]")


def json_type() -> sa.types.TypeEngine[Any]:
    """JSON, as JSONB on PostgreSQL (it compares and indexes; plain json does not)."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def make_choice(item: Any) -> Choice:
    """A `Choice` from a plain value or a mapping; keys beyond value/label/color go to extra."""
    if isinstance(item, Choice):
        return item
    if isinstance(item, Mapping):
        if "value" not in item:
            raise ValueError(f"the choice {dict(item)!r} has no value")
        label = item.get("label") or {}
        if isinstance(label, str):
            label = {"en": label}
        extra = {k: v for k, v in item.items() if k not in ("value", "label", "color")}
        return Choice(
            value=_value_text(item["value"]),
            label=freeze(dict(label)),
            color=item.get("color"),
            extra=freeze(extra),
        )
    return Choice(value=_value_text(item))


def _value_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"the choice value {value!r} is not text")
    return str(value)


#: id(options) -> (options, their choices, the choices' values): a picklist's choices are
#: asked for each value written (100,000 times in an import); the options are kept with them
#: so that their id stays theirs
_CHOICES: dict[int, tuple[Any, tuple[Choice, ...], tuple[str, ...]]] = {}


def choices_of(f: FieldDef) -> tuple[Choice, ...]:
    """The field's choices as `Choice` objects, whether or not the options were normalised."""
    return _choices(f)[1]


def choice_values(f: FieldDef) -> tuple[str, ...]:
    return _choices(f)[2]


def _choices(f: FieldDef) -> tuple[Any, tuple[Choice, ...], tuple[str, ...]]:
    found = _CHOICES.get(id(f.options))
    if found is not None and found[0] is f.options:
        return found
    choices = tuple(make_choice(item) for item in f.options.get("choices", ()))
    if len(_CHOICES) > 10_000:
        _CHOICES.clear()
    made = _CHOICES[id(f.options)] = (f.options, choices, tuple(c.value for c in choices))
    return made


def split_values(raw: str) -> list[str]:
    return [part.strip() for part in SEPARATORS.split(raw) if part.strip()]


def dedupe(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


@register
class PicklistType(FieldType):
    """One value out of a fixed list of choices."""

    name = "picklist"
    options_schema = {"choices": CHOICES_SCHEMA}
    required_options = ("choices",)
    filter_ops: ClassVar[tuple[str, ...]] = ("eq", "ne", "in", "not_in", "empty", "not_empty")
    expr_kind = "text"

    def normalize_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = dict(options)
        if "choices" in out:
            raw = out["choices"]
            if isinstance(raw, str | Mapping) or not isinstance(raw, Iterable):
                raise ValueError("choices must be a list")
            out["choices"] = tuple(make_choice(item) for item in raw)
        return out

    def values(self, f: FieldDef) -> list[str]:
        return list(choice_values(f))

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.String(80)

    def one_value(self, f: FieldDef, value: Any) -> str:
        allowed = choice_values(f)
        text = value if isinstance(value, str) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = str(value)
        if text is None or text not in allowed:
            raise FieldValueError(
                _("%(value)s is not one of the allowed values: %(allowed)s.",
                  value=shown(value), allowed=", ".join(allowed))
            )
        return text

    def match_text(self, f: FieldDef, raw: str) -> str:
        """A choice by its value, else by its value or label in any language, ignoring case."""
        text = raw.strip()
        choices = choices_of(f)
        for c in choices:
            if c.value == text:
                return c.value
        folded = _fold(text)
        for c in choices:
            if _fold(c.value) == folded or any(_fold(lbl) == folded for lbl in c.label.values()):
                return c.value
        allowed = ", ".join(c.value for c in choices)
        raise FieldValueError(_("%(value)s is not one of the allowed values: %(allowed)s.",
                                value=shown(raw), allowed=allowed))

    def to_python(self, f: FieldDef, value: Any) -> Any:
        return None if value is None else self.one_value(f, value)

    def parse_text(self, f: FieldDef, raw: str) -> Any:
        return None if raw.strip() == "" else self.match_text(f, raw)

    def validate(self, f: FieldDef, value: Any) -> list[str]:
        try:
            self.to_python(f, value)
        except FieldValueError as exc:
            return [str(exc)]
        return []

    def label(self, f: FieldDef, value: Any, locale: str) -> str:
        for c in choices_of(f):
            if c.value == value:
                return label_text(c.label, locale, c.value)
        return str(value)

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else self.label(f, value, locale)

    def form_choices(self, f: FieldDef, locale: str) -> list[Any]:
        """`SelectChoice`s with localised labels; a choice's colour is its `data-color`."""
        return [
            wtforms.SelectChoice(
                c.value,
                label_text(c.label, locale, c.value),
                render_kw={"data-color": c.color} if c.color else {},
            )
            for c in choices_of(f)
        ]

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        blank = wtforms.SelectChoice("", "")
        return wtforms.SelectField(
            choices=[blank, *self.form_choices(f, locale)], **self.form_kwargs(f, locale)
        )

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.String(validate=mv.OneOf(self.values(f)), **self.api_kwargs(f))

    def check(self, f: FieldDef, entity: EntityDef, meta: Meta) -> list[ConfigProblem]:
        try:
            values = self.values(f)
        except ValueError as exc:
            return [ConfigProblem("CRM-E023", f"field '{f.name}': {exc}", "choices")]
        if not values:
            return [ConfigProblem("CRM-E023", f"field '{f.name}' has no choices", "choices")]
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            return [
                ConfigProblem(
                    "CRM-E023",
                    f"field '{f.name}' lists the choice {', '.join(map(repr, twice))} twice",
                    "choices",
                )
            ]
        return self.default_check(f, values)

    def default_check(self, f: FieldDef, values: list[str]) -> list[ConfigProblem]:
        defaults = f.default if isinstance(f.default, list | tuple) else [f.default]
        wrong = [d for d in defaults if d is not None and d not in values]
        if wrong:
            return [
                ConfigProblem(
                    "CRM-E024",
                    f"field '{f.name}' has the default {shown(wrong[0])}, which is not one of "
                    f"its choices ({', '.join(values)})",
                    "default",
                )
            ]
        return []


@register
class MultiPicklistType(PicklistType):
    """Several values out of a fixed list of choices, kept in a JSON list."""

    name = "multi_picklist"
    filter_ops = ("contains", "empty", "not_empty")
    expr_kind = "list"

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return json_type()

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            items: list[Any] = split_values(value)
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            raise FieldValueError(_("%(value)s is not a list of values.", value=shown(value)))
        wrong = [item for item in items if item not in self.values(f)]
        if wrong:
            message = _("%(value)s is not one of the allowed values: %(allowed)s.") \
                if len(wrong) == 1 else _("%(value)s are not of the allowed values: %(allowed)s.")
            raise FieldValueError(message % {"value": ", ".join(shown(w) for w in wrong),
                                             "allowed": ", ".join(self.values(f))})
        return dedupe(items)

    def parse_text(self, f: FieldDef, raw: str) -> Any:
        if raw.strip() == "":
            return None
        return dedupe(self.match_text(f, part) for part in split_values(raw))

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        if value is None:
            return ""
        return ", ".join(self.label(f, v, locale) for v in value)

    def to_json(self, f: FieldDef, value: Any) -> Any:
        return None if value is None else list(value)

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        return wtforms.SelectMultipleField(
            choices=self.form_choices(f, locale), **self.form_kwargs(f, locale)
        )

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.List(mf.String(validate=mv.OneOf(self.values(f))), **self.api_kwargs(f))


@register
class TagsType(FieldType):
    """Free words (with optional suggestions), kept in a JSON list."""

    name = "tags"
    options_schema = {
        "choices": {
            "type": "array",
            "items": {"type": "string"},
            "description": "suggested tags",
        }
    }
    filter_ops = ("contains", "empty", "not_empty")
    expr_kind = "list"

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return json_type()

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return dedupe(split_values(value))
        if not isinstance(value, list | tuple):
            raise FieldValueError(_("%(value)s is not a list of tags.", value=shown(value)))
        tags: list[str] = []
        for item in value:
            if isinstance(item, int | float) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str) or not item.strip():
                raise FieldValueError(
                    _("%(value)s is not a tag (tags are non-empty text).", value=shown(item))
                )
            tags.append(item.strip())
        return dedupe(tags)

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else ", ".join(str(v) for v in value)

    def to_json(self, f: FieldDef, value: Any) -> Any:
        return None if value is None else list(value)

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        suggestions = [str(c) for c in f.opt("choices", ())]
        kw["render_kw"] = {**kw["render_kw"], "data-tags": ",".join(suggestions)}
        if suggestions:  # a <datalist> of the suggested tags
            kw["datalist"] = wtforms.DataList(suggestions)
        return wtforms.StringField(**kw)

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.List(mf.String(), **self.api_kwargs(f))
