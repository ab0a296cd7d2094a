"""Duplicate rules in workflows/*.yaml `duplicates:` (app/meta/duplicates.py): the shipped
rules load, overlays change and remove rules by name, the stored config version keeps them,
and mistakes are CRM-E144..E147 (or the schema's codes) with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta.duplicates import MatchField, rules_of
from app.meta.errors import ConfigErrors
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.types import Meta
from tests.factories import small_pack, write_schema
from tests.mergekit import PACK
from tests.webkit import ROOT

ROLES = ("admin", "sales_manager", "sales_rep")


def pack(tmp_path: Path) -> Path:
    folder = tmp_path / "schemas"
    for name, body in PACK.items():
        write_schema(folder, name, body)
    return folder


def load(tmp_path: Path, *texts: str) -> Meta:
    layers = []
    for i, text in enumerate(texts):
        layer = tmp_path / f"workflows{i}"
        layer.mkdir()
        (layer / "dupes.yaml").write_text(text, encoding="utf-8")
        layers.append(layer)
    return load_meta([pack(tmp_path)], ROLES, workflow_dirs=layers)


def test_the_shipped_rules_load_and_survive_the_stored_version(tmp_path: Path) -> None:
    meta = load_meta([ROOT / "schemas"], ("admin", "sales_director", "sales_manager",
                                         "sales_rep", "service_manager", "service_agent",
                                         "marketing"),
                     workflow_dirs=[ROOT / "workflows"])
    names = [r.name for r in rules_of(meta)]
    assert {"contact_email", "contact_name_phone", "account_name"} <= set(names)
    rule = meta.feature("duplicates")["contact_name_phone"]
    assert rule.match[2] == MatchField("mobile", "phone")
    assert rule.label_for("zh_CN") == "姓名与手机相同"
    again = meta_from_dict(meta_to_dict(meta))
    assert rules_of(again) == rules_of(meta)
    assert again.digest == meta.digest


def test_overlays_change_and_remove_rules(tmp_path: Path) -> None:
    base = ("duplicates:\n  by_email: {entity: contact, match: [{field: email, normalize: "
            "email}]}\n  by_name: {entity: account, match: [{field: name}]}\n")
    overlay = ("duplicates:\n  by_name: {match: [{field: name, normalize: company}]}\n"
               "  by_email: {remove: true}\n")
    meta = load(tmp_path, base, overlay)
    assert [(r.name, r.entity, r.match) for r in rules_of(meta)] == [
        ("by_name", "account", (MatchField("name", "company"),))]


@pytest.mark.parametrize(("body", "code", "line", "words"), [
    ("x: {entity: nothing, match: [{field: name}]}", "CRM-E144", 2, "no entity 'nothing'"),
    ("x: {entity: contact, match: [{field: nme}]}", "CRM-E145", 2, "no field 'nme'"),
    ("x: {entity: account, match: [{field: contacts}]}", "CRM-E145", 2, "computed"),
    ("x:\n    entity: contact\n    match: [{field: mobile, normalize: company}]", "CRM-E146", 4,
     "does not fit"),
    ("x: {entity: contact, match: [{field: email}, {field: email}]}", "CRM-E147", 2, "twice"),
    ("x: {entity: contact, match: [{field: email}]}\n  y: {entity: contact, match: "
     "[{field: email}]}", "CRM-E147", 3, "exactly like rule 'x'"),
    ("x: {entity: contact, match: [{field: email, normalize: soundex}]}", "CRM-E010", 2, ""),
    ("x: {entity: contact, match: []}", "CRM-E010", 2, ""),
    ("x: {entity: contact}", "CRM-E012", 2, "needs `match`"),
])
def test_mistakes_name_file_line_and_code(tmp_path: Path, body: str, code: str, line: int,
                                          words: str) -> None:
    with pytest.raises(ConfigErrors) as caught:
        load(tmp_path, f"duplicates:\n  {body}\n")
    err, = caught.value.errors
    assert (err.code, err.source.line) == (code, line), str(err)
    assert err.source.file.endswith("dupes.yaml") and words in err.message


def test_encrypted_fields_cannot_be_matched(tmp_path: Path) -> None:
    folder = small_pack(tmp_path / "schemas", con={
        "entity": "contact", "title": "last_name", "fields": {
            "last_name": {"type": "string", "required": True},
            "id_number": {"type": "string", "encrypted": True}}})
    layer = tmp_path / "workflows"
    layer.mkdir()
    (layer / "d.yaml").write_text("duplicates:\n  x: {entity: contact, match: "
                                  "[{field: id_number}]}\n", encoding="utf-8")
    with pytest.raises(ConfigErrors, match=r"CRM-E145.*encrypted"):
        load_meta([folder], ROLES, workflow_dirs=[layer])
