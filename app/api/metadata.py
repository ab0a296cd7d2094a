"""`/api/v1/meta`: the entities and fields of the live config, for clients that build their
own forms or mappings: labels in both languages, types, options, filter operators."""

from __future__ import annotations

from typing import Any

from app.api.serialize import api_fields
from app.meta.access import ACTIONS, SCOPED_ACTIONS
from app.meta.snapshot import field_to_dict
from app.meta.types import EntityDef, Meta, thaw
from app.records import Records


def describe(meta: Meta, records: Records, version: int | None) -> dict[str, Any]:
    """The entities the caller may read, with the fields they may see and what they may do."""
    access = records.access()
    return {"version": version,
            "entities": [describe_entity(records, e) for e in meta.entities.values()
                         if access.allows(e.name, "read")]}


def describe_entity(records: Records, entity: EntityDef) -> dict[str, Any]:
    fields = []
    for f in api_fields(records, entity):
        ftype = records.registry.get(f.type)
        out = {"name": f.name, **field_to_dict(f)}
        out.update(required=bool(f.required), computed=ftype.computed,
                   filter_ops=list(ftype.filter_ops_of(f)))
        fields.append(out)
    grants = records.access().entity(entity.name)
    may = {a: (grants.scope(a) if a in SCOPED_ACTIONS else grants.allows(a)) for a in ACTIONS}
    return {"name": entity.name, "label": thaw(entity.label), "plural": thaw(entity.plural),
            "title": entity.title, "path": f"/api/v1/{entity.name}", "fields": fields,
            "access": may}
