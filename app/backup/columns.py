"""Portable column descriptions and the value codecs of a backup archive.

A column of the archive is described by a `ColumnSpec`: its name, a portable type (one of
`KINDS`, with length, precision, scale or time zone), nullability, primary key, server default
and foreign key. The same description creates the column on SQLite or on PostgreSQL, which is
what lets an archive made on one restore on the other.

Values are written as JSON, by kind (`encoder`): integers and booleans as JSON, numerics as
the exact decimal text, dates and times in ISO 8601 (datetimes of time-zone columns in UTC with
`+00:00`; SQLite gives them back naive, and they are UTC), bytes in base64, JSON columns as the
document's text (so a JSON `null` and an SQL NULL stay apart, and the text is kept as stored).
`raw` columns (a type the archive has no kind for, or a SQLite table made by
`CREATE TABLE ... AS`, whose declared types say little) keep the driver's values, with bytes
and non-finite floats tagged.

`canonical` maps an encoded value to the form the checksums use: the same on both databases
(decimals without trailing zeros, JSON documents re-serialised with sorted keys), so a restore
into the other database checks against the same numbers.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

KINDS = frozenset({
    "integer", "bigint", "smallint", "boolean", "string", "text", "numeric", "float", "date",
    "time", "datetime", "json", "binary", "raw",
})
#: what a table, column or index name may look like (checked before any DDL)
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
#: a declared SQL type of a `raw` column (SQLite's free-form names, PostgreSQL's own types)
DDL_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]{0,60}(\(\s*\d+(\s*,\s*\d+)?\s*\))?(\[\])?$|^$")
#: server defaults the archive can carry
DEFAULT_LITERAL = re.compile(r"^-?\d{1,18}(\.\d{1,18})?$")
ON_DELETE = frozenset({"CASCADE", "SET NULL", "RESTRICT", "NO ACTION", "SET DEFAULT"})

Encoder = Callable[[Any], Any]


class SpecError(ValueError):
    """A column description that is not one this archive format allows."""


def identifier(name: Any, what: str) -> str:
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise SpecError(f"{what} {name!r} is not a valid name")
    return name


@dataclass(frozen=True)
class TypeSpec:
    kind: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    timezone: bool = False
    #: json: stored as JSONB on PostgreSQL
    binary: bool = False
    #: raw: the declared type, and the database it was declared on
    ddl: str | None = None
    dialect: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for key in ("length", "precision", "scale", "ddl", "dialect"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.timezone:
            out["timezone"] = True
        if self.binary:
            out["binary"] = True
        return out

    @classmethod
    def from_dict(cls, data: Any) -> TypeSpec:
        if not isinstance(data, Mapping) or data.get("kind") not in KINDS:
            raise SpecError(f"unknown column type {data!r}")
        ints = {}
        for key in ("length", "precision", "scale"):
            value = data.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or not 0 <= value <= 100_000):
                raise SpecError(f"bad {key} {value!r} in column type")
            ints[key] = value
        ddl, dialect = data.get("ddl"), data.get("dialect")
        if ddl is not None and (not isinstance(ddl, str) or not DDL_TYPE.match(ddl)):
            raise SpecError(f"bad declared type {ddl!r}")
        if dialect not in (None, "sqlite", "postgresql"):
            raise SpecError(f"bad dialect {dialect!r} in column type")
        return cls(kind=str(data["kind"]), timezone=bool(data.get("timezone")),
                   binary=bool(data.get("binary")), ddl=ddl, dialect=dialect, **ints)


@dataclass(frozen=True)
class ForeignKeySpec:
    table: str
    column: str
    ondelete: str | None = None
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"table": self.table, "column": self.column}
        if self.ondelete:
            out["ondelete"] = self.ondelete
        if self.name:
            out["name"] = self.name
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ForeignKeySpec:
        if not isinstance(data, Mapping):
            raise SpecError(f"bad foreign key {data!r}")
        ondelete = data.get("ondelete")
        if ondelete is not None and str(ondelete).upper() not in ON_DELETE:
            raise SpecError(f"bad ON DELETE {ondelete!r}")
        name = data.get("name")
        return cls(table=identifier(data.get("table"), "table"),
                   column=identifier(data.get("column"), "column"),
                   ondelete=str(ondelete).upper() if ondelete else None,
                   name=identifier(name, "constraint") if name is not None else None)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: TypeSpec
    nullable: bool = True
    primary_key: bool = False
    autoincrement: bool = False
    #: "now" (CURRENT_TIMESTAMP) or a number literal
    default: str | None = None
    foreign_key: ForeignKeySpec | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type.to_dict(),
                               "nullable": self.nullable}
        if self.primary_key:
            out["primary_key"] = True
        if self.autoincrement:
            out["autoincrement"] = True
        if self.default is not None:
            out["default"] = self.default
        if self.foreign_key is not None:
            out["foreign_key"] = self.foreign_key.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ColumnSpec:
        if not isinstance(data, Mapping):
            raise SpecError(f"bad column {data!r}")
        default = data.get("default")
        if default is not None and default != "now" and not (
                isinstance(default, str) and DEFAULT_LITERAL.match(default)):
            raise SpecError(f"bad server default {default!r}")
        fk = data.get("foreign_key")
        return cls(name=identifier(data.get("name"), "column"),
                   type=TypeSpec.from_dict(data.get("type")),
                   nullable=bool(data.get("nullable", True)),
                   primary_key=bool(data.get("primary_key")),
                   autoincrement=bool(data.get("autoincrement")), default=default,
                   foreign_key=ForeignKeySpec.from_dict(fk) if fk is not None else None)


# --- SQLAlchemy types <-> TypeSpec ------------------------------------------------------------
def type_spec(sql: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> TypeSpec:
    """The portable type of a column typed `sql` (a type from the code, or one reflected on
    `dialect`)."""
    variants = getattr(sql, "_variant_mapping", {}) or {}
    if isinstance(sql, sa.types.TypeDecorator):
        sql = sql.impl_instance
    if isinstance(sql, postgresql.JSONB):
        return TypeSpec("json", binary=True)
    if isinstance(sql, sa.JSON):
        return TypeSpec("json", binary=isinstance(variants.get("postgresql"), postgresql.JSONB))
    if isinstance(sql, sa.Boolean):
        return TypeSpec("boolean")
    if isinstance(sql, sa.BigInteger):
        return TypeSpec("bigint")
    if isinstance(sql, sa.SmallInteger):
        return TypeSpec("smallint")
    if isinstance(sql, sa.Integer):
        return TypeSpec("integer")
    if isinstance(sql, sa.Float):
        return TypeSpec("float")
    if isinstance(sql, sa.Numeric):
        return TypeSpec("numeric", precision=sql.precision, scale=sql.scale)
    if isinstance(sql, sa.DateTime):
        return TypeSpec("datetime", timezone=bool(sql.timezone))
    if isinstance(sql, sa.Date):
        return TypeSpec("date")
    if isinstance(sql, sa.Time):
        return TypeSpec("time", timezone=bool(sql.timezone))
    if isinstance(sql, sa.Enum | sa.Interval | sa.Uuid):
        return raw_spec(sql, dialect)
    if isinstance(sql, sa.Text):
        return TypeSpec("text")
    if isinstance(sql, sa.String):
        return TypeSpec("string", length=sql.length) if sql.length else TypeSpec("text")
    if isinstance(sql, sa.LargeBinary):
        return TypeSpec("binary")
    return raw_spec(sql, dialect)


def raw_spec(sql: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> TypeSpec:
    try:
        ddl = "" if isinstance(sql, sa.types.NullType) else sql.compile(dialect=dialect)
    except sa.exc.CompileError:
        ddl = ""
    if not DDL_TYPE.match(ddl):
        ddl = ""
    return TypeSpec("raw", ddl=ddl, dialect=dialect.name)


class DeclaredType(sa.types.UserDefinedType[Any]):
    """A column type written as declared (a `raw` column on the database it came from)."""

    cache_ok = True

    def __init__(self, ddl: str) -> None:
        self.ddl = ddl

    def get_col_spec(self, **kw: Any) -> str:
        return self.ddl


def sa_type(spec: TypeSpec, dialect: str) -> sa.types.TypeEngine[Any]:
    """The column type of `spec` on `dialect` ("sqlite" or "postgresql")."""
    kind = spec.kind
    simple: dict[str, sa.types.TypeEngine[Any]] = {
        "integer": sa.Integer(), "bigint": sa.BigInteger(), "smallint": sa.SmallInteger(),
        "boolean": sa.Boolean(), "text": sa.Text(), "float": sa.Double(), "date": sa.Date(),
        "binary": sa.LargeBinary(),
    }
    if kind in simple:
        return simple[kind]
    if kind == "string":
        return sa.String(spec.length)
    if kind == "numeric":
        return sa.Numeric(spec.precision, spec.scale)
    if kind == "datetime":
        return sa.DateTime(timezone=spec.timezone)
    if kind == "time":
        return sa.Time(timezone=spec.timezone)
    if kind == "json":
        return sa.JSON().with_variant(postgresql.JSONB(), "postgresql") if spec.binary \
            else sa.JSON()
    if spec.dialect == dialect:
        return DeclaredType(spec.ddl or "") if spec.ddl or dialect == "sqlite" \
            else sa.Text()
    return _raw_elsewhere(spec)


def _raw_elsewhere(spec: TypeSpec) -> sa.types.TypeEngine[Any]:
    """A `raw` column restored on the other database: SQLite's type affinity picks a type
    (integers, floats, everything else as text)."""
    ddl = (spec.ddl or "").upper()
    if spec.dialect == "sqlite" and "INT" in ddl:
        return sa.BigInteger()
    if spec.dialect == "sqlite" and any(k in ddl for k in ("REAL", "FLOA", "DOUB")):
        return sa.Double()
    return sa.Text()


def raw_target(spec: TypeSpec, dialect: str) -> str:
    """How a `raw` column's values are written on `dialect`: as they are ("same"), or as an
    integer, float or text on the other database."""
    if spec.dialect == dialect:
        return "same"
    t = _raw_elsewhere(spec)
    return "int" if isinstance(t, sa.BigInteger) else "float" if isinstance(t, sa.Double) \
        else "text"


# --- reading ---------------------------------------------------------------------------------
def read_expression(col: sa.ColumnClause[Any], spec: TypeSpec, dialect: str
                    ) -> sa.ColumnElement[Any]:
    """The SELECT expression that reads a column as its kind expects: JSON as text, raw
    columns untouched (SQLite) or as text (PostgreSQL), the rest typed."""
    if spec.kind == "json":
        return sa.cast(col, sa.Text()).label(col.name)
    if spec.kind == "raw":
        if dialect == "postgresql":
            return sa.cast(col, sa.Text()).label(col.name)
        return sa.type_coerce(col, sa.types.NullType()).label(col.name)
    return sa.type_coerce(col, sa_type(spec, dialect)).label(col.name)


def _utc(value: datetime, timezone: bool) -> str:
    if value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()
    return value.replace(tzinfo=UTC).isoformat() if timezone else value.isoformat()


def _float(value: Any) -> Any:
    value = float(value)
    return value if math.isfinite(value) else str(value)


def _raw(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode("ascii")}
    return str(value)


def _required(fn: Encoder) -> Encoder:
    def out(value: Any) -> Any:
        return None if value is None else fn(value)

    return out


def encoder(spec: TypeSpec) -> Encoder:
    """Database value -> JSON value."""
    kind = spec.kind
    if kind in ("integer", "bigint", "smallint"):
        return _required(int)
    if kind == "boolean":
        return _required(bool)
    if kind in ("string", "text", "json"):
        return _required(str)
    if kind == "numeric":
        return _required(lambda v: str(v if isinstance(v, Decimal) else Decimal(str(v))))
    if kind == "float":
        return _required(_float)
    if kind in ("date", "time"):
        return _required(lambda v: v.isoformat())
    if kind == "datetime":
        return _required(lambda v: _utc(v, spec.timezone))
    if kind == "binary":
        return _required(lambda v: base64.b64encode(bytes(v)).decode("ascii"))
    return _raw


# --- writing ---------------------------------------------------------------------------------
def _unraw(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$b64"}:
            return base64.b64decode(str(value["$b64"]), validate=True)
        if set(value) == {"$float"}:
            return float(str(value["$float"]))
        raise ValueError(f"unknown tagged value {value!r}")
    if isinstance(value, list):
        raise ValueError("a list is not a column value")
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


_SHOWN = {int: "whole number", bool: "true or false", str: "text"}


def _check(kind: type | tuple[type, ...], value: Any) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        shown = _SHOWN.get(kind, "number") if isinstance(kind, type) else "number"
        raise ValueError(f"{str(value)[:40]!r} is not a {shown}")
    return value


def decoder(spec: TypeSpec, dialect: str) -> Encoder:
    """JSON value -> the value to bind on `dialect`. Raises ValueError on a value that does
    not fit its kind."""
    kind = spec.kind
    if kind in ("integer", "bigint", "smallint"):
        return _required(lambda v: _check(int, v))
    if kind == "boolean":
        return _required(lambda v: _check(bool, v))
    if kind in ("string", "text", "json"):
        return _required(lambda v: _check(str, v))
    if kind == "numeric":
        return _required(lambda v: Decimal(_check(str, v)))
    if kind == "float":
        return _required(lambda v: float(_check((int, float, str), v)))
    if kind == "date":
        return _required(lambda v: date.fromisoformat(_check(str, v)))
    if kind == "time":
        return _required(lambda v: time.fromisoformat(_check(str, v)))
    if kind == "datetime":
        return _required(lambda v: _moment(_check(str, v), spec.timezone))
    if kind == "binary":
        return _required(lambda v: base64.b64decode(_check(str, v), validate=True))
    target = raw_target(spec, dialect)
    if target == "same":
        return _unraw
    if target == "int":
        return _required(lambda v: int(_unraw(v)))
    if target == "float":
        return _required(lambda v: float(_unraw(v)))
    return _required(lambda v: _as_text(_unraw(v)))


def _moment(text: str, timezone: bool) -> datetime:
    value = datetime.fromisoformat(text)
    if timezone and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def bind_expression(name: str, spec: TypeSpec, dialect: str) -> sa.ColumnElement[Any]:
    """The VALUES expression of a column in the restore's INSERT."""
    if spec.kind == "json":
        param = sa.bindparam(name, type_=sa.Text())
        return sa.cast(param, sa_type(spec, dialect)) if dialect == "postgresql" else param
    if spec.kind == "raw" and raw_target(spec, dialect) == "same":
        if dialect == "postgresql" and spec.ddl:
            return sa.cast(sa.bindparam(name, type_=sa.Text()), DeclaredType(spec.ddl))
        return sa.bindparam(name, type_=sa.types.NullType())
    return sa.bindparam(name, type_=sa_type(spec, dialect))


# --- checksums -------------------------------------------------------------------------------
def _canonical_decimal(value: Any) -> Any:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return value
    if not number.is_finite():
        return str(number)
    if number == 0:
        return "0"
    text = format(number.normalize(), "f")
    return text


def _canonical_json(value: Any) -> Any:
    try:
        doc = json.loads(value)
    except (TypeError, ValueError, RecursionError):
        return value
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical(spec: TypeSpec) -> Encoder | None:
    """Encoded value -> the form the checksum uses (None: the value as encoded)."""
    if spec.kind == "numeric":
        return _required(_canonical_decimal)
    if spec.kind == "json":
        return _required(_canonical_json)
    return None
