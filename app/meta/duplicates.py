"""Duplicate rules: the `duplicates:` section of workflows/*.yaml (a feature section, see
app/meta/sections.py), read by the duplicate detection and merge service (app/dedupe).

```yaml
duplicates:
  contact_email:
    entity: contact
    label: {en: Same email, zh: 邮箱相同}
    match: [{field: email, normalize: email}]
  contact_name_phone:
    entity: contact
    match: [{field: last_name, normalize: text}, {field: first_name, normalize: text},
            {field: mobile, normalize: phone}]
  account_name: {entity: account, match: [{field: name, normalize: company}]}
```

Two records are duplicates under a rule when every field of its `match` holds a value in both
and the values are equal once normalised (`normalize`, default `exact`): `exact` as stored;
`text` NFKC (full-width -> half-width), case folded, spaces collapsed (and dropped next to
Chinese characters); `email` like text; `phone` the digits, without China's +86 / 0086;
`company` like text without legal forms (有限公司, 股份有限公司, Ltd, Inc, Co. ...) and
punctuation. Layers merge rules by name, key by key; `remove: true` drops one.

Checks (file and line): CRM-E144 the rule's entity does not exist; CRM-E145 a match field is
not a stored field of the entity (or is encrypted, a file, or computed); CRM-E146 the
normaliser does not fit the field's type; CRM-E147 a rule names one field twice or matches
exactly like another rule of its entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.meta.errors import ConfigError
from app.meta.types import IDENTIFIER, FieldDef, Labels, Meta, Source, freeze, label_text, thaw

#: how values are compared (app/dedupe/normalize.py implements each)
NORMALIZERS: tuple[str, ...] = ("exact", "text", "email", "phone", "company")
#: field types each normaliser (other than `exact`) applies to
TEXT_TYPES = frozenset({"string", "text", "email", "phone", "url", "picklist"})
FITS: Mapping[str, frozenset[str]] = {
    "text": TEXT_TYPES,
    "email": frozenset({"string", "email"}),
    "phone": frozenset({"string", "phone"}),
    "company": frozenset({"string", "text"}),
}
#: field types no rule may match on (no comparable value: files, markup, JSON columns)
UNMATCHABLE = frozenset({"file", "rich_text", "json", "tags", "multi_picklist"})

_NAME = {"type": "string", "pattern": IDENTIFIER.pattern}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "entity": _NAME,
        "label": {"type": "object", "additionalProperties": {"type": "string"}},
        "match": {"type": "array", "minItems": 1, "maxItems": 8, "items": {
            "type": "object", "additionalProperties": False, "required": ["field"],
            "properties": {"field": _NAME, "normalize": {"enum": list(NORMALIZERS)}}}},
        "remove": {"const": True},
    },
}


@dataclass(frozen=True)
class MatchField:
    """One field of a rule and how its values are compared."""

    field: str
    normalize: str = "exact"


@dataclass(frozen=True)
class DuplicateRule:
    """Records of `entity` whose `match` fields are all equal (normalised) are duplicates."""

    name: str
    entity: str
    match: tuple[MatchField, ...]
    label: Labels = field(default_factory=dict)
    #: where it is written (not part of what the rule says: equal rules compare equal)
    source: Source = field(default_factory=lambda: Source("<unknown>"), compare=False)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(m.field for m in self.match)

    def label_for(self, locale: str = "en") -> str:
        return label_text(self.label, locale, self.name.replace("_", " ").capitalize())


def rules_of(meta: Meta, entity: str | None = None) -> list[DuplicateRule]:
    """The duplicate rules of the config (of one entity), in name order."""
    found: Mapping[str, DuplicateRule] = meta.feature("duplicates")
    return [found[name] for name in sorted(found)
            if entity is None or found[name].entity == entity]


def _type_of(f: FieldDef) -> tuple[str, bool]:
    """(type name, whether it is stored and not computed)."""
    from app.fields import registry

    if f.type not in registry:
        return f.type, False
    ftype = registry.get(f.type)
    return f.type, bool(ftype.has_column and not ftype.computed and f.type != "autonumber")


def check(merged: dict[str, tuple[dict[str, Any], Any]], meta: Meta,
          errors: list[ConfigError]) -> dict[str, DuplicateRule]:
    """The merged rules (name -> (body, document)) checked against `meta`'s entities."""
    out: dict[str, DuplicateRule] = {}
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
    for name in sorted(merged):
        body, doc = merged[name]
        at = doc.positions.at
        base = ("duplicates", name)
        entity_name = str(body.get("entity") or "")
        steps = list(body.get("match") or ())
        if not entity_name or not steps:
            missing = "entity" if not entity_name else "match"
            errors.append(ConfigError("CRM-E012", f"duplicate rule '{name}' needs `{missing}`",
                                      at(base)))
            continue
        entity = meta.entities.get(entity_name)
        if entity is None:
            from app.meta.checks import _hint

            errors.append(ConfigError(
                "CRM-E144", f"duplicate rule '{name}': there is no entity "
                f"'{entity_name}'{_hint(entity_name, meta.entities)}", at((*base, "entity"))))
            continue
        match: list[MatchField] = []
        ok = True
        for i, step in enumerate(steps):
            fname = str(step.get("field"))
            how = str(step.get("normalize") or "exact")
            where = at((*base, "match", i))
            f = entity.fields.get(fname)
            problem = _field_problem(entity_name, fname, f, meta)
            if problem:
                errors.append(ConfigError("CRM-E145", f"duplicate rule '{name}': {problem}",
                                          at((*base, "match", i, "field"))))
                ok = False
                continue
            assert f is not None
            if how != "exact" and f.type not in FITS[how]:
                errors.append(ConfigError(
                    "CRM-E146", f"duplicate rule '{name}': `normalize: {how}` does not fit "
                    f"field '{fname}' of type {f.type} (it fits "
                    f"{', '.join(sorted(FITS[how]))}; `exact` fits every type)",
                    at((*base, "match", i, "normalize")) if "normalize" in step else where))
                ok = False
                continue
            if any(m.field == fname for m in match):
                errors.append(ConfigError(
                    "CRM-E147", f"duplicate rule '{name}' names field '{fname}' twice", where))
                ok = False
                continue
            match.append(MatchField(fname, how))
        if not ok:
            continue
        key = (entity_name, tuple(sorted((m.field, m.normalize) for m in match)))
        if key in seen:
            errors.append(ConfigError(
                "CRM-E147", f"duplicate rule '{name}' matches exactly like rule "
                f"'{seen[key]}' of {entity_name}", at(base)))
            continue
        seen[key] = name
        out[name] = DuplicateRule(name, entity_name, tuple(match),
                                  freeze(dict(body.get("label") or {})), at(base))
    return out


def _field_problem(entity: str, name: str, f: FieldDef | None, meta: Meta) -> str | None:
    from app.meta.checks import _hint

    if f is None:
        return (f"{entity} has no field '{name}'"
                f"{_hint(name, meta.entities[entity].fields)}")
    ftype, stored = _type_of(f)
    if not stored:
        return f"field '{name}' ({ftype}) is computed or not stored: match on stored fields"
    if f.encrypted:
        return (f"field '{name}' is encrypted (each value is encrypted differently, so "
                "equal values cannot be found)")
    if ftype in UNMATCHABLE:
        return f"field '{name}' is a {ftype} field, whose values cannot be compared"
    return None


def to_dict(defs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, rule in defs.items():
        body: dict[str, Any] = {"entity": rule.entity, "match": [
            {"field": m.field, "normalize": m.normalize} for m in rule.match]}
        if rule.label:
            body["label"] = thaw(rule.label)
        out[name] = body
    return out


def from_dict(data: Mapping[str, Any], src: Source) -> dict[str, Any]:
    return {name: DuplicateRule(
        name, str(body["entity"]),
        tuple(MatchField(str(m["field"]), str(m.get("normalize") or "exact"))
              for m in body.get("match") or ()),
        freeze(dict(body.get("label") or {})), src) for name, body in data.items()}
