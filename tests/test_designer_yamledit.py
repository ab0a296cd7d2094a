"""Writing the designer's changes into YAML keeps the admin's comments, key order and spacing:
only the lines of what changed are rewritten."""

from __future__ import annotations

import pytest

from app.designer import yamledit

TEXT = """\
# The admin's own header comment.
entity: account
label: {en: Account, zh: 客户}
fields:
  name:     {type: string, required: true, label: {en: Name, zh: 名称}}   # aligned by hand
  # the customer's tier, decided by the key account team
  industry:
    type: picklist
    choices:
      - {value: it, label: {en: IT}, color: "#111111"}   # keep me
      - {value: retail, label: {en: Retail}}
  phone:    {type: phone}
"""


def test_untouched_lines_stay_byte_for_byte() -> None:
    out = yamledit.edit(TEXT, lambda doc: yamledit.assign(doc["fields"], "phone",
                                                          {"type": "phone", "required": True}))
    before, after = TEXT.splitlines(), out.splitlines()
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [("  phone:    {type: phone}", "  phone: {type: phone, required: true}")]


def test_comments_survive_an_edit_of_the_commented_node() -> None:
    def change(doc: object) -> None:
        industry = yamledit.plain(doc["fields"]["industry"])  # type: ignore[index]
        industry["choices"].append({"value": "energy", "label": {"en": "Energy"}})
        industry["label"] = {"en": "Industry", "zh": "行业"}
        yamledit.assign(doc["fields"], "industry", industry)  # type: ignore[index]

    out = yamledit.edit(TEXT, change)
    assert "# the customer's tier, decided by the key account team" in out
    assert '- {value: it, label: {en: IT}, color: "#111111"}   # keep me' in out
    assert "      - {value: energy, label: {en: Energy}}\n" in out
    assert "    label: {en: Industry, zh: 行业}\n" in out
    assert out.startswith("# The admin's own header comment.\n")


def test_new_keys_follow_and_short_ones_are_one_line() -> None:
    out = yamledit.edit(TEXT, lambda doc: yamledit.assign(
        doc["fields"], "tier", {"type": "string", "max_length": 20,
                                "label": {"en": "Tier", "zh": "等级"}}))
    assert out.endswith("  phone:    {type: phone}\n"
                        "  tier: {type: string, max_length: 20, label: {en: Tier, zh: 等级}}\n")


def test_removing_and_reordering_keys() -> None:
    def change(doc: object) -> None:
        fields = doc["fields"]  # type: ignore[index]
        yamledit.assign(fields, "phone", None)
        yamledit.order_keys(fields, ["industry", "name"])

    out = yamledit.edit(TEXT, change)
    assert "phone" not in out
    assert out.index("industry:") < out.index("name:")
    assert "# aligned by hand" in out


def test_a_file_that_is_not_yaml_is_refused() -> None:
    with pytest.raises(yamledit.EditError, match="not valid YAML"):
        yamledit.edit("entity: [unclosed\n", lambda doc: None)
    with pytest.raises(yamledit.EditError, match="mapping"):
        yamledit.edit("- a\n- b\n", lambda doc: None)


def test_an_empty_file_starts_a_mapping() -> None:
    assert yamledit.edit("", lambda doc: doc.update({"entity": "x"})) == "entity: x\n"


SECTIONED = """\
fields:
  # the name, as the customer writes it
  name: {type: string}
  # ask the customer
  phone: {type: phone}
# Who may do what (this comment belongs to permissions)
permissions:
  rep: {read: all}
"""


def test_a_comment_stays_with_the_line_below_it() -> None:
    added = yamledit.edit(SECTIONED, lambda doc: yamledit.assign(
        doc["fields"], "tier", {"type": "string"}))
    assert added == SECTIONED.replace(
        "# Who may do what", "  tier: {type: string}\n# Who may do what")
    removed = yamledit.edit(added, lambda doc: yamledit.assign(doc["fields"], "tier", None))
    assert removed == SECTIONED  # adding then removing leaves the file as it was


def test_a_removed_fields_own_comment_goes_with_it() -> None:
    out = yamledit.edit(SECTIONED, lambda doc: yamledit.assign(doc["fields"], "name", None))
    assert "the name, as the customer writes it" not in out
    assert "  # ask the customer\n  phone:" in out
    out = yamledit.edit(SECTIONED, lambda doc: yamledit.assign(doc["fields"], "phone", None))
    assert "ask the customer" not in out
    assert "# Who may do what (this comment belongs to permissions)\npermissions:" in out


def test_list_items_without_a_name_keep_their_style_when_unchanged() -> None:
    text = """\
stages:
  pipe:
    transitions:
      # forward only
      - {from: a, to: b, when: "x > 1"}
      - from: b
        to: c
        set: {done: true}
"""
    def add(doc: object) -> None:
        machine = yamledit.plain(doc["stages"]["pipe"])  # type: ignore[index]
        machine["transitions"].append({"from": "c", "to": "a"})
        yamledit.assign(doc["stages"], "pipe", machine)  # type: ignore[index]

    out = yamledit.edit(text, add)
    assert out.startswith(text)
    assert out[len(text):] == "      - {from: c, to: a}\n"
