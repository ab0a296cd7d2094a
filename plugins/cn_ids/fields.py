"""The field types `cn_resident_id` and `cn_uscc`: 18 characters, checked with their check
character. Values are stored normalised (no spaces or dashes, capital X and letters)."""

from __future__ import annotations

from typing import Any

import marshmallow.fields as mf
import sqlalchemy as sa
import wtforms

from app.fields.base import FieldType, FieldValueError, shown
from app.i18n import _
from app.meta.types import FieldDef

from . import checks

#: the text filters that make sense for an identifier (no `contains`: search by prefix)
ID_FILTER_OPS: tuple[str, ...] = ("eq", "ne", "starts_with", "in", "empty", "not_empty")


class _CnIdType(FieldType):
    """An 18-character identifier with a check character."""

    filter_ops = ID_FILTER_OPS
    expr_kind = "text"
    def problem(self, value: str) -> str | None:
        """None for a valid (normalised) value, else what is wrong."""
        raise NotImplementedError

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.String(checks.LENGTH)

    def to_python(self, f: FieldDef, value: Any) -> Any:
        """Normalised text; partial values stay (list filters use them: `starts_with 1101`);
        the check is `validate`'s."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise FieldValueError(_("%(value)s is not text.", value=shown(value)))
        return checks.normalize(value)

    def validate(self, f: FieldDef, value: Any) -> list[str]:
        if not isinstance(value, str):
            return []
        problem = self.problem(value)
        return [problem] if problem else []

    def form_field(self, f: FieldDef, locale: str = "en") -> wtforms.Field:
        kw = self.form_kwargs(f, locale)
        kw["render_kw"] = {**kw["render_kw"], "autocomplete": "off", "spellcheck": "false",
                           "class": "font-monospace"}
        return wtforms.StringField(**kw)

    def api_field(self, f: FieldDef) -> mf.Field:
        return mf.String(**self.api_kwargs(f))


class ResidentIdType(_CnIdType):
    """A mainland China resident identity number (GB 11643-1999): region code, birth date,
    sequence and an ISO 7064 MOD 11-2 check digit (0-9 or X)."""

    name = "cn_resident_id"

    def problem(self, value: str) -> str | None:
        return checks.resident_id_problem(value)


class UsccType(_CnIdType):
    """A unified social credit code of an organisation (GB 32100-2015)."""

    name = "cn_uscc"

    def problem(self, value: str) -> str | None:
        return checks.uscc_problem(value)
