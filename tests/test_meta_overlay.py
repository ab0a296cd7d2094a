"""A client overlay extends the base pack without copying it, and explain shows the merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli_config import explain_lines
from app.meta.errors import ConfigErrors
from tests.factories import account, meta_of, small_pack, write_schema


@pytest.fixture
def layers(tmp_path: Path) -> tuple[Path, Path]:
    base = small_pack(tmp_path / "base")
    overlay = tmp_path / "client"
    write_schema(overlay, "account", """\
entity: account
label: {zh: 客户公司}
fields:
  industry: {choices: [tech, retail, finance, energy], default: energy}
  employees: {remove: true}
  region: {type: picklist, choices: [north, south], label: {en: Region, zh: 区域}}
""")
    write_schema(overlay, "project", """\
entity: project
fields:
  title: {type: string, required: true}
  account: {type: lookup, to: account}
""")
    return base, overlay


def test_overlay_changes_adds_and_removes(layers: tuple[Path, Path]) -> None:
    meta = meta_of(*layers)
    acc = meta.entities["account"]
    assert dict(acc.label) == {"en": "Account", "zh": "客户公司"}
    assert [c.value for c in acc.fields["industry"].choices] == [
        "tech", "retail", "finance", "energy"]
    assert acc.fields["industry"].default == "energy"
    assert "employees" not in acc.fields and acc.removed_fields == ("employees",)
    assert list(acc.fields)[-1] == "region"
    assert "project" in meta.entities
    assert "/base/" in meta.files[0] and "client" in meta.files[-1]  # base layer first


def test_explain_names_the_file_of_each_property(layers: tuple[Path, Path]) -> None:
    meta = meta_of(*layers)
    lines = explain_lines(meta, "account.industry")
    default_line = next(line for line in lines if line.strip().startswith("default"))
    assert "client" in default_line
    choices_line = next(line for line in lines if line.strip().startswith("choices"))
    assert "client" in choices_line and "overrides" in choices_line and "base" in choices_line
    entity_lines = explain_lines(meta, "account")
    assert any("employees: REMOVED" in line and "client" in line for line in entity_lines)


def test_overlay_cannot_remove_what_base_lacks(tmp_path: Path) -> None:
    base = small_pack(tmp_path / "base")
    overlay = tmp_path / "client"
    write_schema(overlay, "account", "entity: account\nfields:\n  fax: {remove: true}\n")
    with pytest.raises(ConfigErrors) as info:
        meta_of(base, overlay)
    assert [e.code for e in info.value.errors] == ["CRM-E036"]


def test_same_entity_in_two_layers_is_a_merge_not_a_duplicate(tmp_path: Path) -> None:
    base = small_pack(tmp_path / "base")
    overlay = small_pack(tmp_path / "client", account(fax={"type": "phone"}))
    meta = meta_of(base, overlay)
    assert "fax" in meta.entities["account"].fields


def test_overlay_changes_and_removes_parts_of_a_preset_block(tmp_path: Path) -> None:
    base = tmp_path / "base"
    write_schema(base, "_presets", "presets:\n  address:\n    fields:\n"
                 "      street: {type: string}\n      city: {type: string}\n")
    write_schema(base, "account", "entity: account\nfields:\n  billing: {preset: address}\n")
    overlay = tmp_path / "client"
    write_schema(overlay, "account", "entity: account\nfields:\n"
                 "  billing_city: {required: true, max_length: 40}\n"
                 "  billing_street: {remove: true}\n")
    acc = meta_of(base, overlay).entities["account"]
    assert list(acc.fields) == ["billing_city"]
    assert acc.fields["billing_city"].required and acc.fields["billing_city"].max_length == 40
    assert acc.removed_fields == ("billing_street",)


def test_options_beside_a_block_preset_are_an_error(tmp_path: Path) -> None:
    base = tmp_path / "base"
    write_schema(base, "_presets", "presets:\n  address:\n    fields:\n"
                 "      street: {type: string}\n")
    write_schema(base, "account", "entity: account\nfields:\n"
                 "  billing: {preset: address, required: true}\n")
    with pytest.raises(ConfigErrors) as info:
        meta_of(base)
    assert [e.code for e in info.value.errors] == ["CRM-E013"]
    assert "billing_street: {required: ...}" in str(info.value)


def test_removing_a_field_a_new_entity_lacks_is_an_error(tmp_path: Path) -> None:
    base = small_pack(tmp_path / "base")
    overlay = tmp_path / "client"
    write_schema(overlay, "project", "entity: project\nfields:\n  a: {type: string}\n"
                 "  b: {remove: true}\n")
    with pytest.raises(ConfigErrors) as info:
        meta_of(base, overlay)
    assert [e.code for e in info.value.errors] == ["CRM-E036"]
