"""Read schema folders (base pack first, overlays after), validate each file, and merge them.

Merging is by name: an overlay file with `entity: opportunity` changes the base entity. Mappings
merge key by key (a label's `zh` can change alone), lists replace (a picklist's `choices`), a
field with `remove: true` is removed (its column and data stay until an explicit purge), and a
rule with `remove: true` is dropped. Every property remembers every file that set it, so
`crm config explain` can show how the result came about.
"""

from __future__ import annotations

import difflib
import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from app.fields import registry as default_registry
from app.fields.base import Registry
from app.meta import yamlpos
from app.meta.errors import ConfigError, ConfigErrors
from app.meta.files import ConfigFiles
from app.meta.jsonschema import entity_schema
from app.meta.types import Meta, Source, freeze


@dataclass
class Document:
    file: str
    data: dict[str, Any]
    positions: yamlpos.Positions
    layer: int


@dataclass
class Merged:
    """Raw (still unchecked) entities and presets after merging every layer."""

    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    provenance: dict[str, list[Source]] = field(default_factory=dict)
    #: where each entity, field, rule and preset was (last) written, for error messages
    where: dict[str, Source] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def note(self, key: str, src: Source) -> None:
        self.provenance.setdefault(key, []).append(src)
        self.where[key] = src


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def yaml_files(dirs: Sequence[Path], what: str, errors: list[ConfigError], *,
               skip: Callable[[Path], bool] = lambda path: False,
               files: ConfigFiles | None = None,
               ) -> Iterator[tuple[int, str, Any, yamlpos.Positions, bool]]:
    """Each YAML file of `dirs` (config layers, in order), parsed with positions: (layer, display
    name, data, positions, whether it had syntax errors). A missing folder, an unreadable file
    and syntax errors go to `errors`; `what` names the folder kind in messages. With `files`,
    the texts come from there (a candidate config in memory), not from the disk."""
    if files is not None:
        for layer, folder in enumerate(files.dirs.get(what, ())):
            for file_name, text in files.listing(what, layer):
                path = folder / file_name
                if skip(path):
                    continue
                name = _display(path)
                data, positions, errs = yamlpos.load(text, name)
                errors.extend(errs)
                yield layer, name, data, positions, bool(errs)
        return
    for layer, folder in enumerate(dirs):
        if not folder.is_dir():
            errors.append(ConfigError("CRM-E050", f"{what} folder {folder} does not exist",
                                      Source(str(folder))))
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            if skip(path):
                continue
            name = _display(path)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(ConfigError("CRM-E001", f"cannot read the file: {exc}",
                                          Source(name)))
                continue
            data, positions, errs = yamlpos.load(text, name)
            errors.extend(errs)
            yield layer, name, data, positions, bool(errs)


def read_documents(dirs: Sequence[Path], files: ConfigFiles | None = None
                   ) -> tuple[list[Document], list[ConfigError]]:
    docs: list[Document] = []
    errors: list[ConfigError] = []
    for layer, name, data, positions, broken in yaml_files(dirs, "schemas", errors,
                                                           files=files):
        if data is None:
            if not broken:
                errors.append(ConfigError("CRM-E003", "the file is empty", Source(name, 1, 1)))
            continue
        if not isinstance(data, dict) or not ({"entity", "presets", "access"} & set(data)):
            errors.append(ConfigError(
                "CRM-E003", "the file must start with `entity: <name>`, `presets:` or "
                "`access:`",
                positions.at(())))
            continue
        docs.append(Document(name, data, positions, layer))
    return docs, errors


def _schema_errors(doc: Document, validator: jsonschema.Draft202012Validator) -> list[ConfigError]:
    out: list[ConfigError] = []
    for err in validator.iter_errors(doc.data):
        path = tuple(err.absolute_path)
        where = ".".join(str(p) for p in path) or "the file"
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            for key in extra:
                hint = difflib.get_close_matches(key, list(err.schema.get("properties", {})), 1)
                did = f" (did you mean '{hint[0]}'?)" if hint else ""
                out.append(ConfigError("CRM-E011", f"unknown key '{key}' in {where}{did}",
                                       doc.positions.at((*path, key))))
        elif err.validator == "required":
            out.append(ConfigError("CRM-E012", f"{where}: {err.message}", doc.positions.at(path)))
        elif err.validator == "oneOf" and not path:
            out.append(ConfigError("CRM-E003", "the file must have `entity:` or `presets:`, "
                                   "not both", doc.positions.at(path)))
        elif err.validator == "enum" and path and path[-1] == "type":
            hint = difflib.get_close_matches(str(err.instance), list(err.validator_value), 1)
            did = f" (did you mean '{hint[0]}'?)" if hint else ""
            out.append(ConfigError("CRM-E017", f"unknown field type '{err.instance}' in "
                                   f"{'.'.join(str(p) for p in path[:-1])}{did}",
                                   doc.positions.at(path)))
        else:
            out.append(ConfigError("CRM-E010", f"{where}: {err.message}", doc.positions.at(path)))
    return out


def _merge_mapping(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_mapping(target[key], value)
        else:
            target[key] = value


def _merge_fields(
    ent: str, target: dict[str, Any], doc: Document, fields: dict[str, Any], merged: Merged,
    errors: list[ConfigError], is_new: bool,
) -> None:
    current: dict[str, Any] = target.setdefault("fields", {})
    removed = merged.removed.setdefault(ent, [])
    for fname, spec in fields.items():
        fpath = ("fields", fname)
        src = doc.positions.at(fpath)
        key = f"{ent}.{fname}"
        if not isinstance(spec, dict):
            continue  # the JSON Schema already reported it
        if spec.get("remove"):
            if fname in current and not current[fname].get("remove"):
                del current[fname]
                removed.append(fname)
            else:  # maybe a part of a preset block: resolved when presets expand
                current[fname] = {"remove": True}
            merged.note(key, src)
            continue
        if fname in current and not current[fname].get("remove"):
            _merge_mapping(current[fname], spec)
        else:
            current[fname] = {k: v for k, v in spec.items()}
            if fname in removed:
                removed.remove(fname)
        merged.note(key, src)
        for opt in spec:
            merged.note(f"{key}/{opt}", doc.positions.at((*fpath, opt)))


def _merge_rules(
    ent: str, target: dict[str, Any], doc: Document, rules: list[Any], merged: Merged,
    errors: list[ConfigError],
) -> None:
    current: list[dict[str, Any]] = target.setdefault("rules", [])
    by_name = {r.get("name"): r for r in current}
    in_this_file: set[Any] = set()
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        src = doc.positions.at(("rules", i))
        name = rule.get("name")
        key = f"{ent}/rules/{name}"
        if name in in_this_file:
            errors.append(ConfigError("CRM-E034", f"two rules of '{ent}' are named '{name}'",
                                      src))
            continue
        in_this_file.add(name)
        if rule.get("remove"):
            if name in by_name:
                current.remove(by_name.pop(name))
                merged.note(key, src)
            else:
                errors.append(ConfigError("CRM-E036", f"cannot remove rule '{name}': entity "
                                          f"'{ent}' has no such rule", src))
            continue
        if name in by_name:
            _merge_mapping(by_name[name], rule)
        else:
            by_name[name] = dict(rule)
            current.append(by_name[name])
        merged.note(key, src)


def merge(docs: Sequence[Document]) -> tuple[Merged, list[ConfigError]]:
    merged = Merged()
    errors: list[ConfigError] = []
    defined_in_layer: dict[tuple[int, str], Source] = {}
    for doc in docs:
        merged.files.append(doc.file)
        if "presets" in doc.data:
            for pname, preset in (doc.data.get("presets") or {}).items():
                merged.presets[pname] = preset
                merged.note(f"preset:{pname}", doc.positions.at(("presets", pname)))
            continue
        ent = doc.data.get("entity")
        if not isinstance(ent, str):
            continue
        src = doc.positions.at(("entity",))
        first = defined_in_layer.get((doc.layer, ent))
        if first is not None:
            errors.append(ConfigError("CRM-E016", f"entity '{ent}' is already defined in "
                                      f"{first}", src))
            continue
        defined_in_layer[(doc.layer, ent)] = src
        is_new = ent not in merged.entities
        target = merged.entities.setdefault(ent, {"entity": ent})
        merged.note(ent, src)
        for key, value in doc.data.items():
            if key == "fields":
                _merge_fields(ent, target, doc, value or {}, merged, errors, is_new)
            elif key == "rules":
                _merge_rules(ent, target, doc, value or [], merged, errors)
            elif key in ("label", "plural", "permissions") and isinstance(value, dict):
                _merge_mapping(target.setdefault(key, {}), value)
                merged.note(f"{ent}/{key}", doc.positions.at((key,)))
                if key == "permissions":  # each role's line, for `crm access explain`
                    for role in value:
                        merged.note(f"{ent}/permissions/{role}",
                                    doc.positions.at((key, role)))
            elif key != "entity":
                target[key] = value
                merged.note(f"{ent}/{key}", doc.positions.at((key,)))
    return merged, errors


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects that all stay
    alive (metadata, tables, classes): it would otherwise scan them again and again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_meta(
    schema_dirs: Sequence[Path],
    roles: Sequence[str] = ("admin",),
    registry: Registry | None = None,
    workflow_dirs: Sequence[Path] = (),
    files: ConfigFiles | None = None,
    report_dirs: Sequence[Path] = (),
) -> Meta:
    """Read, validate, merge, expand and check (entities from `schema_dirs`, webhooks,
    automations and stage machines from `workflow_dirs`, reports, dashboards and alerts from
    `report_dirs`; with `files`, the texts of those folders come from there instead of the
    disk). Raises ConfigErrors listing every problem."""
    reg = registry or default_registry
    if files is not None:
        schema_dirs, workflow_dirs = files.dirs["schemas"], files.dirs["workflows"]
        report_dirs = files.dirs.get("reports", ())
    with gc_paused():
        return _load(schema_dirs, roles, reg, workflow_dirs, files, report_dirs)


def _load(schema_dirs: Sequence[Path], roles: Sequence[str], reg: Registry,
          workflow_dirs: Sequence[Path] = (), files: ConfigFiles | None = None,
          report_dirs: Sequence[Path] = ()) -> Meta:
    import dataclasses

    from app.meta.access import is_access_doc, load_access
    from app.meta.build import build_meta, digest_of
    from app.meta.workflows import load_workflows

    docs, errors = read_documents(schema_dirs, files)
    read_order = tuple(d.file for d in docs)
    access_docs = [d for d in docs if is_access_doc(d.data)]
    docs = [d for d in docs if not is_access_doc(d.data)]
    validator = jsonschema.Draft202012Validator(entity_schema(reg, for_editors=False))
    valid_docs = []
    broken: list[str] = []
    for doc in docs:
        errs = _schema_errors(doc, validator)
        errors.extend(errs)
        if not errs:
            valid_docs.append(doc)
        elif isinstance(doc.data.get("entity"), str):
            broken.append(doc.data["entity"])
    merged, merge_errors = merge(valid_docs)
    for name in broken:  # a placeholder, so other files' lookups to it raise no extra errors
        merged.entities.setdefault(name, {"entity": name})
    errors.extend(merge_errors)
    meta, build_errors = build_meta(merged, roles, reg)
    errors.extend(build_errors)
    if workflow_dirs:
        found, wf_errors = load_workflows(workflow_dirs, meta, files)
        errors.extend(wf_errors)
        if found:  # without any, the digest stays
            meta = dataclasses.replace(meta, **{k: freeze(v) for k, v in found.items()})
            object.__setattr__(meta, "digest", digest_of(meta))
    if access_docs:
        access, access_errors = load_access(access_docs, meta)
        errors.extend(access_errors)
        meta = dataclasses.replace(meta, access=access, files=read_order)
        object.__setattr__(meta, "digest", digest_of(meta))
    if meta.approvals:
        from app.meta.approvals import check_queues

        errors.extend(check_queues(meta))
    if report_dirs:
        from app.meta.reports import load_reports

        found, report_errors = load_reports(report_dirs, meta, reg, files)
        errors.extend(report_errors)
        if found:  # without any, the digest stays
            meta = dataclasses.replace(meta, **{k: freeze(v) for k, v in found.items()})
            object.__setattr__(meta, "digest", digest_of(meta))
    if errors:
        raise ConfigErrors(errors)
    return meta
