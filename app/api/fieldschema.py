"""JSON Schema (OpenAPI 3.1 dialect) of each field, from its type's marshmallow API field.

Field types describe their API shape once, as a marshmallow field (`FieldType.api_field`):
validators become JSON Schema keywords here (OneOf -> enum, Range -> minimum/maximum, Length ->
maxLength). A plugin's field type gets a schema the same way, with no extra code.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow.fields as mf
import marshmallow.validate as mv

from app.fields.base import FieldType
from app.meta.types import FieldDef, label_text

#: decimals travel as text ("1234.50") so no precision is lost
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
#: integers the database can hold (32-bit)
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def _number(value: Any) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _validators(fld: mf.Field, out: dict[str, Any]) -> None:
    for v in fld.validators:
        if isinstance(v, mv.OneOf):
            out["enum"] = list(v.choices)
        elif isinstance(v, mv.Range):
            if v.min is not None:
                out["minimum"] = _number(v.min)
            if v.max is not None:
                out["maximum"] = _number(v.max)
        elif isinstance(v, mv.Length):
            if v.min is not None:
                out["minLength"] = v.min
            if v.max is not None:
                out["maxLength"] = v.max
        elif isinstance(v, mv.Regexp):
            out["pattern"] = v.regex.pattern


def value_schema(fld: mf.Field, *, for_input: bool) -> dict[str, Any]:
    """The schema of one non-null value of a marshmallow field."""
    out: dict[str, Any]
    if isinstance(fld, mf.List):
        out = {"type": "array", "items": value_schema(fld.inner, for_input=for_input)}
    elif isinstance(fld, mf.Dict):
        out = {"type": "object"}
    elif isinstance(fld, mf.Email):
        out = {"type": "string", "format": "email"}
    elif isinstance(fld, mf.Url):
        out = {"type": "string", "format": "uri"}
    elif isinstance(fld, mf.Decimal):
        text = {"type": "string", "pattern": DECIMAL_PATTERN}
        if not for_input:
            return text
        number: dict[str, Any] = {"type": "number"}
        _validators(fld, number)
        return {"anyOf": [number, text]}
    elif isinstance(fld, mf.Integer):
        out = {"type": "integer", "minimum": INT_MIN, "maximum": INT_MAX}
    elif isinstance(fld, mf.Float):
        out = {"type": "number"}
    elif isinstance(fld, mf.Boolean):
        out = {"type": "boolean"}
    elif isinstance(fld, mf.DateTime):  # AwareDateTime too
        out = {"type": "string", "format": "date-time"}
    elif isinstance(fld, mf.Date):
        out = {"type": "string", "format": "date"}
    elif isinstance(fld, mf.Time):
        out = {"type": "string", "format": "time"}
    elif isinstance(fld, mf.String):
        out = {"type": "string"}
    else:  # mf.Raw and anything a plugin invents: any JSON value
        return {}
    _validators(fld, out)
    return out


def field_schema(ftype: FieldType, f: FieldDef, *, for_input: bool) -> dict[str, Any]:
    """The schema of a field's value in API records (`for_input`: in a create or update)."""
    fld = ftype.api_field(f)
    out = value_schema(fld, for_input=for_input)
    if fld.allow_none or not for_input:
        out = _nullable(out)
    title = label_text(f.label, "en", f.name)
    if title:
        out["title"] = title
    help_text = label_text(f.help, "en", "")
    if help_text:
        out["description"] = help_text
    if ftype.computed or f.read_only:
        out["readOnly"] = True
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if not schema:
        return schema
    kind = schema.get("type")
    if isinstance(kind, str):
        out = {**schema, "type": [kind, "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [schema, {"type": "null"}]}
