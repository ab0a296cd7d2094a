"""What the config files say before the designer's layer: the raw entries the designer pages
edit, read from a `ConfigFiles` (the admin's draft), layer by layer.

The designer writes to the deployment's own (top) layer only. An overlay's entry is merged on
top of the base pack's, key by key, so a form that wants a key to take the role default again
cannot just leave it out when a lower layer sets it: it must write the value. These helpers say
what the lower layers set (`lower_permission`, `lower_role`) and build the top layer's entry
that yields the wanted values (`top_entry`). Workflow items (stage machines, approval
processes, escalations) are read raw, merged across layers as the loader merges them, with the
layers that define them (`workflow_items`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from app.meta import yamlpos
from app.meta.files import ConfigFiles, FileKey


def documents(files: ConfigFiles, kind: str, layers: Sequence[int] | None = None
              ) -> Iterator[tuple[FileKey, dict[str, Any]]]:
    """The mapping documents of `kind` in `layers` (default: all), base layer first, as the
    loader reads them (`*.example.yaml` files are skipped; broken files too: loading the
    config reports them)."""
    wanted = range(len(files.dirs.get(kind, ()))) if layers is None else layers
    for layer in wanted:
        for key in files.keys(kind, layer):
            if ".example." in key.name:
                continue
            try:
                data = yamlpos.safe_load(files.texts[key])
            except yaml.YAMLError:
                continue
            if isinstance(data, dict):
                yield key, data


def _below_top(files: ConfigFiles, kind: str) -> range:
    top = files.top(kind)
    return range(top if top is not None else 0)


def _deep_merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """As the loader merges `permissions:` entries: mappings key by key, the rest replaced."""
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = dict(value) if isinstance(value, Mapping) else value


def lower_permission(files: ConfigFiles, entity: str, role: str) -> dict[str, Any]:
    """The `permissions:` entry of `role` on `entity` in the layers below the designer's."""
    out: dict[str, Any] = {}
    for _key, data in documents(files, "schemas", _below_top(files, "schemas")):
        if data.get("entity") != entity:
            continue
        perms = data.get("permissions")
        entry = perms.get(role) if isinstance(perms, dict) else None
        if isinstance(entry, dict):
            _deep_merge(out, entry)
    return out


def lower_role(files: ConfigFiles, role: str) -> dict[str, Any]:
    """The access file's entry of `role` in the layers below the designer's (its `default`
    merged key by key, the rest replaced, as `load_access` merges them)."""
    out: dict[str, Any] = {}
    for _key, data in documents(files, "schemas", _below_top(files, "schemas")):
        access = data.get("access")
        roles = access.get("roles") if isinstance(access, dict) else None
        entry = roles.get(role) if isinstance(roles, dict) else None
        if not isinstance(entry, dict):
            continue
        default = {**(out.get("default") or {}), **(entry.get("default") or {})}
        out.update(entry)
        if default:
            out["default"] = default
    return out


def top_entry(wanted: Mapping[str, Any], lower: Mapping[str, Any],
              fallback: Mapping[str, Any]) -> dict[str, Any]:
    """The keys the top layer must write so that, merged over `lower`, each key of `wanted`
    has its wanted value; `fallback` is what a key no layer sets amounts to (the role default
    for a grant, nothing for a field list). Keys whose wanted value is already what the lower
    layers (or the fallback) give are left out."""
    out: dict[str, Any] = {}
    for key, value in wanted.items():
        below = lower.get(key, fallback.get(key))
        if _same(value, below):
            continue
        out[key] = value
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return sorted(a or ()) == sorted(b or ())
    return bool(a == b)


@dataclass(frozen=True)
class Item:
    """One named workflow item: its body merged over every layer (as the loader merges it:
    key by key, a later layer's key replaces the earlier one's), the layers that define it,
    and the top layer's own part."""

    name: str
    body: dict[str, Any]
    layers: tuple[int, ...]
    top: dict[str, Any] | None
    #: whether a lower layer (the base pack) defines it: the designer's layer can change it,
    #: and remove it only with `remove: true`
    below: bool


def workflow_items(files: ConfigFiles, section: str) -> dict[str, Item]:
    """The items of a workflows `section` (stages, approvals, escalations, ...) by name."""
    top = files.top("workflows")
    bodies: dict[str, dict[str, Any]] = {}
    layers: dict[str, list[int]] = {}
    tops: dict[str, dict[str, Any]] = {}
    for key, data in documents(files, "workflows"):
        items = data.get(section)
        if not isinstance(items, dict):
            continue
        for name, spec in items.items():
            if not isinstance(spec, dict):
                continue
            if spec.get("remove"):
                bodies.pop(name, None)
                layers.pop(name, None)
                tops.pop(name, None)
                continue
            bodies[name] = {**bodies.get(name, {}), **spec}
            layers.setdefault(name, []).append(key.layer)
            if key.layer == top:
                tops[name] = dict(spec)
    return {name: Item(name, body, tuple(layers[name]), tops.get(name),
                       any(layer != top for layer in layers[name]))
            for name, body in bodies.items()}
