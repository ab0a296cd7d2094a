"""`archiving:` in workflows/*.yaml (app/meta/archiving.py): entries checked against the entities
with file:line and CRM-E140..E143, stored with the config version and read back; the shipped
workflows/archiving.yaml loads."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.meta.archiving import ArchiveDef
from app.meta.errors import ConfigError, ConfigErrors
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.types import Meta
from tests.factories import ROLES, small_pack, write_schema
from tests.webkit import ROOT


def _tiny(folder: Path) -> None:
    """Cases, and quotes with their lines (a master-detail child)."""
    small_pack(folder)
    write_schema(folder, "case", {"entity": "case", "title": "subject", "fields": {
        "subject": {"type": "string"}, "status": {"type": "picklist",
                                                  "choices": ["new", "closed"]},
        "resolved_at": {"type": "datetime"}}})
    write_schema(folder, "quote", {"entity": "quote", "fields": {"name": {"type": "string"}}})
    write_schema(folder, "quote_line", {"entity": "quote_line", "fields": {
        "quote": {"type": "master_detail", "to": "quote"}, "qty": {"type": "integer"}}})


def _load(tmp_path: Path, text: str, *, shipped: bool = False) -> tuple[Meta, list[ConfigError]]:
    schemas = tmp_path / "schemas"
    if not schemas.exists() and shipped:
        shutil.copytree(ROOT / "schemas", schemas)
    elif not schemas.exists():
        _tiny(schemas)
    wf = tmp_path / "workflows"
    wf.mkdir(exist_ok=True)
    (wf / "archiving.yaml").write_text(text, encoding="utf-8")
    try:
        return load_meta([schemas], ROLES, workflow_dirs=[wf]), []
    except ConfigErrors as exc:
        return Meta(entities={}), list(exc.errors)


def test_the_shipped_rules_load_and_survive_the_snapshot(tmp_path: Path) -> None:
    meta, errors = _load(tmp_path, (ROOT / "workflows" / "archiving.yaml").read_text(),
                         shipped=True)
    assert errors == []
    found = meta.feature("archiving")
    assert found["case"] == ArchiveDef("case", "resolved_at", "status == 'closed'",
                                       found["case"].source)
    assert set(found) == {"case", "opportunity", "activity"}
    again = meta_from_dict(meta_to_dict(meta)).feature("archiving")
    assert {k: (d.age_field, d.when) for k, d in again.items()} == {
        k: (d.age_field, d.when) for k, d in found.items()}


def test_each_error_names_its_place(tmp_path: Path) -> None:
    cases = {
        "archiving:\n  casse: {age_field: resolved_at}\n": ("CRM-E140", "did you mean 'case'"),
        "archiving:\n  case: {age_field: resolvd_at}\n": ("CRM-E141", "resolved_at"),
        "archiving:\n  case: {age_field: subject}\n": ("CRM-E141", "date"),
        "archiving:\n  case: {age_field: updated_at, when: \"statu == 'closed'\"}\n":
            ("CRM-E042", "statu"),
        "archiving:\n  case: {age_field: created_at, when: \"subject\"}\n":
            ("CRM-E142", "yes/no"),
        "archiving:\n  quote_line: {age_field: created_at}\n": ("CRM-E143", "quote"),
        "archiving:\n  case: {when: \"status == 'closed'\"}\n": ("CRM-E012", "age_field"),
        "archiving:\n  case: {age_field: created_at, older: 3}\n": ("CRM-E011", "older"),
    }
    for text, (code, words) in cases.items():
        _, errors = _load(tmp_path, text)
        assert [e.code for e in errors] == [code], (text, errors)
        assert words in errors[0].message, errors[0].message
        assert "archiving.yaml:2" in str(errors[0].source), errors[0].source
