"""What an import is told: which column goes to which field (`Mapping`), and how to read and
write the rows (`ImportOptions`). Both are kept as JSON on the import (and in templates) and
checked against the entity as the acting user sees it before anything runs: every problem is
a sentence naming the column, field or option (`SetupProblem`, 400)."""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from app.fields.dates import DATE_ORDERS
from app.i18n import _
from app.records.errors import RecordError
from app.records.values import OWNER

if TYPE_CHECKING:
    from app.imports.mapping import Target

DEDUPE_MODES = ("normalised", "exact")
DEDUPE_MATCHES = ("any", "all")
ON_DUPLICATE = ("skip", "update", "create")
#: a lookup's key field meaning the record id itself
ID_KEY = "id"


class SetupProblem(RecordError):
    """A mapping or option that cannot work; nothing was imported."""

    status = 400


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file and write its rows.

    - `date_order`: dmy, mdy or ymd, how 05/03/2024 is read (None: refused as ambiguous);
    - `dedupe`: fields that find duplicates, `dedupe_mode` normalised (case, spaces, full-width
      characters, phone digits) or exact, `dedupe_match` any (one field matching is enough)
      or all (every one must match), `on_duplicate` skip, update or create;
    - `upsert_key`: a field whose value finds the record to update (rows without a match are
      created);
    - `lookup_keys`: lookup or user field -> the field of the target the cells hold (a lookup
      to account by `name`; `id` for record ids; users by username, full name or email);
    - `sheet`, `header_row`, `encoding`, `delimiter`: how the file is read (found at upload).
    """

    date_order: str | None = None
    dedupe: tuple[str, ...] = ()
    dedupe_mode: str = "normalised"
    dedupe_match: str = "any"
    on_duplicate: str = "skip"
    upsert_key: str | None = None
    lookup_keys: MappingABC[str, str] = field(default_factory=dict)
    sheet: str | None = None
    header_row: int | None = None
    encoding: str | None = None
    delimiter: str | None = None

    @classmethod
    def from_json(cls, data: MappingABC[str, Any] | None) -> ImportOptions:
        """Options from JSON (a stored import, a template, a form, the CLI); a value of the
        wrong kind is a SetupProblem naming the option."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise SetupProblem(_("Unknown import option %(name)s.", name=repr(unknown[0])))

        def choice(key: str, allowed: tuple[str, ...], default: str | None) -> str | None:
            value = data.get(key, default)
            if value in (None, "") and default is None:
                return None
            if value not in allowed:
                raise SetupProblem(_("%(option)s must be one of %(allowed)s, not %(value)s.",
                                     option=key, allowed=", ".join(allowed),
                                     value=repr(value)))
            return str(value)

        dedupe = data.get("dedupe") or ()
        if isinstance(dedupe, str):
            dedupe = [part.strip() for part in dedupe.split(",") if part.strip()]
        if not isinstance(dedupe, list | tuple) or not all(isinstance(d, str) for d in dedupe):
            raise SetupProblem(_("dedupe must be a list of field names."))
        keys = data.get("lookup_keys") or {}
        if not isinstance(keys, MappingABC) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
            raise SetupProblem(_("lookup_keys must map field names to field names."))
        header_row = data.get("header_row")
        if header_row is not None and (isinstance(header_row, bool)
                                       or not isinstance(header_row, int) or header_row < 1):
            raise SetupProblem(_("header_row must be a row number (1 or more)."))
        text = {k: data.get(k) for k in ("upsert_key", "sheet", "encoding", "delimiter")}
        for key, value in text.items():
            if value is not None and not isinstance(value, str):
                raise SetupProblem(_("%(option)s must be text.", option=key))
        return cls(date_order=choice("date_order", DATE_ORDERS, None),
                   dedupe=tuple(dict.fromkeys(dedupe)),
                   dedupe_mode=str(choice("dedupe_mode", DEDUPE_MODES, "normalised")),
                   dedupe_match=str(choice("dedupe_match", DEDUPE_MATCHES, "any")),
                   on_duplicate=str(choice("on_duplicate", ON_DUPLICATE, "skip")),
                   upsert_key=text["upsert_key"] or None, lookup_keys=dict(keys),
                   sheet=text["sheet"] or None, header_row=header_row,
                   encoding=text["encoding"] or None, delimiter=text["delimiter"] or None)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["dedupe"] = list(self.dedupe)
        out["lookup_keys"] = dict(self.lookup_keys)
        return out

    def reading(self) -> dict[str, Any]:
        """The options of `reader.read_rows`."""
        return {"sheet": self.sheet, "header_row": self.header_row,
                "encoding": self.encoding, "delimiter": self.delimiter}

    def check(self, targets: MappingABC[str, Target], mapped: set[str]) -> None:
        """Raise SetupProblem unless the fields these options name fit the entity (as the
        acting user sees it: `targets`) and the mapping (`mapped`: the fields columns go
        to)."""
        for name in self.dedupe:
            if name not in mapped:
                raise SetupProblem(_("Duplicates are looked for in %(field)s, but no column "
                                     "goes to it.", field=_field_name(targets, name)))
            if name == OWNER or targets[name].field.encrypted:
                raise SetupProblem(_("%(field)s cannot be used to find duplicates.",
                                     field=_field_name(targets, name)))
        if self.upsert_key is not None:
            key = self.upsert_key
            if key not in mapped:
                raise SetupProblem(_("Records are matched by %(field)s, but no column goes to "
                                     "it.", field=_field_name(targets, key)))
            if key == OWNER or targets[key].field.encrypted:
                raise SetupProblem(_("%(field)s cannot be used to match records.",
                                     field=_field_name(targets, key)))
        for name, key in self.lookup_keys.items():
            target = targets.get(name)
            if target is None or not target.is_reference:
                raise SetupProblem(_("%(field)s is not a lookup or user field.",
                                     field=_field_name(targets, name)))
            if key not in target.key_choices:
                raise SetupProblem(_("%(field)s cannot be matched by %(key)s; use one of "
                                     "%(keys)s.", field=target.label, key=repr(key),
                                     keys=", ".join(target.key_choices)))


def _field_name(targets: MappingABC[str, Target], name: str) -> str:
    target = targets.get(name)
    return target.label if target is not None else repr(name)
