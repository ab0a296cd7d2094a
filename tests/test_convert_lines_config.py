"""`lines:` of conversion targets and "@source" in workflows/*.yaml: every mistake is a located,
coded config error (CRM-E132..E135, and the codes of `fields:` for the line fields); the shipped
workflows/contracts.yaml loads; lines and `repeatable` are part of the versioned config."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta.errors import ConfigErrors
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.types import Meta
from tests.factories import ROLES
from tests.webkit import ROOT

#: a valid conversion; each case below replaces one line (line numbers are the file's)
BASE = """\
conversions:
  conv:
    from: quote
    when: "status == 'accepted'"
    creates:
      contract:
        fields: {name: name, account: account, quote: "@source", quote_number: number}
        lines:
          - from: quote_line
            via: quote
            to: contract_line
            link: contract
            order: sort_order
            fields: {product: product, quantity: quantity, unit_price: unit_price}
    then:
      set: {converted_contract: "@contract"}
"""


def _load(tmp_path: Path, *files: str) -> Meta:
    layers = []
    for i, text in enumerate(files):
        wf = tmp_path / f"wf{i}"
        wf.mkdir(parents=True)
        (wf / "contracts.yaml").write_text(text, encoding="utf-8")
        layers.append(wf)
    return load_meta([ROOT / "schemas"], ROLES, workflow_dirs=layers)


def _replace(line: int, text: str) -> str:
    lines = BASE.splitlines()
    lines[line - 1] = text
    return "\n".join(lines) + "\n"


def test_the_base_and_the_shipped_conversions_load(tmp_path: Path) -> None:
    target = _load(tmp_path, BASE).conversions["conv"].targets[0]
    assert target.fields["quote"] == "@source"
    (lines,) = target.lines
    assert (lines.from_entity, lines.via, lines.to_entity, lines.link, lines.order) == (
        "quote_line", "quote", "contract_line", "contract", "sort_order")
    assert dict(lines.fields) == {"product": "product", "quantity": "quantity",
                                  "unit_price": "unit_price"}
    shipped = load_meta([ROOT / "schemas"], ROLES, workflow_dirs=[ROOT / "workflows"])
    to_contract, to_order = (shipped.conversions[n] for n in ("quote_to_contract",
                                                               "contract_to_order"))
    assert to_contract.targets[0].lines[0].to_entity == "contract_line"
    assert to_order.targets[0].lines[0].to_entity == "sales_order_line"
    assert to_order.then == {"converted_order": "@sales_order"}


@pytest.mark.parametrize(("line", "text", "code", "words"), [
    (9, "          - from: nosuch", "CRM-E132", "there is no entity 'nosuch'"),
    (11, "            to: contract_lines", "CRM-E132", "did you mean 'contract_line'"),
    (10, "            via: nosuch", "CRM-E133", "quote_line has no field 'nosuch'"),
    (10, "            via: product", "CRM-E133",
     "quote_line.product is a lookup to product, not a lookup to quote"),
    (12, "            link: description", "CRM-E133",
     "contract_line.description is a string field, not a lookup to contract"),
    (13, "            order: nosuch", "CRM-E134", "quote_line has no field 'nosuch'"),
    (13, "            order: line_total", "CRM-E134", "cannot be sorted by"),
    (14, "            fields: {contract: quote, quantity: quantity}", "CRM-E135",
     "the conversion sets it"),
    # (the match line is 7; the error points at the lines entry, now on line 10)
    (6, "      contract:\n        match: {name: name}", "CRM-E135", "`match`"),
    (14, "            fields: {nosuch: quantity}", "CRM-E091", "contract_line has no field"),
    (14, "            fields: {quantity: nosuch}", "CRM-E091", "quote_line has no field"),
    (14, "            fields: {description: quantity}", "CRM-E092", "does not fit"),
    (14, "            fields: {line_total: line_total}", "CRM-E091", "computed"),
    (14, "            fields: {product: \"@contract\"}", "CRM-E093",
     "'@contract' is a contract but product is a lookup to product"),
    (14, "            fields: {product: \"@nosuch\"}", "CRM-E093", "names no earlier target"),
    (7, "        fields: {name: \"@source\"}", "CRM-E093", "'@source' is a quote"),
    (5, "    creates:\n      source: {entity: account}", "CRM-E093", "stands for the record"),
    (13, "            order: sort_order\n            sort: up", "CRM-E011", "unknown key 'sort'"),
    (14, "            fields: {}", "CRM-E010", "fields"),
    (3, "    from: quote\n    repeatable: maybe", "CRM-E010", "maybe"),
])
def test_each_mistake_is_located_and_coded(tmp_path: Path, line: int, text: str, code: str,
                                           words: str) -> None:
    with pytest.raises(ConfigErrors) as info:
        _load(tmp_path, _replace(line, text))
    errors = info.value.errors
    assert len(errors) == 1, [str(e) for e in errors]
    e = errors[0]
    assert Path(e.source.file).name == "contracts.yaml"
    assert e.code == code, e.message
    assert words in e.message
    if code.startswith("CRM-E13"):
        at = 10 if "match" in text else line + text.count("\n")
        assert e.source.line == at, e.message


def test_a_missing_lines_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors) as info:
        _load(tmp_path, BASE.replace("            link: contract\n", ""))
    (e,) = info.value.errors
    assert e.code == "CRM-E012" and "link" in e.message


def test_snapshot_round_trip_and_digest(tmp_path: Path) -> None:
    base = BASE + "    repeatable: true\n"
    meta = _load(tmp_path, base)
    data = meta_to_dict(meta)
    body = data["conversions"]["conv"]
    assert body["repeatable"] is True
    assert body["creates"]["contract"]["lines"][0]["order"] == "sort_order"
    again = meta_from_dict(data)
    assert meta_to_dict(again) == data
    assert again.conversions["conv"].targets == meta.conversions["conv"].targets
    plain = _load(tmp_path / "plain", BASE.replace("        lines:\n", "        x:\n", 1)
                  .split("        x:\n")[0] + "    then:\n      set: {converted_contract: "
                  "\"@contract\"}\n")
    body = meta_to_dict(plain)["conversions"]["conv"]
    assert "repeatable" not in body and "lines" not in body["creates"]["contract"]
    assert meta.digest != plain.digest
