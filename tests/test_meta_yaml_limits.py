"""Config text comes from admins: YAML the parser accepts but that would tie up or crash a
worker (aliases expanding exponentially, deep nesting, a lone surrogate, a value its tag does
not fit) is refused as CRM-E001 naming the line, by the config loader (yamlpos.load) and by
the loader of the designer's text areas (yamlpos.safe_load); ordinary YAML loads as before."""

from __future__ import annotations

import time

import pytest
import yaml

from app.designer.changes import ChangeError
from app.designer.drafts import plain_change
from app.meta import yamlpos


def bomb(levels: int) -> str:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def refusal(text: str) -> str:
    data, _positions, errors = yamlpos.load(text, "f.yaml")
    assert data is None and [e.code for e in errors] == ["CRM-E001"], errors
    return str(errors[0])


def test_aliases_within_the_budget_load_like_pyyaml() -> None:
    text = ("label: &label {en: Name, zh: 名称}\nfields:\n  a: {type: string, label: *label}\n"
            "  b: {<<: *label, en: Other}\n")
    assert yamlpos.load(text, "f.yaml")[0] == yaml.safe_load(text)
    assert yamlpos.safe_load(text) == yaml.safe_load(text)
    assert yamlpos.load(text, "f.yaml")[2] == []  # a merged key overridden is no duplicate
    assert "appears twice" in str(yamlpos.load("a: {<<: {x: 1}, b: 1, b: 2}\n", "f")[2][0])
    assert yamlpos.safe_load(bomb(3)) == yaml.safe_load(bomb(3))  # 1,098 values repeated


@pytest.mark.parametrize("levels", [5, 9])
def test_aliases_beyond_the_budget_are_refused_at_once(levels: int) -> None:
    started = time.monotonic()
    assert refusal(bomb(levels)).startswith("f.yaml:4:")  # a3 is where 10,000 is passed
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        yamlpos.safe_load(bomb(levels))
    assert "10,000 values" in str(caught.value.problem)
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line == 3
    assert time.monotonic() - started < 1.0


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert "refers to the mapping or list it is in" in refusal("a: &x [1, *x]\n")
    with pytest.raises(yaml.YAMLError):
        yamlpos.safe_load("a: &x {b: *x}\n")


@pytest.mark.parametrize("depth", [101, 3000, 60000], ids=["just-over", "python", "libyaml"])
def test_deep_nesting_is_refused_without_a_crash(depth: int) -> None:
    """60,000 levels crash libyaml's recursive composer (a segfault, the whole worker)."""
    text = "x: " + "[" * depth + "]" * depth + "\n"
    assert "nested more than 100 deep" in refusal(text)
    with pytest.raises(yaml.YAMLError):
        yamlpos.safe_load(text)
    block = "x:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 150))
    assert "nested more than 100 deep" in refusal(block)


def test_a_lone_surrogate_is_refused_with_its_line() -> None:
    message = refusal("a: 1\nb: {en: x\ud800}\n")
    assert message.startswith("f.yaml:2:") and "lone surrogate" in message
    with pytest.raises(yaml.YAMLError):
        yamlpos.safe_load("b: \udc00\n")


@pytest.mark.parametrize("text", ["a: !!int xyz\n", "a: !!python/object:os.system x\n",
                                  "a: {<<: 5}\n", "a: !custom 1\n"])
def test_values_their_tag_does_not_fit_are_refused_not_raised(text: str) -> None:
    assert refusal(text).startswith("f.yaml:1:")
    with pytest.raises(yaml.YAMLError):
        yamlpos.safe_load(text)


def test_a_change_with_a_lone_surrogate_is_refused_naming_the_key() -> None:
    with pytest.raises(ChangeError) as caught:
        plain_change({"op": "field", "definition": {"label": {"en": "Na\ud800me"}}})
    assert "'definition.label.en'" in str(caught.value)
    str(caught.value).encode("utf-8")  # the message itself can be shown
    with pytest.raises(ChangeError) as caught:
        plain_change({"op": "field", "values": {"\udc00": 1}})
    assert "'values.\\udc00'" in str(caught.value)
    assert plain_change({"op": "field", "label": "名称"}) == {"op": "field", "label": "名称"}
