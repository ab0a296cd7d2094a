"""The field type contract and its registry.

Each field type is one class, registered once. It knows every target a field meets: its SQL
column, its WTForms field, its marshmallow field, the filter operators it offers, how it is
displayed, how text (CSV, form input) is parsed, and which config checks it adds. A new field type
(built in or from a plugin) is one class here and nothing anywhere else.

Field types import SQLAlchemy *types and columns* (schema description), never sessions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import sqlalchemy as sa

from app.meta.types import FieldDef, label_text

if TYPE_CHECKING:
    import marshmallow.fields as mf
    import wtforms

    from app.meta.types import EntityDef, Meta


class FieldValueError(ValueError):
    """A value that does not fit a field. The message is a plain sentence for the user."""


def constraint_name(prefix: str, table: str, column: str) -> str:
    """`<prefix>_<table>_<column>` (fk, ix, uq), kept within PostgreSQL's 63 characters the way
    `app.model.build.index_name` does: long names keep 54 characters and a hash."""
    name = f"{prefix}_{table}_{column}"
    if len(name) > 63:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = f"{name[:54]}_{digest}"
    return name


def shown(value: Any, limit: int = 40) -> str:
    """A value quoted for an error message, shortened when long: `'abc'`."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


@dataclass(frozen=True)
class ConfigProblem:
    """A config error found by a field type's own checks (`CRM-E0xx` code, sentence, option)."""

    code: str
    message: str
    option: str | None = None


#: Expression kinds, used by `app.expr` to type-check names: number, text, bool, date,
#: datetime, time, list, any.
ExprKind = str


class FieldType:
    """Base class of every field type. Subclasses set `name` and override what differs."""

    name: ClassVar[str] = ""
    #: JSON Schema of the options this type accepts beyond the common ones (see meta/jsonschema)
    options_schema: ClassVar[Mapping[str, Any]] = {}
    #: options required by this type (for example `to` for a lookup)
    required_options: ClassVar[tuple[str, ...]] = ()
    #: False for types with no column of their own (formula, children)
    has_column: ClassVar[bool] = True
    #: filter operators offered in lists and the API, in display order
    filter_ops: ClassVar[tuple[str, ...]] = ("eq", "ne", "empty", "not_empty")
    #: how an expression sees a value of this type
    expr_kind: ClassVar[ExprKind] = "any"
    #: value computed by the system; never written by users (formula, autonumber, rollup)
    computed: ClassVar[bool] = False

    # --- SQL -------------------------------------------------------------------------------
    def column_name(self, f: FieldDef) -> str:
        return f.name

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        raise NotImplementedError(f"field type {self.name} has no SQL type")

    def column(self, f: FieldDef, entity: EntityDef, meta: Meta) -> sa.Column[Any] | None:
        """The column for this field. Required fields stay nullable in SQL unless the table can
        take NOT NULL safely; the records service enforces `required` for every writer."""
        if not self.has_column:
            return None
        return self.make_column(f, entity, self.sa_type(f))

    def make_column(
        self,
        f: FieldDef,
        entity: EntityDef,
        *args: Any,
        index: bool = False,
        unique: bool = False,
    ) -> sa.Column[Any]:
        """A nullable column named `column_name(f)`, built from `args` (the SQL type and any
        `sa.ForeignKey`). `index` / `unique` (or the field's own `indexed` / `unique`) become
        the column's flags: the model builder turns them into indexes it names itself
        (`app.model.build.field_index`); a bare `sa.Table` names them by SQLAlchemy's default
        convention (`ix_<table>_<column>`)."""
        return sa.Column(
            self.column_name(f),
            *args,
            nullable=True,
            unique=(unique or f.unique) or None,
            index=(index or f.indexed) or None,
        )

    # --- values ----------------------------------------------------------------------------
    def to_python(self, f: FieldDef, value: Any) -> Any:
        """Coerce a value from JSON, a form or the database to this type's Python value.
        Raises FieldValueError with a plain sentence. None stays None."""
        return value

    def parse_text(self, f: FieldDef, raw: str) -> Any:
        """Parse text typed by a person or read from CSV. Blank means None."""
        raw = raw.strip()
        return None if raw == "" else self.to_python(f, raw)

    def parse_cell(self, f: FieldDef, value: Any, *, date_order: str | None = None) -> Any:
        """A cell of an imported file: text (CSV, or a text cell of a spreadsheet) goes
        through `parse_text`; a typed spreadsheet cell (a number, a date, a boolean) through
        `to_python`. `date_order` (dmy, mdy or ymd) reads dates like 05/03/2024 that have
        two readings; only date types use it."""
        if value is None:
            return None
        if isinstance(value, str):
            return self.parse_text(f, value)
        return self.to_python(f, value)

    def validate(self, f: FieldDef, value: Any) -> list[str]:
        """Problems with a (coerced) value beyond its type: min/max, length, pattern, choices."""
        return []

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else str(value)

    def to_json(self, f: FieldDef, value: Any) -> Any:
        """A JSON-ready value (dates as ISO strings, decimals as strings)."""
        return value

    def expr_kind_of(self, f: FieldDef) -> ExprKind:
        """How an expression sees this field; differs from `expr_kind` only where the kind
        depends on the field's options (a formula has the kind of its result)."""
        return self.expr_kind

    def filter_ops_of(self, f: FieldDef) -> tuple[str, ...]:
        """The filter operators of this field; `filter_ops` unless they depend on options.
        An encrypted field (app/crypto.py) offers only empty / not empty."""
        if f.encrypted:
            return ("empty", "not_empty")
        return self.filter_ops

    # --- forms and API ---------------------------------------------------------------------
    def form_kwargs(self, f: FieldDef, locale: str = "en") -> dict[str, Any]:
        """The keyword arguments every WTForms field of this type shares: label, help text,
        InputRequired / Optional, and `readonly` for computed and read-only fields."""
        from wtforms import validators

        required = f.required and not (self.computed or f.read_only)
        render_kw: dict[str, Any] = {}
        if self.computed or f.read_only:
            render_kw["readonly"] = True
        return {
            "label": f.label_for(locale),
            "description": label_text(f.help, locale, ""),
            "validators": [validators.InputRequired() if required else validators.Optional()],
            "render_kw": render_kw,
        }

    def api_kwargs(self, f: FieldDef) -> dict[str, Any]:
        """The keyword arguments every marshmallow field of this type shares: computed fields
        are dump-only; a required field without a default must be given and is never null."""
        if self.computed:
            return {"dump_only": True, "allow_none": True}
        has_default = f.default is not None or f.default_expr is not None
        return {"required": f.required and not has_default, "allow_none": not f.required}

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        raise NotImplementedError

    def api_field(self, f: FieldDef) -> mf.Field:
        raise NotImplementedError

    # --- config ----------------------------------------------------------------------------
    def check(self, f: FieldDef, entity: EntityDef, meta: Meta) -> list[ConfigProblem]:
        """Cross-reference checks that need the whole config (lookup targets, formula names)."""
        return []

    def normalize_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Turn the options as written into their canonical form (for example short picklist
        choices into `Choice` objects). Runs before the config is frozen."""
        return options


FT = TypeVar("FT", bound=type[FieldType])


class Registry:
    """Field types by name. `app.fields.registry` is the one instance the app uses."""

    def __init__(self) -> None:
        self._types: dict[str, FieldType] = {}
        #: type name -> the plugin that registered it (built-in types are not in it)
        self._plugin: dict[str, str] = {}

    def register(self, cls: FT, *, plugin: str | None = None) -> FT:
        """Add a type (a decorator for built-in types; `app.plugins` passes the name of the
        plugin that adds one). The same class again is a no-op; another under a taken name
        is refused."""
        if not cls.name:
            raise ValueError(f"{cls.__name__} has no name")
        if cls.name in self._types:
            if type(self._types[cls.name]) is not cls:
                raise ValueError(f"field type {cls.name!r} is registered twice")
            return cls
        self._types[cls.name] = cls()
        if plugin is not None:
            self._plugin[cls.name] = plugin
        return cls

    def unregister(self, name: str) -> None:
        """Forget a type (tests that load plugins restore the registry with it)."""
        self._types.pop(name, None)
        self._plugin.pop(name, None)

    def plugin_of(self, name: str) -> str | None:
        """The plugin that registered type `name`; None for a built-in type."""
        return self._plugin.get(name)

    def builtin(self) -> Registry:
        """A registry of the built-in types only (the JSON Schema shipped in the package)."""
        other = Registry()
        other._types = {n: t for n, t in self._types.items() if n not in self._plugin}
        return other

    def get(self, name: str) -> FieldType:
        return self._types[name]

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return sorted(self._types)

    def items(self) -> list[tuple[str, FieldType]]:
        return sorted(self._types.items())


registry = Registry()
register: Callable[[FT], FT] = registry.register
