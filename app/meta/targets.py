"""Sales target metrics (`targets:` in workflows/*.yaml): how each metric a target can be set
on is computed, so a client changes it in YAML instead of code.

```yaml
targets:
  revenue:
    label: {en: Revenue, zh: 收入}
    entity: opportunity          # whose records count
    measure: {sum: amount}       # or `count` (the default)
    date: close_date             # which date puts a record in a period (a date or datetime field)
    user: owner                  # whose record it is: `owner` (the default) or a user field
    when: "stage == 'won'"       # optional: only records matching this condition count
  won_deals: {entity: opportunity, measure: count, date: close_date, when: "stage == 'won'"}
  new_customers: {entity: account, date: created_at, when: "type == 'customer'"}
```

A feature section (app/meta/sections.py): entries are merged across layers by name, key by key,
`remove: true` drops one. Checked here against the entities (no Flask, no database):

| code | problem |
|---|---|
| CRM-E136 | an unknown entity; `sales_target` lacks a field, or offers an unknown metric |
| CRM-E137 | `measure`, `date` or `user` names a field the entity does not have |
| CRM-E138 | a field that does not fit its place (sum of no number, no date, no user) |
| CRM-E139 | `when` is no yes/no condition the database can compute |

(`when`'s syntax errors keep their codes CRM-E040..E044; docs/targets.md says more.)

`owner_id` is read as `owner` (the record's owner). The checked metrics land on
`Meta.feature("targets")` as `MetricDef`s; app/targets computes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from app.meta.checks import check_sql_condition
from app.meta.errors import ConfigError
from app.meta.types import IDENTIFIER, Labels, Meta, Source, freeze, label_text, thaw

#: the entity that holds the targets, and the fields the targets feature reads and writes
TARGET_ENTITY = "sales_target"
TARGET_FIELDS = {"metric": ("picklist",), "period_type": ("picklist",),
                 "period_start": ("date",), "assignee": ("user",), "team": ("picklist",),
                 "target_amount": ("currency", "decimal"), "target_count": ("integer",)}
#: how a metric's values add up
MEASURES = ("count", "sum")
#: the value kinds a sum may take, and those a `date` may be
NUMBER_KINDS = frozenset({"integer", "decimal", "currency", "percent"})
DATE_KINDS = frozenset({"date", "datetime"})
OWNER = "owner"

_NAME = {"type": "string", "pattern": IDENTIFIER.pattern}
_LABELS = {"type": "object", "additionalProperties": {"type": "string", "minLength": 1,
                                                     "maxLength": 80}}
#: JSON Schema of one metric (app/meta/sections.py)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "label": _LABELS,
        "entity": _NAME,
        "measure": {"oneOf": [
            {"enum": ["count"]},
            {"type": "object", "additionalProperties": False, "required": ["sum"],
             "properties": {"sum": _NAME}},
        ]},
        "date": _NAME,
        "user": _NAME,
        "when": {"type": "string", "minLength": 1, "maxLength": 2000},
        "remove": {"const": True},
    },
}


@dataclass(frozen=True)
class MetricDef:
    """One metric: `count` of the records of `entity` (or the `sum` of `field`) whose `date`
    falls in the period, grouped by `user` (`owner` or a user field), `when` matching."""

    name: str
    entity: str
    date: str
    user: str = OWNER
    measure: str = "count"
    field: str | None = None
    when: str | None = None
    label: Labels = dc_field(default_factory=dict)
    #: the kind of a value: `integer` (counts, sums of whole numbers), `currency`, `decimal`
    kind: str = "integer"
    source: Source = dc_field(default_factory=lambda: Source("<config>"))

    def label_for(self, locale: str = "en") -> str:
        return label_text(self.label, locale, self.name.replace("_", " ").capitalize())

    @property
    def money(self) -> bool:
        return self.kind == "currency"

    @property
    def whole(self) -> bool:
        """Whether its values (and targets) are whole numbers."""
        return self.kind == "integer"

    @property
    def target_field(self) -> str:
        """The field of `sales_target` that holds a target of this metric."""
        return "target_count" if self.whole else "target_amount"


def _hint(name: str, options: Any) -> str:
    from app.meta.checks import _hint as hint

    return hint(name, options)


def check(merged: dict[str, tuple[dict[str, Any], Any]], meta: Meta,
          errors: list[ConfigError]) -> dict[str, MetricDef]:
    """The merged `targets:` bodies checked against `meta`: name -> MetricDef."""
    out: dict[str, MetricDef] = {}
    for name, (body, doc) in merged.items():
        metric = _metric(name, body, doc, meta, errors)
        if metric is not None:
            out[name] = metric
    if out:
        _check_target_entity(out, meta, merged, errors)
    return out


def _metric(name: str, body: dict[str, Any], doc: Any, meta: Meta,
            errors: list[ConfigError]) -> MetricDef | None:
    from app.fields import registry
    from app.meta.listconf import fields_of, value_field

    at = doc.positions.at
    base: tuple[str | int, ...] = ("targets", name)
    what = f"target metric '{name}'"
    missing = [k for k in ("entity", "date") if k not in body]
    for key in missing:
        errors.append(ConfigError("CRM-E012", f"{what} needs `{key}`", at(base)))
    if missing:
        return None
    ent = str(body["entity"])
    entity = meta.entities.get(ent)
    if entity is None:
        errors.append(ConfigError("CRM-E136", f"{what}: there is no entity '{ent}'"
                                  f"{_hint(ent, meta.entities)}", at((*base, "entity"))))
        return None
    known = fields_of(entity)
    count = len(errors)

    def field_of(key: str, value: str, path: tuple[str | int, ...]) -> Any:
        f = known.get(value)
        if f is None:
            errors.append(ConfigError("CRM-E137", f"{what}: {ent} has no field '{value}' "
                                      f"(`{key}`){_hint(value, known)}", at(path)))
            return None
        if f.encrypted or f.type not in registry:
            errors.append(ConfigError("CRM-E138", f"{what}: {ent}.{value} cannot be used as "
                                      f"`{key}` (it is encrypted or of an unknown type)",
                                      at(path)))
            return None
        return f

    def kind_of(f: Any) -> str:
        return str(value_field(f, registry)[1].type)

    measure, summed, kind = "count", None, "integer"
    raw_measure = body.get("measure", "count")
    if isinstance(raw_measure, Mapping):
        measure, summed = "sum", str(raw_measure["sum"])
        path = (*base, "measure", "sum")
        f = field_of("measure", summed, path)
        if f is not None:
            kind = kind_of(f)
            if kind not in NUMBER_KINDS:
                errors.append(ConfigError("CRM-E138", f"{what}: cannot sum {ent}.{summed}: "
                                          f"it is a {kind} field, not a number", at(path)))
            elif kind == "percent":
                kind = "decimal"
    date_name = str(body["date"])
    f = field_of("date", date_name, (*base, "date"))
    if f is not None and kind_of(f) not in DATE_KINDS:
        errors.append(ConfigError("CRM-E138", f"{what}: `date` {ent}.{date_name} is a "
                                  f"{kind_of(f)} field, not a date or date-and-time",
                                  at((*base, "date"))))
    user = str(body.get("user") or OWNER)
    user = OWNER if user == "owner_id" else user
    f = field_of("user", user, (*base, "user"))
    if f is not None and f.type != "user":
        errors.append(ConfigError("CRM-E138", f"{what}: `user` {ent}.{user} is a {f.type} "
                                  "field, not a user field (or `owner`)", at((*base, "user"))))
    when = body.get("when")
    if when is not None:
        check_sql_condition(what, str(when), entity, at((*base, "when")), "CRM-E139", errors)
    if len(errors) > count:
        return None
    return MetricDef(name=name, entity=ent, date=date_name, user=user, measure=measure,
                     field=summed, when=str(when) if when else None,
                     label=freeze(dict(body.get("label") or {})), kind=kind,
                     source=at(base))



def _check_target_entity(metrics: Mapping[str, MetricDef], meta: Meta,
                         merged: Mapping[str, tuple[dict[str, Any], Any]],
                         errors: list[ConfigError]) -> None:
    """`sales_target` must have the fields targets read, and offer only defined metrics."""
    from app.fields.choices import choices_of

    first = next(iter(merged.values()))[1]
    src = first.positions.at(("targets",))
    entity = meta.entities.get(TARGET_ENTITY)
    if entity is None:
        errors.append(ConfigError("CRM-E136", f"`targets:` needs the entity '{TARGET_ENTITY}' "
                                  "to hold the targets (schemas/sales_target.yaml)", src))
        return
    for name, types in TARGET_FIELDS.items():
        f = entity.fields.get(name)
        if f is None or f.type not in types:
            errors.append(ConfigError("CRM-E136", f"`targets:` needs {TARGET_ENTITY}.{name} "
                                      f"(a {' or '.join(types)} field)", entity.source))
            return
    for choice in choices_of(entity.fields["metric"]):
        if choice.value not in merged:  # a broken metric is reported where it is written
            errors.append(ConfigError("CRM-E136", f"{TARGET_ENTITY}.metric offers "
                                      f"'{choice.value}', which no `targets:` metric defines"
                                      f"{_hint(choice.value, metrics)}", entity.source))
    periods = {c.value for c in choices_of(entity.fields["period_type"])}
    if not periods <= {"month", "quarter"}:
        errors.append(ConfigError("CRM-E136", f"{TARGET_ENTITY}.period_type may offer only "
                                  f"month and quarter, not {', '.join(sorted(periods))}",
                                  entity.source))


def to_dict(defs: Mapping[str, MetricDef]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in defs.values():
        item: dict[str, Any] = {"entity": m.entity, "date": m.date, "user": m.user,
                                "kind": m.kind}
        item["measure"] = {"sum": m.field} if m.measure == "sum" else "count"
        if m.when:
            item["when"] = m.when
        if m.label:
            item["label"] = thaw(m.label)
        out[m.name] = item
    return out


def from_dict(data: Mapping[str, Any], src: Source) -> dict[str, MetricDef]:
    out: dict[str, MetricDef] = {}
    for name, d in data.items():
        measure = d.get("measure", "count")
        summed = measure.get("sum") if isinstance(measure, Mapping) else None
        out[name] = MetricDef(name=name, entity=d["entity"], date=d["date"],
                              user=d.get("user") or OWNER,
                              measure="sum" if summed else "count", field=summed,
                              when=d.get("when"), label=freeze(dict(d.get("label") or {})),
                              kind=d.get("kind") or "integer", source=src)
    return out
