"""Config test files: YAML lists of named checks, read with positions and validated.

A file holds `checks:`, a list; each check has a `name` and exactly one kind (`access`,
`record`, `transition`, `formula` or `approval`; docs/config-tests.md). Folders are layers like
schemas/ and workflows/ (the `config_tests:` folder of each config.yaml in the `extends:`
chain, base first): a later layer's check of the same name replaces the earlier one and
`{name: ..., remove: true}` drops it. Problems are `ConfigError`s with file and line:

| code | meaning |
|---|---|
| CRM-E110 | the file does not hold a `checks:` list |
| CRM-E111 | an unknown key |
| CRM-E112 | a required key is missing, or a check expects nothing |
| CRM-E113 | a value has the wrong type or is not one of the allowed values |
| CRM-E114 | a check has no kind, or more than one |
| CRM-E115 | two checks of one layer share a name |
| CRM-E116 | `remove: true` names a check no earlier layer has |
| CRM-E117 | a folder or file of checks does not exist or cannot be read |

Syntax errors keep the codes of every config file (CRM-E001, CRM-E002).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from app.meta import yamlpos
from app.meta.access import ACTIONS, SCOPED_ACTIONS, SCOPES
from app.meta.errors import ConfigError
from app.meta.types import IDENTIFIER, Source, freeze, thaw

#: the kinds of check, in the order the docs present them
KINDS: tuple[str, ...] = ("access", "record", "transition", "formula", "approval")
#: the name that stands for problems of a whole record (a rule naming no field)
WHOLE_RECORD = "record"
#: the JSON Schema editors use for check files (regenerate: `render()`; tested to be current)
SHIPPED = Path(__file__).resolve().parent.parent / "meta" / "configtests.schema.json"

_NAME = {"type": "string", "pattern": IDENTIFIER.pattern}
_NAMES = {"type": "array", "minItems": 1, "items": _NAME}
_ACTION_LIST = {"type": "array", "minItems": 1, "items": {"enum": list(ACTIONS)}}
_VALUES = {"type": "object", "propertyNames": _NAME,
           "description": "field name -> value, as a form or the API would send it"}


def _kind(required: list[str], props: dict[str, Any], description: str) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": required,
            "properties": props, "description": description}


ACCESS = _kind(["role", "entity"], {
    "role": _NAME, "entity": _NAME,
    "can": _ACTION_LIST, "cannot": _ACTION_LIST,
    "can_see": _NAMES, "cannot_see": _NAMES,
    "can_change": _NAMES, "cannot_change": _NAMES,
    "scope": {"type": "object", "additionalProperties": False, "minProperties": 1,
              "properties": {a: {"enum": list(SCOPES)} for a in SCOPED_ACTIONS}},
}, "what a role may do with an entity and which fields it sees or may change")
RECORD = _kind(["entity"], {
    "entity": _NAME, "values": _VALUES,
    "valid": {"type": "boolean"},
    "invalid": {"anyOf": [
        {"type": "array", "minItems": 1, "items": _NAME},
        {"type": "object", "minProperties": 1, "propertyNames": _NAME,
         "additionalProperties": {"type": "string", "minLength": 1}}]},
}, "whether a record with these values would be saved, or refused naming these fields")
TRANSITION = _kind(["to", "allowed"], {
    "entity": _NAME, "field": _NAME, "machine": _NAME,
    "from": {"type": ["string", "null"], "minLength": 1},
    "to": {"type": "string", "minLength": 1},
    "role": _NAME, "values": _VALUES,
    "allowed": {"type": "boolean"},
}, "whether a stage machine allows a move (leave out `from` for a new record)")
FORMULA = _kind(["entity", "expect"], {
    "entity": _NAME, "values": _VALUES,
    "expect": {"type": "object", "minProperties": 1, "propertyNames": _NAME},
}, "what formula fields (and defaults) compute from these values")
APPROVAL = _kind(["process"], {
    "process": _NAME, "values": _VALUES, "role": _NAME,
    "applies": {"type": "boolean"},
    "steps": {"type": "array", "items": _NAME},
    "submitter": {"type": "string", "minLength": 1},
    "approvers": {"type": "object", "minProperties": 1, "propertyNames": _NAME,
                  "additionalProperties": {"type": "array",
                                           "items": {"type": "string", "minLength": 1}}},
}, "whether an approval process takes a record and which steps (and approvers) it goes through")
CHECK: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "description": "what the check shows, "
                 "in a sentence; unique in its folder"},
        "description": {"type": "string"},
        "remove": {"const": True, "description": "drop the check of this name a base "
                   "folder has"},
        "access": ACCESS, "record": RECORD, "transition": TRANSITION, "formula": FORMULA,
        "approval": APPROVAL,
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "CRM config tests",
    "type": "object",
    "additionalProperties": False,
    "required": ["checks"],
    "properties": {"checks": {"type": "array", "items": CHECK}},
}
#: what each kind must say something about (beyond the names it works on)
EXPECTATIONS: Mapping[str, tuple[str, ...]] = {
    "access": ("can", "cannot", "can_see", "cannot_see", "can_change", "cannot_change", "scope"),
    "record": ("valid", "invalid"),
    "approval": ("applies", "steps", "approvers"),
}
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def render() -> str:
    """The JSON Schema of check files, as shipped in app/meta/configtests.schema.json."""
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Check:
    """One named check: its kind and what it says (`spec`, the kind's mapping, frozen)."""

    name: str
    kind: str
    spec: Mapping[str, Any]
    source: Source
    description: str = ""

    def body(self) -> dict[str, Any]:
        """`spec` as plain dicts and lists."""
        return dict(thaw(self.spec))


def load_checks(paths: Sequence[Path]) -> tuple[list[Check], list[ConfigError]]:
    """The checks of `paths` (folders or single files; each a layer, base first) and the
    problems of their files. A check with a problem is left out; callers that must not run
    half a suite stop when the error list is not empty."""
    texts: list[tuple[int, str, str]] = []
    errors: list[ConfigError] = []
    for layer, path in enumerate(paths):
        if path.is_dir():
            files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        elif path.is_file():
            files = [path]
        else:
            errors.append(ConfigError("CRM-E117", f"there is no folder or file {path} of "
                                      "config tests", Source(str(path))))
            continue
        for file in files:
            try:
                texts.append((layer, _display(file), file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(ConfigError("CRM-E117", f"cannot read the file: {exc}",
                                          Source(_display(file))))
    checks, more = load_check_texts(texts)
    return checks, errors + more


def load_check_texts(texts: Iterable[tuple[int, str, str]]
                     ) -> tuple[list[Check], list[ConfigError]]:
    """Like `load_checks`, from (layer, file name, YAML text) held in memory (the designer's
    copies)."""
    errors: list[ConfigError] = []
    merged: dict[str, Check] = {}
    seen: dict[tuple[int, str], Source] = {}
    for layer, name, text in texts:
        for check, remove in _file_checks(name, text, errors):
            first = seen.get((layer, check.name))
            if first is not None:
                errors.append(ConfigError("CRM-E115", f"two checks are named '{check.name}'; "
                                          f"the first one is at {first}", check.source))
                continue
            seen[(layer, check.name)] = check.source
            if remove:
                if merged.pop(check.name, None) is None:
                    errors.append(ConfigError("CRM-E116", f"cannot remove check "
                                              f"'{check.name}': no earlier folder has it",
                                              check.source))
                continue
            merged.pop(check.name, None)  # a later layer's check goes to the end
            merged[check.name] = check
    return list(merged.values()), errors


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _file_checks(name: str, text: str, errors: list[ConfigError]
                 ) -> list[tuple[Check, bool]]:
    """(check, whether it removes one) for each well-formed check of one file."""
    data, positions, errs = yamlpos.load(text, name)
    errors.extend(errs)
    if data is None or errs:
        return []
    if not isinstance(data, dict) or "checks" not in data:
        errors.append(ConfigError("CRM-E110", "a config test file holds `checks:`, a list of "
                                  "named checks", positions.at(())))
        return []
    bad: set[int] = set()
    for index, error in _schema_errors(data, positions):
        errors.append(error)
        if index is not None:
            bad.add(index)
    items = data.get("checks")
    if not isinstance(items, list):
        return []
    out: list[tuple[Check, bool]] = []
    for i, item in enumerate(items):
        if i in bad or not isinstance(item, dict):
            continue
        src = positions.at(("checks", i))
        label = f"check '{item['name']}'"
        kinds = [k for k in KINDS if k in item]
        if item.get("remove"):
            if kinds:
                errors.append(ConfigError("CRM-E114", f"{label}: `remove: true` takes only "
                                          "the name", src))
                continue
            out.append((Check(str(item["name"]), "", freeze({}), src), True))
            continue
        problem = _kind_problem(label, item, kinds)
        if problem:
            errors.append(ConfigError(problem[0], problem[1], src))
            continue
        out.append((Check(str(item["name"]), kinds[0], freeze(item[kinds[0]]), src,
                          str(item.get("description") or "")), False))
    return out


def _kind_problem(label: str, item: Mapping[str, Any], kinds: list[str]
                  ) -> tuple[str, str] | None:
    if not kinds:
        return "CRM-E114", f"{label} has no kind: give one of {', '.join(KINDS)}"
    if len(kinds) > 1:
        return "CRM-E114", (f"{label} has {len(kinds)} kinds ({', '.join(kinds)}): a check "
                            "tests one thing; split it in two")
    kind, body = kinds[0], item[kinds[0]]
    wanted = EXPECTATIONS.get(kind, ())
    if wanted and not set(wanted) & set(body):
        return "CRM-E112", f"{label} expects nothing: give {' or '.join(wanted)}"
    if kind == "record" and {"valid", "invalid"} <= set(body):
        return "CRM-E113", f"{label}: give `valid` or `invalid`, not both"
    if kind == "transition" and not {"entity", "machine"} & set(body):
        return "CRM-E112", f"{label}: give the `entity` (or the stage `machine`)"
    if kind == "approval" and "approvers" in body and "submitter" not in body:
        return "CRM-E112", (f"{label}: `approvers` needs the `submitter` (a username) whose "
                            "submission is routed")
    return None


def _schema_errors(data: Any, positions: yamlpos.Positions
                   ) -> list[tuple[int | None, ConfigError]]:
    """(index of the check it is in, or None; the error) for each JSON Schema problem."""
    out: list[tuple[int | None, ConfigError]] = []
    items = data.get("checks") if isinstance(data, dict) else None
    for err in _VALIDATOR.iter_errors(data):
        path = tuple(err.absolute_path)
        index = path[1] if len(path) > 1 and path[0] == "checks" and isinstance(path[1], int) \
            else None
        item = items[index] if index is not None and isinstance(items, list) else None
        within = path[2:] if index is not None else path
        label = f"check '{item['name']}'" if isinstance(item, dict) and isinstance(
            item.get("name"), str) else (f"check #{index + 1}" if index is not None else "")
        where = ".".join(str(p) for p in within)
        head = ": ".join(p for p in (label, where) if p) or "the file"
        if err.validator == "additionalProperties":
            known = list(err.schema.get("properties", {}))
            for key in sorted(set(err.instance) - set(known)):
                hint = difflib.get_close_matches(key, known, 1)
                did = f" (did you mean '{hint[0]}'?)" if hint else ""
                out.append((index, ConfigError(
                    "CRM-E111", f"{head}: unknown key '{key}'{did}; the keys are: "
                    f"{', '.join(known)}", positions.at((*path, key)))))
        elif err.validator == "required":
            out.append((index, ConfigError("CRM-E112", f"{head}: {err.message}",
                                           positions.at(path))))
        elif err.validator == "anyOf":
            out.append((index, ConfigError(
                "CRM-E113", f"{head}: give a list of field names, or a mapping of field name "
                "to words its message contains", positions.at(path))))
        else:
            out.append((index, ConfigError("CRM-E113", f"{head}: {err.message}",
                                           positions.at(path))))
    return out
