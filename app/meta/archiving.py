"""Archiving (`archiving:` in workflows/*.yaml): which closed records of an entity may be
archived, and which of their dates says how old they are.

```yaml
archiving:
  case:        {when: "status == 'closed'", age_field: closed_at}
  opportunity: {when: "stage in ['won', 'lost']", age_field: close_date}
  activity:    {when: "status in ['done', 'cancelled']", age_field: due_at}
```

Each entry is named by its entity. `age_field` (required) is a date or date-and-time field of
it, or `created_at` / `updated_at`; `when` (optional) is a yes/no condition the database can
compute (the same language as rules). An admin then archives the records matching `when` whose
`age_field` is older than an age they choose (app/archive). A feature section
(app/meta/sections.py): entries merge across layers by name, key by key; `remove: true` drops
one. Checked here against the entities (no Flask, no database):

| code | problem |
|---|---|
| CRM-E140 | an entry names an unknown entity |
| CRM-E141 | `age_field` names no field of the entity, or one that is no date or date-and-time |
| CRM-E142 | `when` is no yes/no condition the database can compute (syntax: CRM-E040..E044) |
| CRM-E143 | the entity is a master-detail child: its records are archived with their parent |

The checked entries land on `Meta.feature("archiving")` as `ArchiveDef`s by entity name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from app.meta.checks import check_sql_condition
from app.meta.errors import ConfigError
from app.meta.types import IDENTIFIER, EntityDef, Meta, Source

SECTION = "archiving"
#: the value kinds an age field may have
DATE_KINDS = frozenset({"date", "datetime"})
#: system columns that may be the age field
SYSTEM_DATES = ("created_at", "updated_at")

_NAME = {"type": "string", "pattern": IDENTIFIER.pattern}
#: JSON Schema of one entry (app/meta/sections.py)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "when": {"type": "string", "minLength": 1, "maxLength": 2000},
        "age_field": _NAME,
        "remove": {"const": True},
    },
}


@dataclass(frozen=True)
class ArchiveDef:
    """Records of `entity` matching `when` (all, when None) may be archived once `age_field`
    is older than the age an admin chooses."""

    entity: str
    age_field: str
    when: str | None = None
    source: Source = dc_field(default_factory=lambda: Source("<config>"))


def _hint(name: str, options: Any) -> str:
    from app.meta.checks import _hint as hint

    return hint(name, options)


def check(merged: dict[str, tuple[dict[str, Any], Any]], meta: Meta,
          errors: list[ConfigError]) -> dict[str, ArchiveDef]:
    """The merged `archiving:` bodies checked against `meta`: entity -> ArchiveDef."""
    out: dict[str, ArchiveDef] = {}
    for name, (body, doc) in merged.items():
        found = _entry(name, body, doc, meta, errors)
        if found is not None:
            out[name] = found
    return out


def _entry(name: str, body: dict[str, Any], doc: Any, meta: Meta,
           errors: list[ConfigError]) -> ArchiveDef | None:
    at = doc.positions.at
    base: tuple[str | int, ...] = (SECTION, name)
    what = f"archiving of '{name}'"
    entity = meta.entities.get(name)
    if entity is None:
        errors.append(ConfigError("CRM-E140", f"{what}: there is no entity '{name}'"
                                  f"{_hint(name, meta.entities)}", at(base)))
        return None
    if "age_field" not in body:
        errors.append(ConfigError("CRM-E012", f"{what} needs `age_field` (the date that says "
                                  "how old a record is)", at(base)))
        return None
    count = len(errors)
    parent = _master(entity)
    if parent is not None:
        errors.append(ConfigError("CRM-E143", f"{what}: {name} is a detail of {parent} "
                                  f"(master-detail): its records are archived with their "
                                  f"{parent}; declare {parent} instead", at(base)))
    age = str(body["age_field"])
    _check_age(what, entity, age, at((*base, "age_field")), errors)
    when = body.get("when")
    if when is not None:
        check_sql_condition(what, str(when), entity, at((*base, "when")), "CRM-E142", errors)
    if len(errors) > count:
        return None
    return ArchiveDef(entity=name, age_field=age, when=str(when) if when else None,
                      source=at(base))


def _master(entity: EntityDef) -> str | None:
    """The parent entity when `entity` is the detail of a master-detail link."""
    return next((str(f.opt("to")) for f in entity if f.type == "master_detail"), None)


def _check_age(what: str, entity: EntityDef, age: str, src: Source,
               errors: list[ConfigError]) -> None:
    from app.fields import registry
    from app.meta.listconf import value_field

    if age in SYSTEM_DATES:
        return
    f = entity.fields.get(age)
    if f is None:
        options = [*entity.fields, *SYSTEM_DATES]
        errors.append(ConfigError("CRM-E141", f"{what}: {entity.name} has no field '{age}' "
                                  f"(`age_field`){_hint(age, options)}", src))
        return
    kind = value_field(f, registry)[1].type if f.type in registry else f.type
    if kind not in DATE_KINDS or f.encrypted or not registry.get(f.type).has_column:
        errors.append(ConfigError("CRM-E141", f"{what}: `age_field` {entity.name}.{age} is a "
                                  f"{kind} field; it must be a stored date or date-and-time",
                                  src))



def to_dict(defs: Mapping[str, ArchiveDef]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in defs.values():
        item: dict[str, Any] = {"age_field": d.age_field}
        if d.when:
            item["when"] = d.when
        out[d.entity] = item
    return out


def from_dict(data: Mapping[str, Any], src: Source) -> dict[str, ArchiveDef]:
    return {name: ArchiveDef(entity=name, age_field=str(d["age_field"]),
                             when=d.get("when") or None, source=src)
            for name, d in data.items()}
