"""The JSON Schema editors use ships in the package, matches the field registry, and each
schema file points at it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema as js

from app.fields import registry
from app.meta.jsonschema import SHIPPED, entity_schema, render

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_schema_is_current() -> None:
    # the shipped file lists the built-in types; plugins' types are added where they load
    assert SHIPPED.read_text(encoding="utf-8") == render(registry.builtin()), (
        "app/meta/entity.schema.json is stale: run `crm config jsonschema --write`")


def test_schema_is_valid_draft_2020_12() -> None:
    js.Draft202012Validator.check_schema(json.loads(SHIPPED.read_text(encoding="utf-8")))


def test_every_schema_file_references_it() -> None:
    for path in sorted((ROOT / "schemas").glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        name = "access" if path.name == "_access.yaml" else "entity"
        assert first == f"# yaml-language-server: $schema=../app/meta/{name}.schema.json", path


def test_shipped_access_schema_is_current() -> None:
    from app.meta import access

    assert access.SHIPPED.read_text(encoding="utf-8") == access.render(), (
        "app/meta/access.schema.json is stale: run `crm config jsonschema --write`")
    js.Draft202012Validator.check_schema(access.SCHEMA)


def test_schema_lists_every_field_type() -> None:
    field = entity_schema(registry)["properties"]["fields"]["additionalProperties"]
    assert field["properties"]["type"]["enum"] == registry.names()
    assert len(registry.names()) >= 25
