"""Relation field types: lookup, master_detail and user, each a `<name>_id` foreign key."""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import marshmallow.fields as mf
import sqlalchemy as sa
import wtforms
from marshmallow import validate as mv

from app.fields.base import (
    ConfigProblem,
    FieldType,
    FieldValueError,
    constraint_name,
    register,
    shown,
)
from app.i18n import _
from app.meta.types import FieldDef, table_name
from app.textnum import SQL_INT_MAX, small_int

if TYPE_CHECKING:
    from app.meta.types import EntityDef, Meta

#: the table of users (a system table, not an entity)
USER_TABLE = "sys_user"
ON_DELETE = {"set_null": "SET NULL", "restrict": "RESTRICT"}


def did_you_mean(name: str, candidates: list[str]) -> str:
    """` (did you mean 'account'?)` when a candidate is close to `name`, else ``."""
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _integral(value: float | Decimal) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return value.is_finite() and value == value.to_integral_value()


def record_id(value: Any) -> int:
    """A positive whole number: an int, or digits in a string."""
    number: Any = value
    if isinstance(value, str) and value.strip().isdecimal():
        number = small_int(value, SQL_INT_MAX)
        if number is None:  # beyond any record id
            number = 0
    elif isinstance(value, float | Decimal) and _integral(value):
        number = int(value)
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        return number
    raise FieldValueError(
        _("%(value)s is not a record id (a positive whole number).", value=shown(value))
    )


class _ReferenceType(FieldType):
    """A reference to one record of another table, kept as `<name>_id`."""

    filter_ops = ("eq", "in", "empty", "not_empty")
    expr_kind = "number"  # the id
    on_delete = "SET NULL"

    def target(self, f: FieldDef) -> str:
        """The entity (or `user`) the field points to; for the `data-lookup` form attribute."""
        return str(f.opt("to"))

    def target_table(self, f: FieldDef) -> str:
        return table_name(self.target(f))

    def ondelete(self, f: FieldDef) -> str:
        return self.on_delete

    def column_name(self, f: FieldDef) -> str:
        return f"{f.name}_id"

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Integer()

    def column(self, f: FieldDef, entity: EntityDef, meta: Meta) -> sa.Column[Any] | None:
        """`<name>_id` with the foreign key `fk_<table>_<column>`, always indexed."""
        fk = sa.ForeignKey(
            f"{self.target_table(f)}.id",
            name=constraint_name("fk", entity.table, self.column_name(f)),
            ondelete=self.ondelete(f),
        )
        return self.make_column(f, entity, self.sa_type(f), fk, index=True)

    def to_python(self, f: FieldDef, value: Any) -> Any:
        return None if value is None else record_id(value)

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        kw["render_kw"] = {**kw["render_kw"], "data-lookup": self.target(f)}
        return wtforms.IntegerField(**kw)

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.Integer(strict=True, validate=mv.Range(min=1), **self.api_kwargs(f))

    def target_check(self, f: FieldDef, meta: Meta) -> list[ConfigProblem]:
        to = self.target(f)
        if to in meta.entities:
            return []
        hint = did_you_mean(to, list(meta.entities))
        return [
            ConfigProblem(
                "CRM-E020",
                f"field '{f.name}' looks up entity '{to}', which does not exist{hint}",
                "to",
            )
        ]


@register
class LookupType(_ReferenceType):
    """A link to a record of another entity (`to`); `on_delete`: set_null (default) or
    restrict."""

    name = "lookup"
    options_schema = {
        "to": {"type": "string", "description": "the entity this field points to"},
        "on_delete": {"type": "string", "enum": ["set_null", "restrict"]},
    }
    required_options = ("to",)

    def ondelete(self, f: FieldDef) -> str:
        return ON_DELETE.get(str(f.opt("on_delete", "set_null")), "SET NULL")

    def check(self, f: FieldDef, entity: EntityDef, meta: Meta) -> list[ConfigProblem]:
        problems = self.target_check(f, meta)
        on_delete = f.opt("on_delete", "set_null")
        if on_delete not in ON_DELETE:
            problems.append(
                ConfigProblem(
                    "CRM-E020",
                    f"field '{f.name}' has on_delete {shown(on_delete)}; use set_null or restrict",
                    "on_delete",
                )
            )
        return problems


@register
class MasterDetailType(_ReferenceType):
    """The master record of a detail (`to`): always required, deleted with its master."""

    name = "master_detail"
    options_schema = {"to": {"type": "string", "description": "the master entity"}}
    required_options = ("to",)
    on_delete = "CASCADE"

    def form_kwargs(self, f: FieldDef, locale: str = "en") -> dict[str, Any]:
        from wtforms import validators

        kw = super().form_kwargs(f, locale)
        kw["validators"] = [validators.InputRequired()]
        return kw

    def api_kwargs(self, f: FieldDef) -> dict[str, Any]:
        return {"required": True, "allow_none": False}

    def check(self, f: FieldDef, entity: EntityDef, meta: Meta) -> list[ConfigProblem]:
        return self.target_check(f, meta)


@register
class UserType(_ReferenceType):
    """A user of the CRM (`sys_user`)."""

    name = "user"

    def target(self, f: FieldDef) -> str:
        return "user"

    def target_table(self, f: FieldDef) -> str:
        return USER_TABLE
