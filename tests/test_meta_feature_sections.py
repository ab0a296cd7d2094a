"""Feature sections of workflows/*.yaml (app/meta/sections.py): a feature module registered in
FEATURE_SECTIONS gets its entries checked against its schema, merged across layers, handed to
its `check`, put on Meta.features, stored with the config version and read back."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from app.meta import sections
from app.meta.errors import ConfigError, ConfigErrors
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.types import Meta, Source
from tests.factories import ROLES, small_pack

_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["entity"],
           "properties": {"entity": {"type": "string"}, "size": {"type": "integer"},
                          "remove": {"const": True}}}


def _check(merged: dict[str, tuple[dict[str, Any], Any]], meta: Meta,
           errors: list[ConfigError]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (body, doc) in merged.items():
        if body["entity"] not in meta.entities:
            errors.append(ConfigError("CRM-E999", f"gadget '{name}': no entity "
                                      f"'{body['entity']}'", doc.positions.at(("gadgets", name))))
            continue
        out[name] = (body["entity"], body.get("size", 1))
    return out


def _to_dict(defs: Mapping[str, Any]) -> dict[str, Any]:
    return {n: {"entity": e, "size": s} for n, (e, s) in defs.items()}


def _from_dict(data: Mapping[str, Any], src: Source) -> dict[str, Any]:
    return {n: (d["entity"], d["size"]) for n, d in data.items()}


@pytest.fixture
def gadgets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    mod = types.ModuleType("crm_test_gadgets")
    mod.SCHEMA = _SCHEMA  # type: ignore[attr-defined]
    mod.check = _check  # type: ignore[attr-defined]
    mod.to_dict = _to_dict  # type: ignore[attr-defined]
    mod.from_dict = _from_dict  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "crm_test_gadgets", mod)
    monkeypatch.setitem(sections.FEATURE_SECTIONS, "gadgets", "crm_test_gadgets")
    yield


def _load(tmp_path: Path, text: str) -> tuple[Meta, list[ConfigError]]:
    schemas = small_pack(tmp_path / "schemas")
    wf = tmp_path / "workflows"
    wf.mkdir(exist_ok=True)
    (wf / "g.yaml").write_text(text)
    try:
        return load_meta([schemas], ROLES, workflow_dirs=[wf]), []
    except ConfigErrors as exc:
        return Meta(entities={}), list(exc.errors)


def test_entries_are_checked_and_land_on_meta(tmp_path: Path, gadgets: None) -> None:
    meta, errors = _load(tmp_path, "gadgets:\n  big: {entity: account, size: 3}\n")
    assert errors == []
    assert meta.feature("gadgets") == {"big": ("account", 3)}
    again = meta_from_dict(meta_to_dict(meta))
    assert again.feature("gadgets") == {"big": ("account", 3)}
    assert again.feature("nothing") == {}


def test_schema_and_check_errors_name_the_place(tmp_path: Path, gadgets: None) -> None:
    _, errors = _load(tmp_path, "gadgets:\n  big: {entity: account, size: many}\n")
    assert errors and "g.yaml" in str(errors[0].source) and "size" in errors[0].message
    _, errors = _load(tmp_path, "gadgets:\n  big: {entity: nope}\n")
    assert [e.code for e in errors] == ["CRM-E999"]
    assert "g.yaml:2" in str(errors[0].source)


def test_a_config_without_the_section_keeps_its_digest(tmp_path: Path, gadgets: None) -> None:
    schemas = small_pack(tmp_path / "schemas")
    without = load_meta([schemas], ROLES)
    assert "gadgets" not in meta_to_dict(without)
