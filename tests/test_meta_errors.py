"""Each kind of broken YAML gives a located (file, line, column), coded error and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta.errors import ConfigErrors
from tests.factories import meta_of, write_schema

GOOD_ACCOUNT = """\
entity: account
title: name
fields:
  name: {type: string, required: true}
"""

CASES = {
    "yaml_syntax": ("entity: account\nfields:\n  name: {type: string\n", "CRM-E001", 4),
    "duplicate_key": ("entity: account\nfields:\n  name: {type: string}\n  name: {type: text}\n",
                      "CRM-E002", 4),
    "not_an_entity": ("- just\n- a list\n", "CRM-E003", 1),
    "unknown_option": ("entity: account\nfields:\n  name: {type: string, requird: true}\n",
                       "CRM-E011", 3),
    "unknown_type": ("entity: account\nfields:\n  name: {type: strng}\n", "CRM-E017", 3),
    "wrong_value_type": ("entity: account\nfields:\n  name: {type: string, required: maybe}\n",
                         "CRM-E010", 3),
    "option_not_for_type": ("entity: account\nfields:\n  name: {type: string, to: contact}\n",
                            "CRM-E013", 3),
    "missing_type_option": ("entity: account\nfields:\n  boss: {type: lookup}\n", "CRM-E012", 3),
    "bad_identifier": ("entity: account\nfields:\n  Full Name: {type: string}\n", "CRM-E014", 3),
    "reserved_name": ("entity: account\nfields:\n  version: {type: string}\n", "CRM-E015", 3),
    "lookup_target_missing": ("entity: account\nfields:\n  parent: {type: lookup, to: acount}\n",
                              "CRM-E020", 3),
    "title_missing": ("entity: account\ntitle: nam\nfields:\n  name: {type: string}\n",
                      "CRM-E019", 1),
    "formula_unknown_name": (
        "entity: account\nfields:\n  a: {type: integer}\n"
        "  b: {type: formula, expr: 'a + c', result: integer}\n", "CRM-E042", 4),
    "formula_forbidden": (
        "entity: account\nfields:\n  a: {type: integer}\n"
        "  b: {type: formula, expr: 'a.__class__', result: integer}\n", "CRM-E041", 4),
    "rule_bad_field": (
        "entity: account\nfields:\n  a: {type: integer}\nrules:\n"
        "  - {name: r1, when: 'a > 1', field: b, message: {en: too big}}\n", "CRM-E033", 5),
    "duplicate_rule": (
        "entity: account\nfields:\n  a: {type: integer}\nrules:\n"
        "  - {name: r1, when: 'a > 1'}\n  - {name: r1, when: 'a > 2'}\n", "CRM-E034", 6),
    "unknown_role": ("entity: account\nfields:\n  a: {type: integer}\npermissions:\n"
                     "  salesman: {read: all}\n", "CRM-E031", 1),
    "unknown_preset": ("entity: account\nfields:\n  addr: {preset: adress}\n", "CRM-E018", 3),
    "column_collision": ("entity: account\nfields:\n  boss: {type: lookup, to: account}\n"
                         "  boss_id: {type: integer}\n", "CRM-E035", 4),
    "bad_choices": ("entity: account\nfields:\n  s: {type: picklist, choices: [a, a]}\n",
                    "CRM-E023", 3),
    "formula_not_sql": (
        "entity: account\nfields:\n  t: {type: tags}\n"
        "  k: {type: formula, expr: \"len(t) > 1\", result: boolean}\n", "CRM-E045", 4),
    "formula_cycle": (
        "entity: account\nfields:\n  a: {type: formula, expr: 'b + 1', result: integer}\n"
        "  b: {type: formula, expr: 'a + 1', result: integer}\n", "CRM-E046", 3),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_yaml_is_located_and_coded(tmp_path: Path, name: str) -> None:
    text, code, line = CASES[name]
    folder = tmp_path / "schemas"
    write_schema(folder, "broken", text)
    with pytest.raises(ConfigErrors) as info:
        meta_of(folder)
    errors = info.value.errors
    assert code in [e.code for e in errors], [str(e) for e in errors]
    err = next(e for e in errors if e.code == code)
    assert err.source.file.endswith("broken.yaml")
    assert err.source.line == line, str(err)
    assert err.source.column >= 1
    assert err.message and "Traceback" not in err.message


def test_all_errors_are_reported_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    write_schema(folder, "a", "entity: account\nfields:\n  x: {type: strng}\n")
    write_schema(folder, "b", "entity: contact\nfields:\n  y: {type: integer, mn: 1}\n")
    with pytest.raises(ConfigErrors) as info:
        meta_of(folder)
    assert {e.code for e in info.value.errors} == {"CRM-E017", "CRM-E011"}


def test_suggestions_name_the_close_match(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    write_schema(folder, "a", "entity: account\nfields:\n  x: {type: strng, requird: true}\n")
    with pytest.raises(ConfigErrors) as info:
        meta_of(folder)
    text = str(info.value)
    assert "did you mean 'string'" in text
    assert "did you mean 'required'" in text


def test_duplicate_entity_in_one_layer(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    write_schema(folder, "a", GOOD_ACCOUNT)
    write_schema(folder, "b", GOOD_ACCOUNT)
    with pytest.raises(ConfigErrors) as info:
        meta_of(folder)
    assert [e.code for e in info.value.errors] == ["CRM-E016"]


def test_a_broken_file_does_not_cascade_into_its_lookups(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    write_schema(folder, "account", "entity: account\nfields:\n  name: {type: strng}\n")
    write_schema(folder, "contact", "entity: contact\nfields:\n"
                 "  account: {type: lookup, to: account}\n")
    with pytest.raises(ConfigErrors) as info:
        meta_of(folder)
    assert [e.code for e in info.value.errors] == ["CRM-E017"]
