"""Turn merged raw YAML into typed, frozen metadata: expand presets, build FieldDefs, check."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from app.fields.base import FieldValueError, Registry
from app.meta.errors import ConfigError
from app.meta.listconf import build_list_def, build_views
from app.meta.loader import Merged
from app.meta.snapshot import meta_to_dict
from app.meta.types import EntityDef, FieldDef, Meta, RuleDef, Source, freeze

#: options every field type accepts; the rest are the type's own (`FieldType.options_schema`)
COMMON = (
    "label", "help", "required", "unique", "default", "min", "max", "max_length", "pattern",
    "read_only", "hidden", "indexed", "visible_when", "required_when", "renamed_from",
    "personal", "encrypted",
)
STRUCTURAL = ("type", "preset", "remove")


def _join_labels(outer: dict[str, str] | None, inner: dict[str, str] | None) -> dict[str, str]:
    if not outer:
        return dict(inner or {})
    langs = set(outer) | set(inner or {})
    return {
        lang: f"{outer.get(lang, outer.get('en', ''))} · {(inner or {}).get(lang, '')}".strip(" ·")
        for lang in sorted(langs)
    }


def expand_presets(
    ent: str, fields: dict[str, Any], merged: Merged, errors: list[ConfigError]
) -> dict[str, tuple[dict[str, Any], Source]]:
    """Fields after presets, in order, each with the place it was written."""
    out: dict[str, tuple[dict[str, Any], Source]] = {}
    for fname, spec in fields.items():
        src = merged.where.get(f"{ent}.{fname}", Source(ent))
        pname = spec.get("preset")
        if spec.get("remove"):  # an overlay removing one part of a preset block
            if fname in out:
                del out[fname]
                merged.removed.setdefault(ent, []).append(fname)
            else:
                errors.append(ConfigError("CRM-E036", f"cannot remove field '{fname}': entity "
                                          f"'{ent}' has no such field", src))
            continue
        if not pname and "type" not in spec and fname in out:  # changes one part of a block
            part, part_src = out[fname]
            combined = copy.deepcopy(part)
            combined.update(spec)
            out[fname] = (combined, part_src)
            continue
        if not pname:
            out[fname] = (spec, src)
            continue
        preset = merged.presets.get(pname)
        if preset is None:
            known = ", ".join(sorted(merged.presets)) or "none are defined"
            errors.append(ConfigError("CRM-E018", f"field '{fname}' uses preset '{pname}', "
                                      f"which does not exist (presets: {known})", src))
            continue
        if "fields" in preset:
            extra = sorted(set(spec) - {"preset", "label", "help", "personal"})
            if extra:
                errors.append(ConfigError(
                    "CRM-E013", f"'{ent}.{fname}' uses block preset '{pname}': "
                    f"{', '.join(extra)} would apply to none of its parts; set them on a part "
                    f"instead, for example {fname}_{next(iter(preset['fields']))}: "
                    f"{{{extra[0]}: ...}}", src))
            for part, part_spec in preset["fields"].items():
                sub = copy.deepcopy(part_spec)
                sub["label"] = _join_labels(spec.get("label"), part_spec.get("label"))
                if "personal" in spec:  # `mailing: {preset: address, personal: true}`: each part
                    sub["personal"] = spec["personal"]
                out[f"{fname}_{part}"] = (sub, src)
        else:
            combined = copy.deepcopy({k: v for k, v in preset.items() if k != "fields"})
            combined.update({k: v for k, v in spec.items() if k != "preset"})
            out[fname] = (combined, src)
    return out


def build_field(
    ent: str, fname: str, spec: dict[str, Any], src: Source, registry: Registry,
    errors: list[ConfigError],
) -> FieldDef | None:
    ftype_name = spec.get("type")
    if not ftype_name:
        errors.append(ConfigError("CRM-E012", f"field '{ent}.{fname}' has no type", src))
        return None
    if ftype_name not in registry:
        errors.append(ConfigError("CRM-E017", f"unknown field type '{ftype_name}' for field "
                                  f"'{ent}.{fname}'", src))
        return None
    ftype = registry.get(ftype_name)
    options: dict[str, Any] = {}
    for key, value in spec.items():
        if key in COMMON or key in STRUCTURAL:
            continue
        if key not in ftype.options_schema:
            errors.append(ConfigError("CRM-E013", f"option '{key}' does not apply to a "
                                      f"{ftype_name} field ('{ent}.{fname}')", src))
            continue
        options[key] = value
    if spec.get("personal") and (ftype.computed or not ftype.has_column):
        errors.append(ConfigError("CRM-E013", f"option 'personal' does not apply to a "
                                  f"{ftype_name} field ('{ent}.{fname}'): it is computed, so "
                                  "mark the fields it is computed from", src))
    missing = [o for o in ftype.required_options if o not in options]
    if missing:
        errors.append(ConfigError("CRM-E012", f"a {ftype_name} field needs "
                                  f"{', '.join(missing)} ('{ent}.{fname}')", src))
        return None
    try:
        options = ftype.normalize_options(options)
    except (ValueError, TypeError) as exc:
        errors.append(ConfigError("CRM-E010", f"'{ent}.{fname}': {exc}", src))
        return None
    default = spec.get("default")
    default_expr = None
    if isinstance(default, dict) and set(default) == {"expr"}:
        default_expr, default = str(default["expr"]), None
    f = FieldDef(
        name=fname,
        type=ftype_name,
        label=freeze(spec.get("label") or {}),
        help=freeze(spec.get("help") or {}),
        required=bool(spec.get("required", False)),
        unique=bool(spec.get("unique", False)),
        default=None,
        default_expr=default_expr,
        min=spec.get("min"),
        max=spec.get("max"),
        max_length=spec.get("max_length"),
        pattern=spec.get("pattern"),
        read_only=bool(spec.get("read_only", False)),
        hidden=bool(spec.get("hidden", False)),
        indexed=bool(spec.get("indexed", False)),
        visible_when=spec.get("visible_when"),
        required_when=spec.get("required_when"),
        renamed_from=spec.get("renamed_from"),
        personal=bool(spec.get("personal", False)),
        encrypted=bool(spec.get("encrypted", False)),
        options=freeze(options),
        source=src,
    )
    if default is not None:
        try:
            value = ftype.to_python(f, default)
        except FieldValueError as exc:
            errors.append(ConfigError("CRM-E010", f"default of '{ent}.{fname}': {exc}", src))
            return f
        object.__setattr__(f, "default", freeze(value))
    return f


def build_entity(
    ent: str, raw: dict[str, Any], merged: Merged, registry: Registry, errors: list[ConfigError]
) -> EntityDef:
    src = merged.where.get(ent, Source(ent))
    fields: dict[str, FieldDef] = {}
    for fname, (spec, fsrc) in expand_presets(ent, raw.get("fields") or {}, merged,
                                              errors).items():
        f = build_field(ent, fname, spec, fsrc, registry, errors)
        if f is not None:
            fields[fname] = f
    rules = tuple(
        RuleDef(
            name=str(r.get("name")),
            when=str(r.get("when") or ""),
            message=freeze(r.get("message") or {"en": f"rule {r.get('name')} failed"}),
            field=r.get("field"),
            source=merged.where.get(f"{ent}/rules/{r.get('name')}", src),
        )
        for r in raw.get("rules") or []
    )
    return EntityDef(
        name=ent,
        label=freeze(raw.get("label") or {}),
        plural=freeze(raw.get("plural") or {}),
        title=raw.get("title"),
        fields=freeze(fields),
        rules=rules,
        permissions=freeze(raw.get("permissions") or {}),
        layout=freeze(_without(raw.get("layout") or [], set(merged.removed.get(ent, [])))),
        removed_fields=tuple(f for f in merged.removed.get(ent, []) if f not in fields),
        icon=raw.get("icon"),
        list_view=build_list_def(raw.get("list"), merged.where.get(f"{ent}/list", src)),
        views=build_views(raw.get("views"), merged.where.get(f"{ent}/views", src)),
        source=src,
    )


def _without(layout: list[Any], removed: set[str]) -> list[Any]:
    """The layout minus the fields an overlay removed: removing a field hides it everywhere
    without the overlay having to rewrite the base pack's layout."""
    if not removed:
        return layout
    return [{**s, "fields": [f for f in s.get("fields", []) if f not in removed]}
            if isinstance(s, dict) and isinstance(s.get("fields"), list) else s
            for s in layout]


def digest_of(meta: Meta) -> str:
    data = meta_to_dict(meta)
    data.pop("digest", None)
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def build_meta(
    merged: Merged, roles: Sequence[str], registry: Registry
) -> tuple[Meta, list[ConfigError]]:
    from app.meta.checks import check_meta

    errors: list[ConfigError] = []
    entities = {
        ent: build_entity(ent, raw, merged, registry, errors)
        for ent, raw in merged.entities.items()
    }
    meta = Meta(
        entities=freeze(entities),
        roles=tuple(roles),
        files=tuple(merged.files),
        provenance=freeze({k: tuple(v) for k, v in merged.provenance.items()}),
    )
    errors.extend(check_meta(meta, registry))
    object.__setattr__(meta, "digest", digest_of(meta))
    return meta, errors
