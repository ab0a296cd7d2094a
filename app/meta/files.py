"""The text of every config YAML file of a deployment, held in memory.

The designer edits a copy of these (never the disk) and loads the result as a candidate config;
each published version records the files it was built from, so any version's YAML can be shown,
compared and restored. Files are keyed by folder kind, layer (the position of the folder in the
`extends:` chain, base first) and file name: ``schemas/0/account.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

#: the folder kinds whose files make up a config, in the order they are read
KINDS = ("schemas", "workflows", "reports")


@dataclass(frozen=True)
class FileKey:
    kind: str
    layer: int
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.layer}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> FileKey:
        """`schemas/0/account.yaml` -> FileKey; ValueError when it is not one."""
        kind, layer, name = text.split("/", 2) if text.count("/") >= 2 else ("", "", "")
        if kind not in KINDS or not layer.isdigit() or not valid_name(name):
            raise ValueError(f"not a config file key: {text!r}")
        return cls(kind, int(layer), name)


#: a plain YAML file name: letters, digits, _ . - (no folders, no hidden files, no controls)
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,80}\.ya?ml$")


def valid_name(name: str) -> bool:
    """A plain YAML file name (no folders, no hidden files, nothing but letters, digits, _ . -)."""
    return bool(NAME.match(name)) and ".." not in name


@dataclass(frozen=True)
class ConfigFiles:
    """Folders per kind (layers, base first) and the text of each file in them."""

    dirs: Mapping[str, tuple[Path, ...]]
    texts: Mapping[FileKey, str] = field(default_factory=dict)
    #: kinds whose last folder is the deployment's own (its config.yaml names it); an overlay
    #: without its own `workflows:` reads the base pack's, which the designer must not write
    own: frozenset[str] = frozenset(KINDS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "texts", MappingProxyType(dict(self.texts)))

    @classmethod
    def from_disk(cls, schema_dirs: Sequence[Path], workflow_dirs: Sequence[Path] = (), *,
                  own: frozenset[str] = frozenset(KINDS),
                  report_dirs: Sequence[Path] = ()) -> ConfigFiles:
        """Read every YAML file of the folders (missing folders hold no files; unreadable
        files are left out: loading the config reports them)."""
        dirs = {"schemas": tuple(schema_dirs), "workflows": tuple(workflow_dirs),
                "reports": tuple(report_dirs)}
        texts: dict[FileKey, str] = {}
        for kind, folders in dirs.items():
            for layer, folder in enumerate(folders):
                if not folder.is_dir():
                    continue
                for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
                    try:
                        texts[FileKey(kind, layer, path.name)] = path.read_text(
                            encoding="utf-8")
                    except (OSError, UnicodeDecodeError):
                        continue
        return cls(dirs, texts, own)

    def listing(self, kind: str, layer: int) -> list[tuple[str, str]]:
        """(file name, text) of one folder, sorted by name as the loader reads them."""
        return sorted((k.name, t) for k, t in self.texts.items()
                      if k.kind == kind and k.layer == layer)

    def path_of(self, key: FileKey) -> Path:
        return self.dirs[key.kind][key.layer] / key.name

    def top(self, kind: str) -> int | None:
        """The layer the designer writes to: the deployment's own (last) folder; None when
        the deployment has no folder of this kind of its own."""
        folders = self.dirs.get(kind, ())
        return len(folders) - 1 if folders and kind in self.own else None

    def keys(self, kind: str | None = None, layer: int | None = None) -> Iterator[FileKey]:
        for key in sorted(self.texts, key=str):
            if (kind is None or key.kind == kind) and (layer is None or key.layer == layer):
                yield key

    def changed(self, changes: Mapping[FileKey, str | None]) -> ConfigFiles:
        """A copy with `changes` made (None deletes a file)."""
        texts = dict(self.texts)
        for key, text in changes.items():
            if text is None:
                texts.pop(key, None)
            else:
                texts[key] = text
        return ConfigFiles(self.dirs, texts, self.own)

    def same_layout(self, other: ConfigFiles) -> bool:
        """Whether both have the same kinds and number of layers (files of one can replace
        the other's)."""
        return {k: len(v) for k, v in self.dirs.items()} == \
            {k: len(v) for k, v in other.dirs.items()}

    def to_stored(self) -> dict[str, str]:
        return {str(k): t for k, t in self.texts.items()}

    @classmethod
    def from_stored(cls, dirs: Mapping[str, tuple[Path, ...]], stored: Mapping[str, str],
                    own: frozenset[str] = frozenset(KINDS)) -> ConfigFiles:
        return cls(dirs, {FileKey.parse(k): t for k, t in stored.items()}, own)
