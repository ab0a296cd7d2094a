"""Config test files: every mistake is a coded error naming the file and line (CRM-E110..E117,
and the YAML codes); folders are layers where a later check of the same name replaces the
earlier one and `remove: true` drops it; the shipped JSON Schema is current."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.configtests import load_check_texts, load_checks
from app.configtests.checkfile import SHIPPED, render


def errors_of(text: str) -> list[str]:
    _checks, errors = load_check_texts([(0, "pack.yaml", text)])
    return [str(e) for e in errors]


@pytest.mark.parametrize(("text", "expected"), [
    ("checks:\n  - name: a\n    acess: {role: sales_rep, entity: opportunity, can: [read]}\n",
     "pack.yaml:3:5: CRM-E111 check 'a': unknown key 'acess' (did you mean 'access'?)"),
    ("checks:\n  - name: a\n    access: {role: sales_rep, entity: opportunity, cant: [read]}\n",
     "pack.yaml:3:52: CRM-E111 check 'a': access: unknown key 'cant' (did you mean 'can'?)"),
    ("checks:\n  - name: a\n    access: {entity: opportunity, can: [read]}\n",
     "pack.yaml:3:5: CRM-E112 check 'a': access: 'role' is a required property"),
    ("checks:\n  - name: a\n    access: {role: sales_rep, entity: opportunity, can: [fly]}\n",
     "pack.yaml:3:58: CRM-E113 check 'a': access.can.0: 'fly' is not one of"),
    ("checks:\n  - name: a\n    description: no kind\n",
     "pack.yaml:2:5: CRM-E114 check 'a' has no kind: give one of access, record, transition, "
     "formula, approval"),
    ("checks:\n  - name: a\n    formula: {entity: quote, expect: {total: 1}}\n"
     "    record: {entity: quote, valid: true}\n",
     "pack.yaml:2:5: CRM-E114 check 'a' has 2 kinds (record, formula)"),
    ("checks:\n  - name: a\n    access: {role: sales_rep, entity: opportunity}\n",
     "pack.yaml:2:5: CRM-E112 check 'a' expects nothing: give can or cannot"),
    ("checks:\n  - name: a\n    record: {entity: quote, valid: true, invalid: [name]}\n",
     "pack.yaml:2:5: CRM-E113 check 'a': give `valid` or `invalid`, not both"),
    ("checks:\n  - name: a\n    record: {entity: quote, invalid: 3}\n",
     "pack.yaml:3:29: CRM-E113 check 'a': record.invalid: give a list of field names"),
    ("checks:\n  - name: a\n    transition: {to: won, allowed: true}\n",
     "pack.yaml:2:5: CRM-E112 check 'a': give the `entity` (or the stage `machine`)"),
    ("checks:\n  - name: a\n    approval: {process: p, approvers: {s: [bob]}}\n",
     "pack.yaml:2:5: CRM-E112 check 'a': `approvers` needs the `submitter`"),
    ("checks:\n  - access: {role: sales_rep, entity: opportunity, can: [read]}\n",
     "pack.yaml:2:5: CRM-E112 check #1: 'name' is a required property"),
    ("checks:\n  - name: a\n    remove: true\n    access: {role: r, entity: e, can: [read]}\n",
     "pack.yaml:2:5: CRM-E114 check 'a': `remove: true` takes only the name"),
    ("chekcs: []\n", "pack.yaml:1:1: CRM-E110 a config test file holds `checks:`"),
    ("- name: a\n", "pack.yaml:1:1: CRM-E110"),
    ("checks:\n  - name: a\n  - name: a\n", "pack.yaml:3:5: CRM-E114"),
    ("checks: [\n", "pack.yaml:2:1: CRM-E001 not valid YAML"),
    ("checks:\n  - name: a\n    name: b\n", "pack.yaml:3:5: CRM-E002 'name' appears twice"),
])
def test_a_mistake_is_a_located_coded_error(text: str, expected: str) -> None:
    errors = errors_of(text)
    assert any(e.startswith(expected) for e in errors), errors


def test_two_checks_of_one_layer_may_not_share_a_name() -> None:
    text = ("checks:\n"
            "  - name: a\n    access: {role: admin, entity: quote, can: [read]}\n"
            "  - name: a\n    access: {role: admin, entity: quote, can: [edit]}\n")
    checks, errors = load_check_texts([(0, "one.yaml", text)])
    assert [str(e) for e in errors] == [
        "one.yaml:4:5: CRM-E115 two checks are named 'a'; the first one is at one.yaml:2:5"]
    assert len(checks) == 1


def test_a_bad_check_leaves_the_others(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(
        "checks:\n  - name: good\n    access: {role: admin, entity: quote, can: [read]}\n"
        "  - name: bad\n    access: {role: admin}\n", encoding="utf-8")
    checks, errors = load_checks([tmp_path])
    assert [c.name for c in checks] == ["good"]
    assert len(errors) == 1 and errors[0].code == "CRM-E112"
    assert errors[0].source.file.endswith("pack.yaml") and errors[0].source.line == 5


def test_layers_replace_and_remove_checks_by_name(tmp_path: Path) -> None:
    base, client = tmp_path / "base", tmp_path / "client"
    base.mkdir()
    client.mkdir()
    (base / "pack.yaml").write_text(
        "checks:\n"
        "  - name: kept\n    access: {role: admin, entity: quote, can: [read]}\n"
        "  - name: changed\n    access: {role: admin, entity: quote, can: [read]}\n"
        "  - name: dropped\n    access: {role: admin, entity: quote, can: [read]}\n",
        encoding="utf-8")
    (client / "ours.yml").write_text(
        "checks:\n"
        "  - name: changed\n    access: {role: sales_rep, entity: quote, can: [edit]}\n"
        "  - name: dropped\n    remove: true\n"
        "  - name: new\n    record: {entity: quote, valid: true}\n", encoding="utf-8")
    checks, errors = load_checks([base, client])
    assert errors == []
    assert [c.name for c in checks] == ["kept", "changed", "new"]
    changed = checks[1]
    assert changed.body() == {"role": "sales_rep", "entity": "quote", "can": ["edit"]}
    assert changed.source.file.endswith("ours.yml") and changed.source.line == 2


def test_removing_a_check_no_base_has_is_an_error() -> None:
    checks, errors = load_check_texts([(1, "ours.yaml",
                                        "checks:\n  - {name: x, remove: true}\n")])
    assert checks == []
    assert [str(e) for e in errors] == [
        "ours.yaml:2:5: CRM-E116 cannot remove check 'x': no earlier folder has it"]


def test_a_single_file_and_a_missing_path(tmp_path: Path) -> None:
    file = tmp_path / "one.yaml"
    file.write_text("checks:\n  - name: a\n    access: {role: admin, entity: quote, "
                    "can: [read]}\n", encoding="utf-8")
    checks, errors = load_checks([file, tmp_path / "nowhere"])
    assert [c.name for c in checks] == ["a"]
    assert [e.code for e in errors] == ["CRM-E117"]
    assert "nowhere" in errors[0].message


def test_an_empty_file_holds_no_checks(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("# nothing yet\n", encoding="utf-8")
    assert load_checks([tmp_path]) == ([], [])


def test_the_shipped_json_schema_is_current_and_the_shipped_files_use_it() -> None:
    import jsonschema
    import yaml

    from app.configtests.checkfile import SCHEMA
    from tests.webkit import ROOT

    assert SHIPPED.read_text(encoding="utf-8") == render()
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    for path in [*sorted((ROOT / "config_tests").glob("*.yaml")),
                 *sorted((ROOT / "examples" / "acme" / "config_tests").glob("*.yaml"))]:
        text = path.read_text(encoding="utf-8")
        schema_line = text.splitlines()[0].removeprefix("# yaml-language-server: $schema=")
        assert (path.parent / schema_line).resolve() == SHIPPED, path
        jsonschema.validate(yaml.safe_load(text), SCHEMA)
