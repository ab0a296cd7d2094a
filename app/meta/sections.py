"""Sections of workflows/*.yaml owned by feature packages (`documents:`, `duplicates:`,
`archiving:` ...), so a feature adds its config without touching the loader, the snapshot or
the designer.

Each entry of `FEATURE_SECTIONS` names a module that provides:

    SCHEMA: dict                      # JSON Schema of ONE named entry of the section
    def check(merged: dict[str, tuple[dict, Document]], meta: Meta,
              errors: list[ConfigError]) -> dict[str, Any]
        # the merged bodies by name (layers merged key by key, `remove: true` applied) ->
        # the checked definitions (frozen dataclasses); problems appended as ConfigErrors
        # with the entry's Source (doc.positions.at((section, name, ...)))
    def to_dict(defs: Mapping[str, Any]) -> dict[str, Any]     # for the stored config version
    def from_dict(data: Mapping[str, Any], src: Source) -> dict[str, Any]   # and back

The checked definitions land on `Meta.features[section]` (read them with
`meta.feature("documents")`), are stored with each config version (only when non-empty, so
configs without them keep their digest), are compared by the designer's history, and can be
edited as a workflows section by the designer's API (`section: documents`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from app.meta.errors import ConfigError
    from app.meta.types import Meta, Source

#: section name -> the module that owns it (one line per feature)
FEATURE_SECTIONS: dict[str, str] = {
    "archiving": "app.meta.archiving",
    "documents": "app.meta.documents",
    "duplicates": "app.meta.duplicates",
    "targets": "app.meta.targets",
}


class SectionModule(Protocol):
    SCHEMA: dict[str, Any]

    def check(self, merged: dict[str, tuple[dict[str, Any], Any]], meta: Meta,
              errors: list[ConfigError]) -> dict[str, Any]: ...

    def to_dict(self, defs: Mapping[str, Any]) -> dict[str, Any]: ...

    def from_dict(self, data: Mapping[str, Any], src: Source) -> dict[str, Any]: ...


def section_module(section: str) -> SectionModule:
    module: SectionModule = importlib.import_module(FEATURE_SECTIONS[section])
    return module


def features_to_dict(meta: Meta) -> dict[str, Any]:
    """The non-empty feature sections of `meta`, for the stored config version."""
    return {s: section_module(s).to_dict(defs) for s, defs in meta.features.items()
            if defs and s in FEATURE_SECTIONS}


def features_from_dict(data: Mapping[str, Any], src: Source) -> dict[str, Mapping[str, Any]]:
    from app.meta.types import freeze

    return {s: freeze(section_module(s).from_dict(data[s], src))
            for s in FEATURE_SECTIONS if data.get(s)}
