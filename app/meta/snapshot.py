"""Meta <-> plain data, so a resolved config can be stored as one config version row and every
worker rebuilds exactly the same metadata without reading YAML."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.meta.types import Choice, EntityDef, FieldDef, Meta, RuleDef, Source, freeze, thaw

_FIELD_ATTRS = (
    "type", "label", "help", "required", "unique", "default", "default_expr", "min", "max",
    "max_length", "pattern", "read_only", "hidden", "indexed", "visible_when", "required_when",
    "renamed_from", "personal", "encrypted",
)


def _plain(value: Any) -> Any:
    if isinstance(value, Choice):
        out: dict[str, Any] = {"value": value.value, "label": thaw(value.label)}
        if value.color:
            out["color"] = value.color
        out.update(thaw(value.extra))
        return out
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if type(value).__name__ == "Decimal":
        return str(value)
    return value


def field_to_dict(f: FieldDef) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in _FIELD_ATTRS:
        value = getattr(f, attr)
        empty = value is None or (value is False and attr != "default") or (
            isinstance(value, Mapping | tuple) and len(value) == 0)
        if not empty or attr == "type":
            out[attr] = _plain(value)
    if f.options:
        out["options"] = _plain(f.options)
    return out


def entity_to_dict(e: EntityDef) -> dict[str, Any]:
    return {
        "label": thaw(e.label),
        "plural": thaw(e.plural),
        "title": e.title,
        "icon": e.icon,
        "fields": {f.name: field_to_dict(f) for f in e},
        "rules": [
            {"name": r.name, "when": r.when, "message": thaw(r.message), "field": r.field}
            for r in e.rules
        ],
        "permissions": thaw(e.permissions),
        "layout": thaw(e.layout),
        "removed_fields": list(e.removed_fields),
        **_lists_to_dict(e),
    }


def _lists_to_dict(e: EntityDef) -> dict[str, Any]:
    """`list` and `views`, only when set (configs without them keep their digest)."""
    out: dict[str, Any] = {}
    lst = e.list_view
    if lst.columns or lst.sort or lst.page_size:
        out["list"] = {"columns": list(lst.columns), "sort": lst.sort,
                       "page_size": lst.page_size}
    if e.views:
        out["views"] = [
            {"name": v.name, "label": thaw(v.label), "columns": list(v.columns),
             "filters": _plain(v.filters), "sort": v.sort, "search": v.search, "mine": v.mine}
            for v in e.views
        ]
    return out


def meta_to_dict(meta: Meta) -> dict[str, Any]:
    from app.meta.workflows import automations_to_dict, webhooks_to_dict

    out: dict[str, Any] = {
        "digest": meta.digest,
        "roles": list(meta.roles),
        "entities": {e.name: entity_to_dict(e) for e in meta},
    }
    if meta.webhooks:  # only when set: configs without them keep their digest
        out["webhooks"] = webhooks_to_dict(meta.webhooks)
    if meta.automations:
        out["automations"] = automations_to_dict(meta.automations)
    if meta.stages:
        from app.meta.stages import stages_to_dict

        out["stages"] = stages_to_dict(meta.stages)
    if meta.conversions:
        from app.meta.conversions import conversions_to_dict

        out["conversions"] = conversions_to_dict(meta.conversions)
    if meta.approvals or meta.escalations:
        from app.meta.approvals_snapshot import approvals_to_dict

        out.update(approvals_to_dict(meta))
    if meta.access is not None:
        from app.meta.access import access_to_dict

        out["access"] = access_to_dict(meta.access)
    if meta.reports or meta.dashboards or meta.alerts:
        from app.meta.reports import reports_to_dict

        out.update(reports_to_dict(meta))
    if meta.features:
        from app.meta.sections import features_to_dict

        out.update(features_to_dict(meta))
    return out


def meta_from_dict(data: dict[str, Any]) -> Meta:
    """Rebuild Meta from `meta_to_dict` output. Field options are normalised again by their
    type so picklist choices come back as `Choice` objects."""
    from app.fields import registry
    from app.meta.listconf import build_list_def, build_views

    entities: dict[str, EntityDef] = {}
    for name, e in data["entities"].items():
        fields: dict[str, FieldDef] = {}
        for fname, fd in e["fields"].items():
            ftype = registry.get(fd["type"])
            options = ftype.normalize_options(dict(fd.get("options", {})))
            attrs = {k: fd.get(k) for k in _FIELD_ATTRS if k in fd}
            default = attrs.pop("default", None)
            f = FieldDef(name=fname, options=freeze(options),
                         source=Source(f"config version {data.get('digest', '')[:12]}"),
                         **{k: freeze(v) for k, v in attrs.items()})
            if default is not None:
                object.__setattr__(f, "default", freeze(ftype.to_python(f, default)))
            fields[fname] = f
        entities[name] = EntityDef(
            name=name,
            label=freeze(e.get("label") or {}),
            plural=freeze(e.get("plural") or {}),
            title=e.get("title"),
            fields=freeze(fields),
            rules=tuple(
                RuleDef(r["name"], r["when"], freeze(r["message"]), r.get("field"))
                for r in e.get("rules", [])
            ),
            permissions=freeze(e.get("permissions") or {}),
            layout=freeze(e.get("layout") or []),
            removed_fields=tuple(e.get("removed_fields") or ()),
            icon=e.get("icon"),
            list_view=build_list_def(e.get("list"), Source(name)),
            views=build_views(e.get("views"), Source(name)),
        )
    from app.meta.access import access_from_dict
    from app.meta.approvals_snapshot import approvals_from_dict
    from app.meta.conversions import conversions_from_dict
    from app.meta.reports import reports_from_dict
    from app.meta.sections import features_from_dict
    from app.meta.stages import stages_from_dict
    from app.meta.workflows import automations_from_dict, webhooks_from_dict

    src = Source(f"config version {data.get('digest', '')[:12]}")
    access = access_from_dict(data["access"], src) if "access" in data else None
    return Meta(access=access, entities=freeze(entities), roles=tuple(data.get("roles") or ()),
                digest=data.get("digest", ""),
                webhooks=freeze(webhooks_from_dict(data.get("webhooks") or {}, src)),
                automations=freeze(automations_from_dict(data.get("automations") or {}, src)),
                stages=freeze(stages_from_dict(data.get("stages") or {}, src)),
                conversions=freeze(conversions_from_dict(data.get("conversions") or {}, src)),
                **approvals_from_dict(data, src), **reports_from_dict(data),
                features=freeze(features_from_dict(data, src)))
