"""Edit YAML text the way a careful person would: change what changed, keep everything else.

ruamel.yaml's round trip keeps comments and key order, but re-emitting a whole file also
normalises its spacing (aligned flow mappings lose their alignment). So an edit is made on the
round-trip tree, then both the untouched tree and the edited one are emitted, and only the lines
that differ between those two are spliced into the ORIGINAL text: every line the edit did not
touch stays byte for byte as the admin wrote it.

New values take the style of their neighbours: short mappings (a field whose options are plain
values, a label) are written in flow style on one line, like the shipped files.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Callable, Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

#: the identity of a list item, so an edited list keeps each item's comments and style
ITEM_KEYS = ("value", "name", "section", "role", "field")
#: a flow-style line longer than this is written as a block instead
FLOW_WIDTH = 110


class EditError(Exception):
    """The file cannot be edited (it is not valid YAML, or not a mapping)."""


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap long lines
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def parse(text: str) -> Any:
    try:
        return _yaml().load(text)
    except YAMLError as exc:
        raise EditError(f"not valid YAML: {exc}") from None


def emit(doc: Any) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def edit(text: str, change: Callable[[CommentedMap], None]) -> str:
    """`text` with `change` made to its top-level mapping, touching only the lines that change.
    An empty text starts an empty mapping."""
    doc = parse(text) if text.strip() else None
    if doc is None:  # empty, or only comments (a new file's header): they stay on top
        doc = CommentedMap()
        change(doc)
        head = text if not text or text.endswith("\n") else text + "\n"
        return head + (emit(doc) if doc else "")
    if not isinstance(doc, CommentedMap):
        raise EditError("the file does not hold a mapping of keys")
    before = emit(doc)
    change(doc)
    return splice(text, before, emit(doc))


def splice(original: str, before: str, after: str) -> str:
    """Apply the difference `before` -> `after` (both emitted by ruamel) to `original` (what
    `before` was parsed from). Lines equal in before/after keep the original's text.

    Full-line comments belong to the line they stand above (ruamel attaches them to the node
    before, so its emitter would delete the comment above `permissions:` together with the
    last field, or keep a removed field's comment above the next one): a comment goes where its
    line goes, and a new node is inserted above the comments of the line that follows it."""
    orig_lines = original.splitlines(keepends=True)
    before_lines = before.splitlines(keepends=True)
    after_lines = after.splitlines(keepends=True)
    if len(orig_lines) != len(before_lines):
        return after  # the emitter changed the line structure: fall back to its output
    ops = difflib.SequenceMatcher(None, before_lines, after_lines, autojunk=False).get_opcodes()
    # a line is gone when deleted, or replaced by lines that no longer hold its key (a line
    # rewritten in place, `phone: {...}` with a new option, is still there)
    gone = [False] * len(before_lines)
    for op, i1, i2, j1, j2 in ops:
        if op == "delete":
            gone[i1:i2] = [True] * (i2 - i1)
        elif op == "replace":
            keys = {_key_of(line) for line in after_lines[j1:j2]}
            for i in range(i1, i2):
                gone[i] = _key_of(before_lines[i]) not in keys
    owner = _comment_owners(before_lines)
    out: list[tuple[str, int | None]] = []  # (text, owner line of a comment)
    pending: dict[int, list[str]] = {}

    def emit_line(i: int) -> None:
        out.extend((text, None) for text in pending.pop(i, []))
        out.append((orig_lines[i], owner[i]))

    for op, i1, i2, j1, j2 in ops:
        if op == "equal":
            for i in range(i1, i2):
                o = owner[i]
                if o is not None and gone[o]:
                    continue  # the comment of a line that was removed
                emit_line(i)
            continue
        emitted_here = {line.strip() for line in after_lines[j1:j2]}
        for i in range(i1, i2):  # replaced lines: their comments stay when their line does
            o = owner[i]
            if o is not None and not gone[o] and orig_lines[i].strip() not in emitted_here:
                pending.setdefault(o, []).append(orig_lines[i])
        for i in range(i1, i2):  # a line rewritten here: its comments go just above
            out.extend((text, None) for text in pending.pop(i, []))
        held: list[tuple[str, int | None]] = []
        if op == "insert":  # above the comments of the line that follows
            while out and out[-1][1] is not None and out[-1][1] == i1:
                held.insert(0, out.pop())
        out.extend((line, None) for line in after_lines[j1:j2])
        out.extend(held)
    for lines in pending.values():
        out.extend((text, None) for text in lines)
    result = "".join(text for text, _ in out)
    if original.endswith("\n") or not original:
        return result if result.endswith("\n") or not result else result + "\n"
    return result


def _key_of(line: str) -> str:
    """What a line says it is: its indentation and mapping key (`  phone`), or the line."""
    head, sep, _rest = line.rstrip("\n").partition(":")
    return head if sep and "#" not in head else line.strip()


def _comment_owners(lines: list[str]) -> list[int | None]:
    """For each full-line comment, the index of the first content line after it (blank lines
    and other comments between are skipped); None for other lines and trailing comments."""
    owners: list[int | None] = [None] * len(lines)
    following: int | None = None
    for i in range(len(lines) - 1, -1, -1):
        text = lines[i].strip()
        if not text:
            continue
        if text.startswith("#"):
            owners[i] = following
        else:
            following = i
    return owners


def styled(value: Any, *, flow: bool | None = None) -> Any:
    """`value` as ruamel nodes: mappings of plain values (and small nested mappings such as
    labels) in flow style when they fit on a line; lists of plain values in flow style."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        for k, v in value.items():
            node[k] = styled(v)
        if flow if flow is not None else _fits(value):
            node.fa.set_flow_style()
        else:
            node.fa.set_block_style()
        return node
    if isinstance(value, list | tuple):
        seq = CommentedSeq(styled(v) for v in value)
        if all(not isinstance(v, Mapping | list | tuple) for v in value) and _fits(value):
            seq.fa.set_flow_style()
        else:
            seq.fa.set_block_style()
        return seq
    return value


def _fits(value: Any) -> bool:
    """Whether `value` reads well on one line: plain values, or mappings of plain values, and
    short enough."""
    def simple(v: Any, depth: int) -> bool:
        if isinstance(v, Mapping):
            return depth < 2 and all(simple(x, depth + 1) for x in v.values())
        if isinstance(v, list | tuple):
            return depth < 2 and all(not isinstance(x, Mapping | list | tuple) for x in v)
        return True

    return simple(value, 0) and len(_flow_text(value)) <= FLOW_WIDTH


def _flow_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_flow_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow_text(v) for v in value) + "]"
    return str(value)


def assign(parent: CommentedMap, key: str, value: Any) -> None:
    """Set `parent[key]` to `value`, keeping the existing node (its comments, style, key order)
    where it is still a mapping or a list, and only changing what differs."""
    if value is None:
        if key in parent:
            del parent[key]
        return
    current = parent.get(key)
    if isinstance(current, CommentedMap) and isinstance(value, Mapping):
        merge_map(current, value)
    elif isinstance(current, CommentedSeq) and isinstance(value, list | tuple):
        merge_seq(current, list(value))
    elif current != value or key not in parent:
        parent[key] = styled(value)


def merge_map(node: CommentedMap, value: Mapping[str, Any]) -> None:
    """Make `node` equal to `value` in place: changed keys updated, missing keys removed, new
    keys appended."""
    for k in [k for k in node if k not in value]:
        del node[k]
    for k, v in value.items():
        assign(node, k, v)
    if node.fa.flow_style() and not _fits(_plain(node)):
        node.fa.set_block_style()


def merge_seq(node: CommentedSeq, value: list[Any]) -> None:
    """Make `node` equal to `value`, reusing the existing item of the same identity (a choice's
    `value`, a step's `name`...) so its comments and style stay."""
    flow_items = bool(node) and all(
        isinstance(x, CommentedMap) and x.fa.flow_style() for x in node)
    old = list(node)
    by_id = {_identity(x): x for x in old if _identity(x) is not None}
    new: list[Any] = []
    unused = [x for x in old if _identity(x) is None]
    for item in value:
        ident = _identity(item)
        found = by_id.pop(ident, None) if ident is not None else None
        same = None if ident is not None else next(
            (x for x in unused if _plain(x) == _plain(item)), None)
        if isinstance(found, CommentedMap) and isinstance(item, Mapping):
            merge_map(found, item)
            new.append(found)
        elif same is not None:  # an item without identity, unchanged: kept as written
            unused.remove(same)
            new.append(same)
        elif item in old and not isinstance(item, Mapping):
            new.append(item)
        else:
            new.append(styled(item, flow=True if flow_items and isinstance(item, Mapping)
                              and _fits(item) else None))
    if len(new) == len(old) and all(a is b for a, b in zip(new, old, strict=True)):
        return
    # a comment after an item belongs to the list, by position: it moves with its item
    comments = {id(item): node.ca.items.get(i) for i, item in enumerate(old)}
    del node[:]
    node.ca.items.clear()
    node.extend(new)
    for i, item in enumerate(new):
        comment = comments.get(id(item))
        if comment is not None:
            node.ca.items[i] = comment


def _identity(item: Any) -> Any:
    if isinstance(item, Mapping):
        for k in ITEM_KEYS:
            if k in item and not isinstance(item[k], Mapping | list):
                return (k, item[k])
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def plain(value: Any) -> Any:
    """ruamel nodes as plain dicts and lists."""
    return _plain(value)


def order_keys(node: CommentedMap, order: list[str]) -> None:
    """Reorder `node`'s keys: those in `order` first in that order, then the rest as they were.
    Comments attached to a key move with it."""
    wanted = [k for k in order if k in node] + [k for k in node if k not in order]
    if list(node) == wanted:
        return
    items = [(k, node[k]) for k in wanted]
    comments = {k: node.ca.items.get(k) for k in wanted}
    for k in list(node):
        del node[k]
    for i, (k, v) in enumerate(items):
        node.insert(i, k, v)
        if comments[k] is not None:
            node.ca.items[k] = comments[k]
