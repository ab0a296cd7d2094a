"""Config errors: every one names the file, line and column, a stable code and a plain sentence.

Codes are stable so that documentation, tests and support can refer to them:

| code | meaning |
|---|---|
| CRM-E001 | the file is not valid YAML |
| CRM-E002 | a key appears twice in one mapping |
| CRM-E003 | the file holds neither `entity:` nor `presets:` |
| CRM-E010 | a value has the wrong type or is not one of the allowed values |
| CRM-E011 | an unknown key or option |
| CRM-E012 | a required key is missing |
| CRM-E013 | an option that does not apply to this field type |
| CRM-E014 | a name is not a valid identifier |
| CRM-E015 | a name is reserved |
| CRM-E016 | an entity is defined twice in one layer |
| CRM-E017 | an unknown field type |
| CRM-E018 | an unknown preset |
| CRM-E019 | the entity's title names a field it does not have |
| CRM-E020..E029 | checks of one field type (lookup targets, roll-ups, choices, patterns, bounds) |
| CRM-E031 | permissions name a role that config.yaml does not list |
| CRM-E032 | a layout names a field the entity does not have |
| CRM-E033 | a rule names a field the entity does not have |
| CRM-E034 | two rules share a name |
| CRM-E035 | two fields would use the same column |
| CRM-E036 | an overlay changes or removes something the base does not have |
| CRM-E037 | `renamed_from` names a field that still exists, or is used twice |
| CRM-E038 | `list:` or a view names a field the entity does not have, or sorts an unsortable one |
| CRM-E039 | a view filter uses an operator its field does not offer, or a value that does not fit |
| CRM-E040..E044 | expression errors (syntax, forbidden construct, unknown name or function) |
| CRM-E045 | a formula uses something that cannot be computed in the database |
| CRM-E046 | formulas refer to each other in a circle |
| CRM-E047 | two views of one entity share a name |
| CRM-E048 | `encrypted: true` on a field type it cannot apply to, or with `unique` / `indexed` |
| CRM-E049 | an encrypted field used where its clear value is needed (expressions, views, title) |
| CRM-E050 | config.yaml: unknown key, bad value, or an `extends` that cannot be followed |
| CRM-E060 | a workflows file holds none of `webhooks:`, `automations:`, `stages:`, `conversions:` |
| CRM-E061 | a webhook event names an unknown entity or event |
| CRM-E062 | a webhook needs exactly one of `url` or `url_env` |
| CRM-E063 | a webhook's `fields` names no field of the entities it matches |
| CRM-E064 | an automation names an unknown entity |
| CRM-E065 | an unknown action |
| CRM-E066 | action parameters that do not fit the action's schema |
| CRM-E067 | a webhook or automation defined twice in one layer, or removing a missing one |
| CRM-E068 | an action template that cannot be rendered (`{field}` only) |
| CRM-E070 | a stage machine names an unknown entity |
| CRM-E071 | a stage machine's field is not a picklist of its entity |
| CRM-E072 | a stage machine names a value its picklist does not have |
| CRM-E073 | a stage machine's transition names an unknown role |
| CRM-E074 | `require` or `set` names an unknown field, or one `set` cannot change |
| CRM-E075 | a `set` value that does not fit its field |
| CRM-E076 | two stage machines on the same field |
| CRM-E077 | a stage no record can reach from the initial values |
| CRM-E078 | `create_activity` cannot be done (no such entity, no lookup back, a bad value) |
| CRM-E090 | a conversion names an unknown entity |
| CRM-E091 | a conversion names an unknown field, or one it cannot set (computed) |
| CRM-E092 | a conversion maps a field onto one its values do not fit (kind, picklist, lookup) |
| CRM-E093 | an `@target` names no earlier target, or a field that is no lookup to it |
| CRM-E094 | a preset block maps onto a single field, or its fields do not match field by field |
| CRM-E095 | a conversion sets one target field twice |
| CRM-E096 | a conversion's `then` value does not fit its field |
| CRM-E100..E109 | approval processes and escalations (docs/workflows.md lists each) |
| CRM-E110..E117 | config test files (`crm config test`: app/configtests/checkfile.py lists each) |
| CRM-E118..E126 | reports, dashboards and alerts (reports/*.yaml: docs/reports.md lists each) |
| CRM-E127..E131 | document templates (`documents:` in workflows/*.yaml: docs/documents.md) |
| CRM-E132..E135 | conversion `lines:` (entities, `via`/`link`, `order`: docs/workflows.md) |
| CRM-E140..E143 | archiving (`archiving:` in workflows/*.yaml: docs/archiving.md lists each) |
| CRM-E144..E147 | duplicate rules (`duplicates:` in workflows/*.yaml: docs/duplicates.md) |
| CRM-E136..E139 | sales target metrics (`targets:` in workflows/*.yaml: docs/targets.md) |
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.meta.types import Source


@dataclass(frozen=True)
class ConfigError:
    code: str
    message: str
    source: Source

    def __str__(self) -> str:
        return f"{self.source}: {self.code} {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "file": self.source.file,
            "line": self.source.line,
            "column": self.source.column,
        }


class ConfigErrors(Exception):
    """Raised when a config cannot be used; holds every error found, in file order."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors = sorted(
            errors, key=lambda e: (e.source.file, e.source.line, e.source.column, e.code)
        )
        super().__init__("\n".join(str(e) for e in self.errors))
