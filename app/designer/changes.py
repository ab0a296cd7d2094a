"""The designer's changes: small, named edits of the config's YAML files.

A change is plain data (JSON in the admin's draft), e.g. ``{"op": "field", "entity":
"account", "field": "tier", "definition": {...}}``; `apply_change` makes it on a `ConfigFiles`
and returns the new files. Changes are written to the deployment's own (top) layer only: an
entity of the base pack gets an overlay file there with just the changed parts, and removing a
base field writes ``{remove: true}`` (the column and its data stay until a purge).

Every name in a change is checked before it reaches a file; a change that cannot be made
raises `ChangeError` naming what is wrong. Whether the result is a valid config is the loader's
job: the designer loads the changed files and shows its errors with file and line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap

from app.designer import yamledit
from app.meta import yamlpos
from app.meta.files import ConfigFiles, FileKey, valid_name
from app.meta.sections import FEATURE_SECTIONS
from app.meta.types import IDENTIFIER

#: workflow file sections the designer edits by name
SECTIONS = ("stages", "approvals", "escalations", "automations", "webhooks", "conversions",
            *FEATURE_SECTIONS)
GRANT_KEYS = ("create", "read", "edit", "delete", "export", "import", "merge", "hidden",
              "read_only")
ENTITY_KEYS = ("label", "plural", "title", "icon", "description", "list", "views")
SCHEMA_LINE = "# yaml-language-server: $schema="


class ChangeError(Exception):
    """A change that cannot be made; the message names the change's problem."""


Change = Mapping[str, Any]


def _name(change: Change, key: str, what: str) -> str:
    value = change.get(key)
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise ChangeError(f"{what} {value!r} is not a valid name: lower-case letters, digits "
                          "and _, starting with a letter")
    return value


def _mapping(change: Change, key: str, *, optional: bool = False) -> dict[str, Any] | None:
    value = change.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, Mapping):
        raise ChangeError(f"'{key}' must be a mapping of keys, not {type(value).__name__}")
    return dict(value)


def _docs(files: ConfigFiles, kind: str, layer: int) -> Iterable[tuple[FileKey, Any]]:
    for key in files.keys(kind, layer):
        try:
            data = yamlpos.safe_load(files.texts[key])
        except yaml.YAMLError:
            continue
        if isinstance(data, dict):
            yield key, data


def _top(files: ConfigFiles, kind: str) -> int:
    top = files.top(kind)
    if top is None:
        raise ChangeError(f"this deployment has no {kind} folder of its own to write to (its "
                          f"config.yaml sets no `{kind}:`; add one, e.g. `{kind}: {kind}`)")
    return top


def entity_file(files: ConfigFiles, entity: str) -> FileKey | None:
    """The top layer's file of `entity`, if it has one."""
    for key, data in _docs(files, "schemas", _top(files, "schemas")):
        if data.get("entity") == entity:
            return key
    return None


def defined_below(files: ConfigFiles, entity: str, field: str | None = None) -> bool:
    """Whether a lower layer (the base pack) defines `entity` (or its `field`)."""
    for layer in range(_top(files, "schemas")):
        for _key, data in _docs(files, "schemas", layer):
            if data.get("entity") != entity:
                continue
            if field is None or field in (data.get("fields") or {}):
                return True
    return False


def _schema_header(files: ConfigFiles, kind: str, layer: int, schema: str) -> str:
    """The editor-validation line the folder's other files use (so a new file has it too)."""
    for key in files.keys(kind, layer):
        first = files.texts[key].split("\n", 1)[0]
        if first.startswith(SCHEMA_LINE) and first.endswith(schema):
            return first + "\n"
    shipped = Path(__file__).resolve().parent.parent / "meta" / schema
    if not shipped.exists():
        return ""
    folder = files.dirs[kind][layer]
    try:
        relative = os.path.relpath(shipped, folder.resolve())
    except ValueError:  # another drive (Windows)
        relative = str(shipped)
    return f"{SCHEMA_LINE}{Path(relative).as_posix()}\n"


def _new_file(files: ConfigFiles, kind: str, stem: str) -> FileKey:
    layer = _top(files, kind)
    name = f"{stem}.yaml"
    n = 2
    while FileKey(kind, layer, name) in files.texts:
        name = f"{stem}_{n}.yaml"
        n += 1
    return FileKey(kind, layer, name)


def _edit(files: ConfigFiles, key: FileKey, change: Callable[[CommentedMap], None]) -> ConfigFiles:
    try:
        text = yamledit.edit(files.texts.get(key, ""), change)
    except yamledit.EditError as exc:
        raise ChangeError(f"{files.path_of(key).name}: {exc}") from None
    return files.changed({key: text})


def _entity_doc(files: ConfigFiles, entity: str, *, create: bool = True
                ) -> tuple[ConfigFiles, FileKey]:
    """The files and the key of the top layer's file of `entity` (made when the entity comes
    from the base pack and has none yet)."""
    key = entity_file(files, entity)
    if key is not None:
        return files, key
    if not create:
        raise ChangeError(f"entity '{entity}' is not defined in this deployment's files")
    if not defined_below(files, entity):
        raise ChangeError(f"there is no entity '{entity}' (add it first)")
    key = _new_file(files, "schemas", entity)
    header = _schema_header(files, "schemas", key.layer, "entity.schema.json")
    text = f"{header}# Changes to the base `{entity}` entity, made in the designer.\n" \
           f"entity: {entity}\n"
    return files.changed({key: text}), key


def _sub(doc: CommentedMap, key: str) -> CommentedMap:
    node = doc.get(key)
    if not isinstance(node, CommentedMap):
        node = CommentedMap()
        doc[key] = node
    return node


# -- the changes ---------------------------------------------------------------------------

def add_entity(files: ConfigFiles, change: Change) -> ConfigFiles:
    entity = _name(change, "entity", "entity")
    if entity_file(files, entity) is not None or defined_below(files, entity):
        raise ChangeError(f"an entity named '{entity}' already exists")
    label = _mapping(change, "label")
    plural = _mapping(change, "plural", optional=True) or label
    title_label = _mapping(change, "title_label", optional=True) or {"en": "Name", "zh": "名称"}
    key = _new_file(files, "schemas", entity)
    header = _schema_header(files, "schemas", key.layer, "entity.schema.json")

    def fill(doc: CommentedMap) -> None:
        doc["entity"] = entity
        doc["label"] = yamledit.styled(label)
        doc["plural"] = yamledit.styled(plural)
        doc["title"] = "name"
        fields = CommentedMap()
        fields["name"] = yamledit.styled({"type": "string", "required": True,
                                          "max_length": 200, "label": title_label})
        doc["fields"] = fields

    return _edit(files.changed({key: header}), key, fill)


def entity_props(files: ConfigFiles, change: Change) -> ConfigFiles:
    entity = _name(change, "entity", "entity")
    values = _mapping(change, "values") or {}
    unknown = sorted(set(values) - set(ENTITY_KEYS))
    if unknown:
        raise ChangeError(f"unknown entity properties: {', '.join(unknown)} (allowed: "
                          f"{', '.join(ENTITY_KEYS)})")
    files, key = _entity_doc(files, entity)

    def setprops(doc: CommentedMap) -> None:
        for k, v in values.items():
            yamledit.assign(doc, k, v)

    return _edit(files, key, setprops)


def field(files: ConfigFiles, change: Change) -> ConfigFiles:
    entity = _name(change, "entity", "entity")
    name = _name(change, "field", "field")
    definition = _mapping(change, "definition") or {}
    if definition.get("remove"):
        raise ChangeError("to remove a field use the remove_field change")
    files, key = _entity_doc(files, entity)
    return _edit(files, key, lambda doc: yamledit.assign(_sub(doc, "fields"), name, definition))


def remove_field(files: ConfigFiles, change: Change) -> ConfigFiles:
    """Hide a field: its column and values stay in the database until a purge."""
    entity = _name(change, "entity", "entity")
    name = _name(change, "field", "field")
    below = defined_below(files, entity, name)
    files, key = _entity_doc(files, entity)

    def drop(doc: CommentedMap) -> None:
        fields = _sub(doc, "fields")
        if name in fields and not below:
            del fields[name]
        else:  # a base field, or one a preset block adds: the loader checks it exists
            yamledit.assign(fields, name, {"remove": True})
        _forget(doc, name)

    return _edit(files, key, drop)


def _forget(doc: CommentedMap, name: str) -> None:
    """Take a removed field out of this file's layout sections and list columns."""
    for section in doc.get("layout") or []:
        if isinstance(section, Mapping) and name in (section.get("fields") or []):
            section["fields"].remove(name)
    columns = (doc.get("list") or {}).get("columns") if isinstance(doc.get("list"), Mapping) \
        else None
    if isinstance(columns, list) and name in columns:
        columns.remove(name)
    for view in doc.get("views") or []:
        if isinstance(view, Mapping) and name in (view.get("columns") or []):
            view["columns"].remove(name)


def rename_field(files: ConfigFiles, change: Change) -> ConfigFiles:
    """Rename a field of this deployment's own file, keeping its data: the new name gets
    `renamed_from: <old>` (the plan renames the column) and takes the old one's place in this
    file's layout and list columns. A base-pack field cannot be renamed from an overlay."""
    entity = _name(change, "entity", "entity")
    old = _name(change, "field", "field")
    new = _name(change, "to", "new field name")
    if old == new:
        raise ChangeError("the new name is the same as the old one")
    if defined_below(files, entity, old):
        raise ChangeError(f"'{old}' comes from the base pack: an overlay cannot rename it "
                          "(change its label instead)")
    files, key = _entity_doc(files, entity, create=False)

    def rename(doc: CommentedMap) -> None:
        fields = _sub(doc, "fields")
        if old not in fields:
            raise ChangeError(f"entity '{entity}' has no field '{old}' in this deployment's "
                              "files")
        if new in fields:
            raise ChangeError(f"entity '{entity}' already has a field '{new}'")
        definition = yamledit.plain(fields[old])
        if not isinstance(definition, dict):
            raise ChangeError(f"the definition of '{old}' is not a mapping")
        definition.pop("renamed_from", None)
        at = list(fields).index(old)
        comment = fields.ca.items.pop(old, None)
        del fields[old]
        fields.insert(at, new, yamledit.styled({**definition, "renamed_from": old}))
        if comment is not None:
            fields.ca.items[new] = comment
        _replace_name(doc, old, new)

    return _edit(files, key, rename)


def _replace_name(doc: CommentedMap, old: str, new: str) -> None:
    """`old` -> `new` in this file's layout sections, list columns and views' columns."""
    lists: list[Any] = [s.get("fields") for s in doc.get("layout") or []
                        if isinstance(s, Mapping)]
    if isinstance(doc.get("list"), Mapping):
        lists.append(doc["list"].get("columns"))
    lists.extend(v.get("columns") for v in doc.get("views") or [] if isinstance(v, Mapping))
    for names in lists:
        if isinstance(names, list) and old in names:
            names[names.index(old)] = new


def order_fields(files: ConfigFiles, change: Change) -> ConfigFiles:
    entity = _name(change, "entity", "entity")
    order = change.get("fields")
    if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
        raise ChangeError("'fields' must be the list of field names in their new order")
    files, key = _entity_doc(files, entity, create=False)
    return _edit(files, key, lambda doc: yamledit.order_keys(_sub(doc, "fields"), order))


def layout(files: ConfigFiles, change: Change) -> ConfigFiles:
    entity = _name(change, "entity", "entity")
    sections = change.get("layout")
    if not isinstance(sections, list) or not all(isinstance(s, Mapping) for s in sections):
        raise ChangeError("'layout' must be a list of sections")
    files, key = _entity_doc(files, entity)
    return _edit(files, key, lambda doc: yamledit.assign(doc, "layout", sections or None))


def permissions(files: ConfigFiles, change: Change) -> ConfigFiles:
    """A role's grant on one entity (None: the role's default applies again)."""
    entity = _name(change, "entity", "entity")
    role = _name(change, "role", "role")
    grant = _mapping(change, "grant", optional=True)
    if grant is not None:
        unknown = sorted(set(grant) - set(GRANT_KEYS))
        if unknown:
            raise ChangeError(f"unknown permission keys: {', '.join(unknown)}")
    files, key = _entity_doc(files, entity)

    def setgrant(doc: CommentedMap) -> None:
        perms = _sub(doc, "permissions")
        yamledit.assign(perms, role, grant)
        if not perms:
            del doc["permissions"]

    return _edit(files, key, setgrant)


def _section_file(files: ConfigFiles, kind: str, section: str, name: str | None,
                  new_stem: str, header_schema: str, path: tuple[str, ...] = ()
                  ) -> tuple[ConfigFiles, FileKey]:
    """The top-layer file holding `section` (`name` in it first, then any), or a new one."""
    layer = _top(files, kind)
    holders = []
    for key, data in _docs(files, kind, layer):
        node: Any = data
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        items = node.get(section) if isinstance(node, dict) else None
        if isinstance(items, dict):
            if name is not None and name in items:
                return files, key
            holders.append(key)
    if holders:
        return files, holders[0]
    key = _new_file(files, kind, new_stem)
    header = _schema_header(files, kind, layer, header_schema)
    return files.changed({key: header + "# Made in the designer.\n"}), key


def role(files: ConfigFiles, change: Change) -> ConfigFiles:
    """A role's label, `reports_to` and default grants in the access file (None removes this
    layer's definition of the role)."""
    name = _name(change, "role", "role")
    values = _mapping(change, "values", optional=True)
    files, key = _section_file(files, "schemas", "roles", name, "_access", "access.schema.json",
                        ("access",))
    return _edit(files, key, lambda doc: yamledit.assign(
        _sub(_sub(doc, "access"), "roles"), name, values))


def preset(files: ConfigFiles, change: Change) -> ConfigFiles:
    name = _name(change, "preset", "preset")
    definition = _mapping(change, "definition", optional=True)
    files, key = _section_file(files, "schemas", "presets", name, "_presets", "entity.schema.json")
    return _edit(files, key, lambda doc: yamledit.assign(_sub(doc, "presets"), name,
                                                         definition))


def workflow(files: ConfigFiles, change: Change) -> ConfigFiles:
    """One named stage machine, approval process, escalation, automation, webhook or
    conversion (None removes it from this layer)."""
    section = change.get("section")
    if section not in SECTIONS:
        raise ChangeError(f"section must be one of {', '.join(SECTIONS)}, not {section!r}")
    name = _name(change, "name", section.rstrip("s"))
    definition = _mapping(change, "definition", optional=True)
    files, key = _section_file(files, "workflows", section, name, "designer",
                               "workflow.schema.json")

    def setdef(doc: CommentedMap) -> None:
        items = _sub(doc, section)
        yamledit.assign(items, name, definition)
        if not items:
            del doc[section]

    return _edit(files, key, setdef)


def file_text(files: ConfigFiles, change: Change) -> ConfigFiles:
    """Replace (or with text None, delete) one file of the top layer: the YAML tab."""
    try:
        key = FileKey.parse(str(change.get("file", "")))
    except ValueError as exc:
        raise ChangeError(str(exc)) from None
    if key.layer != files.top(key.kind):
        raise ChangeError(f"only this deployment's own files can be edited, not {key}")
    if not valid_name(key.name):
        raise ChangeError(f"not a YAML file name: {key.name!r}")
    text = change.get("text")
    if text is not None and not isinstance(text, str):
        raise ChangeError("'text' must be the file's text")
    if text is None and key not in files.texts:
        raise ChangeError(f"there is no file {key}")
    base = change.get("base_sha")
    if base is not None and base != text_sha(files.texts.get(key)):
        raise ChangeError(f"{key.name} was changed by someone else since this text was "
                          "written (another admin's applied change): open the file again and "
                          "make the edit on its current text")
    return files.changed({key: text})


def text_sha(text: str | None) -> str:
    """What a `file` change remembers of the text it was written on ("" for no file)."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text is not None else ""


OPS: dict[str, Callable[[ConfigFiles, Change], ConfigFiles]] = {
    "add_entity": add_entity,
    "entity": entity_props,
    "field": field,
    "remove_field": remove_field,
    "rename_field": rename_field,
    "order_fields": order_fields,
    "layout": layout,
    "permissions": permissions,
    "role": role,
    "preset": preset,
    "workflow": workflow,
    "file": file_text,
}


def apply_change(files: ConfigFiles, change: Change) -> ConfigFiles:
    op = change.get("op")
    fn = OPS.get(str(op))
    if fn is None:
        raise ChangeError(f"unknown change {op!r} (known: {', '.join(OPS)})")
    return fn(files, change)


def apply_all(files: ConfigFiles, changes: Iterable[Change]) -> ConfigFiles:
    for i, change in enumerate(changes, 1):
        try:
            files = apply_change(files, change)
        except ChangeError as exc:
            raise ChangeError(f"change {i} ({describe(change)}): {exc}") from None
    return files


def describe(change: Change) -> str:
    """A short English summary of a change, for lists and messages."""
    op = change.get("op")
    ent = change.get("entity")
    if op == "field":
        return f"set field {ent}.{change.get('field')}"
    if op == "remove_field":
        return f"remove field {ent}.{change.get('field')}"
    if op == "rename_field":
        return f"rename field {ent}.{change.get('field')} to {change.get('to')}"
    if op == "add_entity":
        return f"add entity {ent}"
    if op in ("entity", "layout", "order_fields"):
        return {"entity": "change entity", "layout": "change the layout of",
                "order_fields": "reorder the fields of"}[str(op)] + f" {ent}"
    if op == "permissions":
        return f"permissions of {change.get('role')} on {ent}"
    if op == "role":
        return f"role {change.get('role')}"
    if op == "preset":
        return f"preset {change.get('preset')}"
    if op == "workflow":
        return f"{change.get('section')} {change.get('name')}"
    if op == "file":
        return f"edit file {change.get('file')}"
    return str(op)
