"""Safe YAML loading that remembers where every key and value was written.

PyYAML's SafeLoader builds nodes with marks (line, column); we construct plain data from those
nodes ourselves so we can (1) record a position for every path, (2) refuse duplicate keys, which
PyYAML otherwise accepts silently (the second one wins, the first is lost).
"""

from __future__ import annotations

from typing import Any

import yaml

from app.meta.errors import ConfigError
from app.meta.types import Source

Path = tuple[str | int, ...]
#: libyaml's parser when PyYAML was built with it (6x faster, same marks), else pure Python
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Positions:
    """Path -> Source for one file. The path of a mapping key points at the key."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._marks: dict[Path, tuple[int, int]] = {}

    def add(self, path: Path, mark: yaml.Mark) -> None:
        self._marks[path] = (mark.line + 1, mark.column + 1)

    def at(self, path: Path) -> Source:
        """The position of `path`, or of its closest recorded parent."""
        p = tuple(path)
        while p:
            if p in self._marks:
                line, col = self._marks[p]
                return Source(self.file, line, col)
            p = p[:-1]
        line, col = self._marks.get((), (1, 1))
        return Source(self.file, line, col)


def load(text: str, file: str) -> tuple[Any, Positions, list[ConfigError]]:
    """Parse one YAML document. Returns (data, positions, errors); data is None on a syntax
    error."""
    positions = Positions(file)
    try:
        node = yaml.compose(text, Loader=LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        src = Source(file, mark.line + 1, mark.column + 1) if mark else Source(file)
        problem = exc.problem or str(exc)
        return None, positions, [ConfigError("CRM-E001", f"not valid YAML: {problem}", src)]
    except yaml.YAMLError as exc:
        return None, positions, [ConfigError("CRM-E001", f"not valid YAML: {exc}", Source(file))]
    if node is None:
        return None, positions, []
    errors: list[ConfigError] = []
    constructor = yaml.SafeLoader("")
    data = _build(node, (), positions, errors, constructor)
    return data, positions, errors


def _build(
    node: yaml.Node,
    path: Path,
    positions: Positions,
    errors: list[ConfigError],
    constructor: yaml.SafeLoader,
) -> Any:
    positions.add(path, node.start_mark)
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)  # resolves `<<:` merge keys the safe way
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                src = Source(positions.file, key_node.start_mark.line + 1,
                             key_node.start_mark.column + 1)
                errors.append(ConfigError("CRM-E010", "a key must be plain text", src))
                continue
            skey = str(key) if not isinstance(key, str) else key
            if skey in out:
                src = Source(positions.file, key_node.start_mark.line + 1,
                             key_node.start_mark.column + 1)
                first = positions.at((*path, skey))
                errors.append(
                    ConfigError(
                        "CRM-E002",
                        f"'{skey}' appears twice; the first one is at line {first.line}",
                        src,
                    )
                )
                continue
            positions.add((*path, skey), key_node.start_mark)
            out[skey] = _build(value_node, (*path, skey), positions, errors, constructor)
            # re-record the key's position: the value's mark would shadow it for scalars
            positions.add((*path, skey), key_node.start_mark)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, i), positions, errors, constructor)
            for i, item in enumerate(node.value)
        ]
    return constructor.construct_object(node, deep=True)
