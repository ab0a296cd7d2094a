"""The config's history: every published version (who, when, why, what changed) and the
difference between any two of them, by meaning (entities, fields, properties, workflows) and
by file text when both versions recorded their YAML files."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.meta.files import ConfigFiles, FileKey
from app.meta.sections import FEATURE_SECTIONS
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.migrate import sources
from app.model.designer import config_sources
from app.model.system import config_versions, schema_history

#: top-level sections of a snapshot compared item by item
SECTIONS = ("stages", "approvals", "escalations", "automations", "webhooks", "conversions",
            *FEATURE_SECTIONS)
#: those and the report sections (reports/*.yaml)
COMPARED = (*SECTIONS, "reports", "dashboards", "alerts")


@dataclass(frozen=True)
class Version:
    id: int
    created_at: datetime
    author: str | None
    message: str | None
    digest: str
    parent_id: int | None
    has_files: bool
    steps: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Difference:
    """One thing that differs: `where` like "account.tier" or "stages opportunity_pipeline",
    `kind` added / removed / changed, and for changes the properties with old and new value."""

    where: str
    kind: str
    details: tuple[tuple[str, Any, Any], ...] = ()


@dataclass(frozen=True)
class FileDiff:
    key: FileKey
    path: str
    kind: str  # added / removed / changed
    unified: str
    before: str | None = None
    after: str | None = None


def versions(conn: sa.Connection, *, limit: int = 100, offset: int = 0,
             only: int | None = None) -> list[Version]:
    """Published versions, newest first (or just version `only`)."""
    v = config_versions.c
    stmt = (sa.select(v.id, v.created_at, v.author, v.message, v.digest, v.parent_id,
                      v.migration_id, config_sources.c.version_id.label("has_files"))
            .select_from(config_versions.outerjoin(config_sources,
                                                   config_sources.c.version_id == v.id))
            .order_by(v.id.desc()).limit(limit).offset(offset))
    if only is not None:
        stmt = stmt.where(v.id == only)
    rows = conn.execute(stmt).all()
    mids = [r.migration_id for r in rows if r.migration_id]
    steps: dict[str, list[dict[str, Any]]] = {}
    if mids:
        steps = {r.migration_id: list(r.steps or []) for r in conn.execute(
            sa.select(schema_history.c.migration_id, schema_history.c.steps)
            .where(schema_history.c.migration_id.in_(mids)))}
    return [Version(int(r.id), r.created_at, r.author, r.message, r.digest, r.parent_id,
                    r.has_files is not None, steps.get(r.migration_id or "", []))
            for r in rows]


def version(conn: sa.Connection, version_id: int) -> Version | None:
    found = versions(conn, limit=1, only=version_id)
    return found[0] if found else None


def snapshot(conn: sa.Connection, version_id: int) -> dict[str, Any] | None:
    return conn.execute(sa.select(config_versions.c.snapshot).where(
        config_versions.c.id == version_id)).scalar()


def compare(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Difference]:
    """What differs between two snapshots (`meta_to_dict` output), in reading order."""
    old = old or {"entities": {}}
    new = new or {"entities": {}}
    out: list[Difference] = []
    oe, ne = old.get("entities", {}), new.get("entities", {})
    for name in sorted(set(oe) | set(ne)):
        a, b = oe.get(name), ne.get(name)
        if a == b:
            continue
        if a is None or b is None:
            out.append(Difference(name, "added" if a is None else "removed"))
            continue
        af, bf = a.get("fields", {}), b.get("fields", {})
        for fname in list(af) + [f for f in bf if f not in af]:
            fa, fb = af.get(fname), bf.get(fname)
            if fa == fb:
                continue
            where = f"{name}.{fname}"
            if fa is None or fb is None:
                out.append(Difference(where, "added" if fa is None else "removed"))
            else:
                out.append(Difference(where, "changed", _details(fa, fb)))
        if list(af) != list(bf) and set(af) == set(bf):
            out.append(Difference(f"{name} field order", "changed"))
        rest_a = {k: v for k, v in a.items() if k != "fields"}
        rest_b = {k: v for k, v in b.items() if k != "fields"}
        if rest_a != rest_b:
            out.append(Difference(name, "changed", _details(rest_a, rest_b)))
    for section in COMPARED:
        sa_, sb = old.get(section) or {}, new.get(section) or {}
        if isinstance(sa_, dict) and isinstance(sb, dict):
            for item in sorted(set(sa_) | set(sb)):
                ia, ib = sa_.get(item), sb.get(item)
                if ia == ib:
                    continue
                kind = "added" if ia is None else "removed" if ib is None else "changed"
                details = _details(ia, ib) if kind == "changed" else ()
                out.append(Difference(f"{section} {item}", kind, details))
        elif sa_ != sb:
            out.append(Difference(section, "changed"))
    for key in ("roles", "access"):
        if old.get(key) != new.get(key):
            out.append(Difference(key, "changed", _details(
                {key: old.get(key)}, {key: new.get(key)}) if key == "roles" else ()))
    return out


def _details(a: Any, b: Any) -> tuple[tuple[str, Any, Any], ...]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return (("", a, b),)
    return tuple((k, a.get(k), b.get(k)) for k in list(a) + [k for k in b if k not in a]
                 if a.get(k) != b.get(k))


def file_diffs(before: ConfigFiles, after: ConfigFiles, *, label_a: str = "before",
               label_b: str = "after") -> list[FileDiff]:
    out: list[FileDiff] = []
    for key in sorted(set(before.texts) | set(after.texts), key=str):
        a, b = before.texts.get(key), after.texts.get(key)
        if a == b:
            continue
        path = str(after.path_of(key) if key in after.texts else before.path_of(key))
        unified = "".join(difflib.unified_diff(
            (a or "").splitlines(keepends=True), (b or "").splitlines(keepends=True),
            fromfile=f"{label_a}/{key.name}", tofile=f"{label_b}/{key.name}", n=2))
        kind = "added" if a is None else "removed" if b is None else "changed"
        out.append(FileDiff(key, path, kind, unified, a, b))
    return out


def files_of(conn: sa.Connection, version_id: int, dirs: Mapping[str, tuple[Path, ...]]
             ) -> ConfigFiles | None:
    return sources.load(conn, version_id, dirs)


def version_meta(conn: sa.Connection, version_id: int) -> Any:
    snap = snapshot(conn, version_id)
    return meta_from_dict(snap) if snap is not None else None


def same_snapshot(a: Any, b: Any) -> bool:
    return bool(meta_to_dict(a) == meta_to_dict(b))
