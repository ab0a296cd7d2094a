"""Which column goes to which field: the fields an import may fill (`targets`, as the acting
user sees the entity), the automatic match of column names to field names and labels in
English and Chinese, the checked mapping (`resolve`), and mapping templates kept for reuse
(`sys_import_template`)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.i18n import _, get_locale
from app.imports.options import ID_KEY, ImportOptions, SetupProblem
from app.meta.types import FieldDef, freeze
from app.model.imports import import_templates
from app.records.change import Actor
from app.records.values import OWNER

if TYPE_CHECKING:
    from app.records.service import Records

#: field types a lookup may be matched by (the cell holds that field's value)
KEY_TYPES = frozenset({"string", "email", "phone", "url", "autonumber", "integer"})
#: field types an import cannot fill from a cell
NOT_IMPORTED = frozenset({"file"})
#: how a user (a `user` field, the owner) may be named in a cell
USER_KEYS = ("username", "full_name", "email", ID_KEY)
OWNER_FIELD = FieldDef(OWNER, "user", label=freeze({"en": "Owner", "zh": "负责人"}))
#: what else a column of owners may be called
OWNER_NAMES = ("owner", "owner_id", "负责人", "所有人", "拥有者", "记录所有者")
_PUNCTUATION = re.compile(r"[\s_\-./:：()（）\[\]【】#*]+")


def norm(text: str) -> str:
    """A column or field name as compared: NFKC (full-width -> half-width), case folded,
    without spaces, _ - . / : and brackets: `E-mail` and `email`, `Ｍｏｂｉｌｅ` and `mobile`."""
    return _PUNCTUATION.sub("", unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True)
class Target:
    """A field an import may fill (or the owner)."""

    name: str
    field: FieldDef
    label: str
    #: normalised names a column may have to match it
    names: frozenset[str]
    #: for lookup and user fields (and the owner): what the cells may name records by
    key_choices: tuple[str, ...] = ()
    #: the target entity of a lookup ("user" for users and the owner)
    to: str | None = None

    @property
    def is_reference(self) -> bool:
        return bool(self.key_choices)

    @property
    def default_key(self) -> str | None:
        return self.key_choices[0] if self.key_choices else None


def targets(records: Records, entity: str, actor: Actor) -> dict[str, Target]:
    """Field name -> Target for each field `actor` may import into: stored, not computed,
    not hidden from them, not read-only for them (the system may fill read-only fields),
    and the owner."""
    acc = records.access(actor)
    hidden, read_only = acc.hidden(entity), acc.read_only(entity)
    spec = records.spec(entity)
    locale = actor.locale or get_locale()
    out: dict[str, Target] = {}
    for f in spec.writable:
        if f.name in hidden or f.type in NOT_IMPORTED or (
                (f.read_only or f.name in read_only) and not actor.is_system):
            continue
        names = {norm(f.name), *(norm(v) for v in f.label.values() if v)}
        keys: tuple[str, ...] = ()
        to = None
        if f.type in ("lookup", "master_detail"):
            to = str(f.opt("to"))
            names.add(norm(f"{f.name}_id"))
            keys = key_fields(records, to, actor)
        elif f.type == "user":
            to, keys = "user", USER_KEYS
            names.add(norm(f"{f.name}_id"))
        out[f.name] = Target(f.name, f, f.label_for(locale), frozenset(names - {""}), keys, to)
    out[OWNER] = Target(OWNER, OWNER_FIELD, OWNER_FIELD.label_for(locale),
                        frozenset(norm(n) for n in (*OWNER_NAMES, *OWNER_FIELD.label.values())),
                        USER_KEYS, "user")
    return out


def key_fields(records: Records, entity: str, actor: Actor) -> tuple[str, ...]:
    """The fields of `entity` a lookup's cells may name its records by: the title first, then
    unique fields, then other text and number fields the actor may see, and `id`."""
    e = records.entity(entity)
    hidden = records.access(actor).hidden(entity)
    formulas = records.models.formulas.get(entity, {})

    def usable(f: FieldDef) -> bool:
        if f.name in hidden or f.encrypted:
            return False
        if f.type == "formula":
            return f.name in formulas and f.opt("result") in ("string", "text")
        return f.type in KEY_TYPES and f.name in records.spec(entity).columns

    fields = [f for f in e if usable(f)]
    fields.sort(key=lambda f: (f.name != e.title, not f.unique))
    return (*(f.name for f in fields), ID_KEY)


def auto_match(columns: Iterable[str], found: Mapping[str, Target],
               taken: Iterable[str] = ()) -> dict[str, str | None]:
    """Column -> the field whose name or label (any language) it is, compared by `norm`;
    None for a column that matches no field (or only one an earlier column took)."""
    used = set(taken)
    by_name: dict[str, str] = {}
    for target in found.values():
        for n in target.names:
            by_name.setdefault(n, target.name)
    out: dict[str, str | None] = {}
    for column in columns:
        name = by_name.get(norm(column))
        if name is not None and name not in used:
            used.add(name)
            out[column] = name
        else:
            out[column] = None
    return out


@dataclass(frozen=True)
class Column:
    """One mapped column: its position in the row, its name and the field it fills."""

    index: int
    name: str
    target: Target


def resolve(columns: list[str], mapping: Mapping[str, Any], found: Mapping[str, Target]
            ) -> list[Column]:
    """The mapped columns, checked: every column named is in the file, every field is one
    the user may import into, no field twice, at least one column. SetupProblem else."""
    out: list[Column] = []
    by_field: dict[str, str] = {}
    for column, name in mapping.items():
        if name in (None, ""):
            continue
        if column not in columns:
            raise SetupProblem(_("The file has no column %(column)s.", column=repr(column)))
        if not isinstance(name, str) or name not in found:
            raise SetupProblem(_("Column %(column)s: there is no field %(field)s you may "
                                 "import into.", column=repr(column), field=repr(name)))
        if name in by_field:
            raise SetupProblem(_("Columns %(first)s and %(second)s both go to %(field)s.",
                                 first=repr(by_field[name]), second=repr(column),
                                 field=found[name].label))
        by_field[name] = column
        out.append(Column(columns.index(column), column, found[name]))
    if not out:
        raise SetupProblem(_("No column goes to a field: choose at least one."))
    return sorted(out, key=lambda c: c.index)


def missing_required(records: Records, entity: str, mapped: Iterable[str]) -> list[str]:
    """Labels of required fields no column fills and no default fills (new rows will fail)."""
    given = set(mapped)
    return [f.label_for(get_locale()) for f in records.spec(entity).writable
            if f.required and f.name not in given and f.default is None
            and f.default_expr is None]


# --- templates -------------------------------------------------------------------------------
def save_template(conn: sa.Connection, name: str, entity: str, mapping: Mapping[str, Any],
                  options: ImportOptions, owner_id: int | None) -> int:
    """Keep a mapping and its options under `name` (replacing the owner's template of that
    name for this entity). The file's own reading options are not kept."""
    name = " ".join(name.split())[:120]
    if not name:
        raise SetupProblem(_("A template needs a name."))
    kept = {k: v for k, v in options.to_json().items() if k not in ("encoding", "delimiter")}
    values = {"mapping": {str(k): v for k, v in mapping.items() if v},
              "options": kept, "updated_at": datetime.now(UTC)}
    found = _template_row(conn, entity, name, owner_id)
    if found is not None:
        conn.execute(import_templates.update().where(import_templates.c.id == found.id)
                     .values(values))
        return int(found.id)
    return int(conn.execute(import_templates.insert().values(
        name=name, entity=entity, owner_id=owner_id, created_at=values["updated_at"],
        **values).returning(import_templates.c.id)).scalar_one())


def templates(conn: sa.Connection, entity: str, owner_id: int | None) -> list[dict[str, Any]]:
    """The templates of `owner_id` for `entity`, by name."""
    t = import_templates
    owner = t.c.owner_id.is_(None) if owner_id is None else t.c.owner_id == owner_id
    rows = conn.execute(sa.select(t).where(t.c.entity == entity, owner).order_by(t.c.name))
    return [dict(r._mapping) for r in rows]


def load_template(conn: sa.Connection, entity: str, name: str, owner_id: int | None
                  ) -> dict[str, Any]:
    row = _template_row(conn, entity, name, owner_id)
    if row is None:
        raise SetupProblem(_("There is no import template %(name)s for %(entity)s.",
                             name=repr(name), entity=entity))
    return dict(row._mapping)


def _template_row(conn: sa.Connection, entity: str, name: str, owner_id: int | None
                  ) -> Any:
    t = import_templates
    owner = t.c.owner_id.is_(None) if owner_id is None else t.c.owner_id == owner_id
    return conn.execute(sa.select(t).where(t.c.entity == entity, t.c.name == name, owner)
                        ).first()


def apply_template(columns: list[str], template: Mapping[str, Any],
                   found: Mapping[str, Target]) -> dict[str, str | None]:
    """The template's mapping for the columns this file has (fields the user may no longer
    import into left out), the other columns matched automatically."""
    kept = {c: f for c, f in (template.get("mapping") or {}).items()
            if c in columns and f in found}
    rest = auto_match([c for c in columns if c not in kept], found, taken=kept.values())
    return {c: kept.get(c, rest.get(c)) for c in columns}
