"""The access config: located, coded errors for bad roles, hierarchy, grants and sharing rules;
overlays merging it by name; config versions keeping it (snapshot round trip, digest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.meta.errors import ConfigErrors
from app.meta.snapshot import meta_from_dict, meta_to_dict
from tests.factories import ROLES, account, meta_of, write_schema


def folder_with(tmp_path: Path, access: dict[str, Any],
                permissions: dict[str, Any] | None = None) -> Path:
    folder = tmp_path / "schemas"
    acc = account()
    if permissions is not None:
        acc["permissions"] = permissions
    write_schema(folder, "account", acc)
    write_schema(folder, "_access", {"access": access})
    return folder


def errors_of(folder: Path, *more: Path) -> list[str]:
    with pytest.raises(ConfigErrors) as err:
        meta_of(folder, *more)
    return [f"{e.code} {e.message} @{e.source}" for e in err.value.errors]


def test_a_good_access_file_loads(tmp_path: Path) -> None:
    meta = meta_of(folder_with(tmp_path, {
        "roles": {"sales_rep": {"reports_to": "sales_manager", "default": {"read": "own"}}},
        "teams": {"east": {"label": {"en": "East"}}}}))
    assert meta.access.below("sales_manager") == {"sales_rep"}
    assert "schemas/_access.yaml" in " ".join(meta.files)


@pytest.mark.parametrize(("access", "code", "words"), [
    ({"roles": {"sales_cat": {}}}, "CRM-E080", "sales_cat"),
    ({"roles": {"sales_rep": {"reports_to": "boss"}}}, "CRM-E081", "boss"),
    ({"roles": {"sales_rep": {"reports_to": "sales_manager"},
                "sales_manager": {"reports_to": "sales_rep"}}}, "CRM-E081", "itself"),
    ({"sharing": {"r": {"entity": "acount", "when": "true", "roles": ["sales_rep"]}}},
     "CRM-E083", "did you mean 'account'"),
    ({"sharing": {"r": {"entity": "account", "via": "name", "when": "true",
                        "roles": ["sales_rep"]}}}, "CRM-E084", "not a lookup"),
    ({"sharing": {"r": {"entity": "account", "when": "true"}}}, "CRM-E085", "nobody"),
    ({"sharing": {"r": {"entity": "account", "when": "true", "teams": ["mars"]}}},
     "CRM-E086", "mars"),
    ({"sharing": {"r": {"entity": "account", "when": "employes > 3",
                        "roles": ["sales_rep"]}}}, "CRM-E04", "employes"),
    ({"roles": {"sales_rep": {"default": {"read": "mine"}}}}, "CRM-E010", "mine"),
    ({"roles": {"sales_rep": {"default": {"fly": True}}}}, "CRM-E011", "fly"),
])
def test_bad_access_files(tmp_path: Path, access: dict[str, Any], code: str,
                          words: str) -> None:
    found = errors_of(folder_with(tmp_path, access))
    assert any(code in e and words in e and "_access.yaml" in e for e in found), found


@pytest.mark.parametrize(("permissions", "code", "words"), [
    ({"sales_rep": {"hidden": ["nmae"]}}, "CRM-E082", "did you mean 'name'"),
    ({"sales_rep": {"read": "everything"}}, "CRM-E010", "everything"),
    ({"sales_rep": {"create": "yes"}}, "CRM-E010", "yes"),
    ({"pirate": {"read": "all"}}, "CRM-E031", "pirate"),
])
def test_bad_entity_permissions(tmp_path: Path, permissions: dict[str, Any], code: str,
                                words: str) -> None:
    found = errors_of(folder_with(tmp_path, {}, permissions))
    assert any(code in e and words in e and "account.yaml" in e for e in found), found


def test_overlay_merges_roles_and_removes_rules(tmp_path: Path) -> None:
    base = folder_with(tmp_path, {
        "roles": {"sales_rep": {"default": {"read": "own", "edit": "own"}}},
        "teams": {"east": {}},
        "sharing": {"r": {"entity": "account", "when": "employees > 3",
                          "roles": ["sales_rep"]}}})
    overlay = tmp_path / "overlay"
    write_schema(overlay, "_access", {"access": {
        "roles": {"sales_rep": {"default": {"read": "team"}}},
        "sharing": {"r": {"remove": True}}}})
    meta = meta_of(base, overlay)
    assert dict(meta.access.roles["sales_rep"].default) == {"read": "team", "edit": "own"}
    assert not meta.access.sharing
    write_schema(overlay, "_access", {"access": {"sharing": {"zz": {"remove": True}}}})
    assert any("CRM-E087" in e for e in errors_of(base, overlay))


def test_snapshot_keeps_access_and_digest(tmp_path: Path) -> None:
    meta = meta_of(folder_with(tmp_path, {
        "roles": {"sales_rep": {"reports_to": "sales_manager", "default": {"read": "own"}}},
        "teams": {"east": {}},
        "sharing": {"r": {"entity": "account", "when": "employees > 3", "teams": ["east"],
                          "access": "edit"}}}, {"sales_rep": {"hidden": ["website"]}}))
    again = meta_from_dict(meta_to_dict(meta))
    assert meta_to_dict(again) == meta_to_dict(meta)
    assert again.access.sharing["r"].access == "edit"
    assert again.entities["account"].permissions["sales_rep"]["hidden"] == ("website",)


def test_access_changes_the_digest(tmp_path: Path) -> None:
    one = meta_of(folder_with(tmp_path, {"roles": {"sales_rep": {"default": {"read": "own"}}}}))
    two = meta_of(folder_with(tmp_path, {"roles": {"sales_rep": {"default": {"read": "all"}}}}))
    assert one.digest != two.digest
    assert set(ROLES) >= set(one.roles)
