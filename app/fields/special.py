"""Special field types: file (a stored upload's description) and json (any JSON value)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import marshmallow.fields as mf
import sqlalchemy as sa
import wtforms

from app.fields.base import FieldType, FieldValueError, register, shown
from app.fields.choices import json_type
from app.i18n import _
from app.meta.types import FieldDef

PRESENCE_OPS: tuple[str, ...] = ("empty", "not_empty")
FILE_KEYS: tuple[str, ...] = ("name", "size", "content_type", "key")


def size_text(size: int) -> str:
    """1536 -> `1.5 KB`, 10485760 -> `10 MB`."""
    amount = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            text = f"{amount:.1f}".removesuffix(".0")
            return f"{text} {_('bytes') if unit == 'bytes' else unit}"
        amount /= 1024
    return f"{size} bytes"  # pragma: no cover - the loop always returns


def accepts(accept: list[str], name: str, content_type: str) -> bool:
    """Whether a file matches one of `accept`: `.pdf` or `pdf` (extension), `application/pdf`
    or `image/*` (MIME type)."""
    lower_name, lower_type = name.lower(), content_type.lower()
    for entry in (a.strip().lower() for a in accept):
        if "/" in entry:
            major, _, minor = entry.partition("/")
            if minor == "*" and lower_type.split("/")[0] == major:
                return True
            if lower_type == entry:
                return True
        elif lower_name.endswith("." + entry.lstrip(".")):
            return True
    return False


@register
class FileType(FieldType):
    """An uploaded file, kept as JSON: its name, size in bytes, content type and storage key."""

    name = "file"
    options_schema = {
        "max_size": {"type": "integer", "minimum": 1, "description": "bytes"},
        "accept": {
            "type": "array",
            "items": {"type": "string"},
            "description": "MIME types (image/*, application/pdf) or extensions (.pdf)",
        },
    }
    filter_ops = PRESENCE_OPS
    expr_kind = "any"

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return json_type()

    def to_python(self, f: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise FieldValueError(_("%(value)s is not a stored file.", value=shown(value)))
        missing = [k for k in FILE_KEYS if k not in value]
        if missing:
            raise FieldValueError(
                _("The file description lacks %(keys)s.", keys=", ".join(missing))
            )
        name, size = value["name"], value["size"]
        if not isinstance(name, str) or not name.strip():
            raise FieldValueError(_("The file has no name."))
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise FieldValueError(_("%(value)s is not a file size in bytes.", value=shown(size)))
        if not isinstance(value["content_type"], str) or not isinstance(value["key"], str):
            raise FieldValueError(_("The file's content type and storage key must be text."))
        return {k: value[k] for k in FILE_KEYS}

    def parse_text(self, f: FieldDef, raw: str) -> Any:
        if raw.strip() == "":
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise FieldValueError(_("A file cannot be read from text.")) from None
        return self.to_python(f, value)

    def validate(self, f: FieldDef, value: Any) -> list[str]:
        if not isinstance(value, Mapping):
            return []
        problems = []
        max_size = f.opt("max_size")
        if isinstance(max_size, int) and value.get("size", 0) > max_size:
            problems.append(
                _("The file is %(size)s; the limit is %(limit)s.",
                  size=size_text(value["size"]), limit=size_text(max_size))
            )
        accept = list(f.opt("accept", ()))
        if accept and not accepts(
            accept, str(value.get("name", "")), str(value.get("content_type", ""))
        ):
            problems.append(
                _("This kind of file is not accepted (use %(accepted)s).",
                  accepted=", ".join(accept))
            )
        return problems

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        return str(value.get("name", "")) if isinstance(value, Mapping) else ""

    def to_json(self, f: FieldDef, value: Any) -> Any:
        return dict(value) if isinstance(value, Mapping) else value

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        accept = f.opt("accept")
        if accept:
            kw["render_kw"] = {**kw["render_kw"], "accept": ",".join(accept)}
        return wtforms.FileField(**kw)

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.Dict(keys=mf.String(), **self.api_kwargs(f))


@register
class JsonType(FieldType):
    """Any JSON value (objects, lists, text, numbers, true/false)."""

    name = "json"
    filter_ops = PRESENCE_OPS
    expr_kind = "any"

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return json_type()

    def to_python(self, f: FieldDef, value: Any) -> Any:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise FieldValueError(
                _("%(value)s cannot be stored as JSON.", value=shown(value))
            ) from None
        return value

    def parse_text(self, f: FieldDef, raw: str) -> Any:
        if raw.strip() == "":
            return None
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise FieldValueError(
                _("%(value)s is not valid JSON (%(reason)s).",
                  value=shown(raw.strip()), reason=exc.args[0].split(":")[0])
            ) from None
        return self.to_python(f, value)

    def display(self, f: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False)

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        return wtforms.TextAreaField(**self.form_kwargs(f, locale))

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.Raw(**self.api_kwargs(f))
