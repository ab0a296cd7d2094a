"""Safe YAML loading that remembers where every key and value was written.

PyYAML's SafeLoader builds nodes with marks (line, column); we construct plain data from those
nodes ourselves so we can (1) record a position for every path, (2) refuse duplicate keys, which
PyYAML otherwise accepts silently (the second one wins, the first is lost).

Config text comes from admins (the designer's YAML tab and text areas), so it is composed with
limits (`compose`): aliases that would expand beyond ALIAS_BUDGET values ("billion laughs"),
nesting deeper than MAX_DEPTH (libyaml's composer recurses in C and crashes the process on a
few ten thousand levels) and lone surrogates are refused with a YAML error naming the line.
`safe_load` is yaml.safe_load with those limits, for every text an admin types.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from app.meta.errors import ConfigError
from app.meta.types import Source

Path = tuple[str | int, ...]
#: libyaml's parser when PyYAML was built with it (6x faster, same marks), else pure Python
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: values that aliases (`*name`) may add to one text beyond what it writes out
ALIAS_BUDGET = 10_000
#: mappings and lists nested in each other, at most (config files need fewer than 10)
MAX_DEPTH = 100
#: above this bound on the nesting, the events are counted before composing (see _nesting)
_COMPOSE_SAFE = 1_000
_SURROGATE = re.compile("[\ud800-\udfff]")
#: what an alias looks like; text without one composes to a tree, nothing to expand
_ALIAS = re.compile(r"\*[^\s,\[\]{}]")
#: the start of a line up to where a block collection can begin on it
_LINE_START = re.compile(r"(?:^|(?<=[\r\x85\u2028\u2029]))(?:[ \t?:-]|[&!]\S*)*",
                         re.MULTILINE)  # YAML breaks lines at \r, NEL and LS/PS too


class Refused(yaml.MarkedYAMLError):
    """Text YAML accepts but we do not: too deep, aliases expanding too far, a bad
    character or a value its tag does not fit. A MarkedYAMLError, so callers that catch
    yaml.YAMLError and show `problem` and `problem_mark` show these too."""

    def __init__(self, problem: str, mark: Any) -> None:  # yaml.Mark, or libyaml's
        super().__init__(problem=problem, problem_mark=mark)


def _mark_at(text: str, index: int) -> yaml.Mark:
    line = text.count("\n", 0, index)
    column = index - (text.rfind("\n", 0, index) + 1)
    return yaml.Mark("<text>", index, line, column, None, 0)  # no buffer: no snippet


class _Constructor(SafeConstructor):
    """SafeConstructor whose value errors (`!!int x`, `!!float` overflow) name the node."""

    def __init__(self) -> None:
        super().__init__()
        #: id(mapping node) -> ids of the key nodes written in it, not merged in with `<<:`
        self.own_keys: dict[int, set[int]] = {}

    def flatten_own(self, node: yaml.MappingNode) -> set[int]:
        """Resolve `node`'s merge keys; the ids of the keys written in `node` itself."""
        own = self.own_keys.get(id(node))
        if own is None:  # the first visit (an alias visits the node again, flattened)
            own = self.own_keys[id(node)] = {id(k) for k, _ in node.value}
            self.flatten_mapping(node)
        return own

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:
            raise Refused(f"the value cannot be read as its tag says ({exc})",
                          node.start_mark) from None


def _nesting(text: str) -> None:
    """Refuse text nested deeper than MAX_DEPTH before libyaml composes it (its composer
    recurses in C). Counting the parser's events costs as much as composing, so it is done
    only when a cheap bound says the text could be that deep: flow collections need a
    bracket each (a flow pair mapping rides on its `[`), block ones a column further in."""
    flow = 2 * text.count("[") + text.count("{")
    if flow + 2 * (max(map(len, text.split("\n"))) + 1) <= _COMPOSE_SAFE:
        return  # no line is long enough to indent that far (the cheap test first)
    indent = max((m.end() - m.start() for m in _LINE_START.finditer(text)), default=0)
    if flow + 2 * (indent + 1) <= _COMPOSE_SAFE:
        return
    depth = 0
    try:
        for event in yaml.parse(text, Loader=LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise Refused(f"mappings and lists are nested more than {MAX_DEPTH} deep",
                                  event.start_mark)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except Refused:
        raise
    except yaml.MarkedYAMLError as exc:  # libyaml 0.2.6+ scans ahead and has its own limit
        if "nesting depth" not in str(exc.problem):
            raise
        raise Refused(f"mappings and lists are nested more than {MAX_DEPTH} deep",
                      exc.problem_mark) from None


def _children(node: yaml.Node) -> list[tuple[yaml.Node, yaml.Mark]]:
    """The nodes inside `node`, each with where it is written (a value: its key's line)."""
    if isinstance(node, yaml.MappingNode):
        out = []
        for key, value in node.value:
            out += [(key, key.start_mark), (value, key.start_mark)]
        return out
    if isinstance(node, yaml.SequenceNode):
        return [(item, node.start_mark) for item in node.value]
    return []


def _expansion(root: yaml.Node) -> None:
    """Refuse aliases that would expand beyond ALIAS_BUDGET values, refer to the collection
    holding them, or nest deeper than MAX_DEPTH. One pass over the distinct nodes (an alias
    is the anchored node again), without recursion."""
    size: dict[int, int] = {}  # id(node) -> values it stands for, aliases expanded
    depth: dict[int, int] = {}
    open_: set[int] = set()
    extra = 0
    stack: list[tuple[yaml.Node, yaml.Mark, bool]] = [(root, root.start_mark, False)]
    while stack:
        node, where, done = stack.pop()
        key = id(node)
        kids = _children(node)
        if done:
            size[key] = 1 + sum(size[id(k)] for k, _ in kids)
            depth[key] = 1 + max((depth[id(k)] for k, _ in kids), default=0)
            open_.discard(key)
            if depth[key] > MAX_DEPTH:
                raise Refused(f"mappings and lists are nested more than {MAX_DEPTH} deep",
                              node.start_mark)
            continue
        if key in size:  # written once before: this is an alias of it
            extra += size[key]
            if extra > ALIAS_BUDGET:
                raise Refused(f"aliases (*name) here repeat more than {ALIAS_BUDGET:,} values; "
                              "write the values out or repeat fewer", where)
            continue
        if key in open_:
            raise Refused("an alias (*name) refers to the mapping or list it is in", where)
        open_.add(key)
        stack.append((node, where, True))
        stack.extend((k, at, False) for k, at in reversed(kids))


def compose(text: str, *, measure: bool = False) -> yaml.Node | None:
    """yaml.compose within the limits above; raises yaml.YAMLError (Refused for what YAML
    accepts but we do not). Texts with aliases are measured (expansion, cycles, depth);
    `measure` measures any text (the caller then needs no depth check of its own)."""
    bad = _SURROGATE.search(text)
    if bad:
        raise Refused(f"the text holds {bad.group()!a}, half of a character (a lone "
                      "surrogate), which cannot be stored; remove it", _mark_at(text, bad.start()))
    _nesting(text)
    try:
        node = yaml.compose(text, Loader=LOADER)
    except RecursionError:  # the pure-Python composer (no libyaml) on deep nesting
        raise Refused("mappings and lists are nested too deeply", None) from None
    except UnicodeError as exc:
        raise Refused(f"the text cannot be read: {exc}", None) from None
    if node is not None and (measure or _ALIAS.search(text)):
        _expansion(node)
    return node


def safe_load(text: str) -> Any:
    """yaml.safe_load within the limits of `compose`: for text an admin types (the designer's
    text areas). Raises yaml.YAMLError, a MarkedYAMLError naming the line where it can."""
    node = compose(text, measure=True)
    if node is None:
        return None
    return _Constructor().construct_document(node)


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
    error or a text `compose` refuses (CRM-E001 with the line)."""
    positions = Positions(file)
    try:
        node = compose(text)
        if node is None:
            return None, positions, []
        errors: list[ConfigError] = []
        data = _build(node, (), positions, errors, _Constructor(), 0)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        src = Source(file, mark.line + 1, mark.column + 1) if mark else Source(file)
        problem = exc.problem or str(exc)
        return None, Positions(file), [ConfigError("CRM-E001", f"not valid YAML: {problem}",
                                                   src)]
    except yaml.YAMLError as exc:
        return None, Positions(file), [ConfigError("CRM-E001", f"not valid YAML: {exc}",
                                                   Source(file))]
    except RecursionError:  # `<<:` merges nested in merges, deeper than anything we read
        return None, Positions(file), [ConfigError(
            "CRM-E001", "not valid YAML: merge keys (<<) are nested too deeply", Source(file))]
    return data, positions, errors


def _build(
    node: yaml.Node,
    path: Path,
    positions: Positions,
    errors: list[ConfigError],
    constructor: _Constructor,
    depth: int,
) -> Any:
    if depth > MAX_DEPTH:  # texts with aliases were measured by _expansion already
        raise Refused(f"mappings and lists are nested more than {MAX_DEPTH} deep",
                      node.start_mark)
    positions.add(path, node.start_mark)
    if isinstance(node, yaml.MappingNode):
        # `<<:` merge keys, resolved the safe way: merged keys come first, and a key written
        # in the mapping itself overrides them (as PyYAML does); only a key written twice in
        # the mapping itself is an error
        own = constructor.flatten_own(node)
        out: dict[Any, Any] = {}
        merged: set[str] = set()
        for key_node, value_node in node.value:
            key = _scalar(constructor, key_node)
            if not isinstance(key, str | int | float | bool) or key is None:
                src = Source(positions.file, key_node.start_mark.line + 1,
                             key_node.start_mark.column + 1)
                errors.append(ConfigError("CRM-E010", "a key must be plain text", src))
                continue
            skey = str(key) if not isinstance(key, str) else key
            if id(key_node) not in own:
                merged.add(skey)
            elif skey in merged:
                merged.discard(skey)
                del out[skey]
            if skey in out and skey not in merged:
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
            out[skey] = _build(value_node, (*path, skey), positions, errors, constructor,
                               depth + 1)
            # re-record the key's position: the value's mark would shadow it for scalars
            positions.add((*path, skey), key_node.start_mark)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, i), positions, errors, constructor, depth + 1)
            for i, item in enumerate(node.value)
        ]
    return _scalar(constructor, node)


def _scalar(constructor: _Constructor, node: yaml.Node) -> Any:
    """`node` constructed (a scalar, or a key of any kind); value errors name the node."""
    try:  # SafeConstructor's own, without the override's extra frame on every scalar
        return SafeConstructor.construct_object(constructor, node, deep=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise Refused(f"the value cannot be read as its tag says ({exc})",
                      node.start_mark) from None
