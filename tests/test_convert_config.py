"""Conversions in workflows/*.yaml: every mistake is a located, coded config error; the shipped
lead conversion loads; conversions are part of the versioned config and merge across layers."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta.errors import ConfigErrors
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.types import Meta
from tests.factories import ROLES
from tests.webkit import ROOT

SCHEMAS = ROOT / "schemas"

#: a valid conversion; each case below replaces one line (line numbers are the file's)
BASE = """\
conversions:
  conv:
    from: lead
    when: "status == 'qualified'"
    label: {en: Convert}
    creates:
      account:
        match: {name: company}
        fields: {name: company, billing: address}
      contact:
        fields: {last_name: last_name, account: "@account"}
      opportunity:
        optional: true
        fields: {name: company, account: "@account", primary_contact: "@contact"}
    then:
      set: {status: converted, converted_at: now, converted_account: "@account"}
"""


def _load(tmp_path: Path, *files: str) -> Meta:
    layers = []
    for i, text in enumerate(files):
        wf = tmp_path / f"wf{i}"
        wf.mkdir(parents=True)
        (wf / "sales.yaml").write_text(text, encoding="utf-8")
        layers.append(wf)
    return load_meta([SCHEMAS], ROLES, workflow_dirs=layers)


def _one(tmp_path: Path, text: str) -> tuple[str, int, str]:
    with pytest.raises(ConfigErrors) as info:
        _load(tmp_path, text)
    errors = info.value.errors
    assert len(errors) == 1, [str(e) for e in errors]
    e = errors[0]
    assert Path(e.source.file).name == "sales.yaml"
    return e.code, e.source.line, e.message


def _replace(line: int, text: str) -> str:
    lines = BASE.splitlines()
    lines[line - 1] = text
    return "\n".join(lines) + "\n"


def test_the_base_and_the_shipped_conversion_load(tmp_path: Path) -> None:
    conv = _load(tmp_path, BASE).conversions["conv"]
    assert [t.name for t in conv.targets] == ["account", "contact", "opportunity"]
    account = conv.targets[0]
    assert account.fields["billing_city"] == "address_city"  # preset block, field by field
    assert dict(account.match) == {"name": "company"}
    assert conv.targets[2].optional and not conv.targets[1].optional
    shipped = load_meta([SCHEMAS], ROLES, workflow_dirs=[ROOT / "workflows"])
    assert "lead_to_customer" in shipped.conversions


@pytest.mark.parametrize(("line", "text", "code", "words"), [
    (3, "    from: leed", "CRM-E090", "no entity 'leed'"),
    (12, "      oportunity:", "CRM-E090", "no entity 'oportunity'"),
    (4, "    when: \"status ==\"", "CRM-E040", "conv"),
    (4, "    when: \"nosuch == 1\"", "CRM-E042", "nosuch"),
    (9, "        fields: {name: company, nosuch: company}", "CRM-E091", "no field 'nosuch'"),
    (9, "        fields: {name: nosuch}", "CRM-E091", "lead has no field 'nosuch'"),
    (9, "        fields: {name: company, annual_revenue: company}", "CRM-E092",
     "does not fit"),
    (9, "        fields: {name: company, type: status}", "CRM-E092", "not a value of"),
    (9, "        fields: {name: company, open_opportunities: employees}", "CRM-E091",
     "computed"),
    (11, "        fields: {last_name: last_name, account: \"@opportunity\"}", "CRM-E093",
     "no earlier target"),
    (11, "        fields: {last_name: last_name, account: \"@contact\"}", "CRM-E093",
     "names no earlier"),
    (11, "        fields: {last_name: last_name, title: \"@account\"}", "CRM-E093",
     "is a account but title"),
    (9, "        fields: {name: company, billing: company}", "CRM-E094", "one field"),
    (9, "        fields: {name: address}", "CRM-E094", "block"),
    (9, "        fields: {name: company, billing: address, billing_city: company}", "CRM-E095",
     "set twice"),
    (16, "      set: {status: gone}", "CRM-E096", "does not fit"),
    (16, "      set: {status: now}", "CRM-E096", "date or datetime"),
    (16, "      set: {nosuch: 1}", "CRM-E091", "no field 'nosuch'"),
    (8, "        match: {name: nosuch}", "CRM-E091", "no field 'nosuch'"),
    (13, "        optional: maybe", "CRM-E010", "maybe"),
])
def test_each_mistake_is_located_and_coded(tmp_path: Path, line: int, text: str, code: str,
                                           words: str) -> None:
    got_code, got_line, message = _one(tmp_path, _replace(line, text))
    assert got_code == code, message
    assert words in message
    if code not in ("CRM-E010",):
        assert got_line == line, message


def test_snapshot_round_trip_and_digest(tmp_path: Path) -> None:
    meta = _load(tmp_path, BASE)
    data = meta_to_dict(meta)
    assert "conversions" in data
    again = meta_from_dict(data)
    assert meta_to_dict(again) == data
    assert again.conversions["conv"].targets[0].fields == meta.conversions["conv"].targets[
        0].fields
    plain = load_meta([SCHEMAS], ROLES)
    assert "conversions" not in meta_to_dict(plain)  # the digest of configs without any stays


def test_layers_merge_and_remove(tmp_path: Path) -> None:
    later = "conversions:\n  conv:\n    when: \"status == 'working'\"\n"
    meta = _load(tmp_path, BASE, later)
    assert meta.conversions["conv"].when == "status == 'working'"
    assert meta.conversions["conv"].targets  # kept from the base
    gone = _load(tmp_path / "x", BASE, "conversions:\n  conv: {remove: true}\n")
    assert not gone.conversions
    assert meta.digest != gone.digest
