"""The YAML files each config version was built from, kept beside the version so its files can
be shown, compared and restored (the designer's history and revert). Each distinct text is
stored once (by SHA-256); a version row maps file keys to those texts."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa

from app.meta.files import ConfigFiles
from app.model.designer import config_blobs, config_sources


def save(conn: sa.Connection, version_id: int, files: ConfigFiles) -> None:
    shas: dict[str, str] = {}
    for key, text in files.texts.items():
        shas[str(key)] = sha_of(text)
    known = set(conn.execute(sa.select(config_blobs.c.sha).where(
        config_blobs.c.sha.in_(set(shas.values())))).scalars()) if shas else set()
    texts = {str(k): t for k, t in files.texts.items()}
    missing = {sha: texts[k] for k, sha in shas.items() if sha not in known}
    if missing:
        conn.execute(sa.insert(config_blobs), [{"sha": s, "text": t} for s, t in missing.items()])
    conn.execute(sa.insert(config_sources).values(version_id=version_id, files=shas))


def load(conn: sa.Connection, version_id: int, dirs: Mapping[str, tuple[Path, ...]]
         ) -> ConfigFiles | None:
    """The files of `version_id` placed in `dirs` (this deployment's folders), or None when the
    version has no recorded files (published before files were kept) or a different number of
    layers than `dirs`."""
    shas = conn.execute(sa.select(config_sources.c.files).where(
        config_sources.c.version_id == version_id)).scalar()
    if shas is None:
        return None
    rows = dict(conn.execute(sa.select(config_blobs.c.sha, config_blobs.c.text).where(
        config_blobs.c.sha.in_(set(shas.values())))).all()) if shas else {}
    files = ConfigFiles.from_stored(dirs, {k: rows[s] for k, s in shas.items() if s in rows})
    if any(k.layer >= len(dirs.get(k.kind, ())) for k in files.texts):
        return None
    return files


def has_files(conn: sa.Connection, version_id: int) -> bool:
    return conn.execute(sa.select(config_sources.c.version_id).where(
        config_sources.c.version_id == version_id)).first() is not None


def sha_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def known_texts(conn: sa.Connection, texts: list[str]) -> set[str]:
    """Which of `texts` some published version was built from (so a file on disk holding one
    of them is an older published state, not a hand edit)."""
    shas = {sha_of(t): t for t in texts}
    if not shas:
        return set()
    found = set(conn.execute(sa.select(config_blobs.c.sha).where(
        config_blobs.c.sha.in_(set(shas)))).scalars())
    return {shas[s] for s in found}


def same_files(conn: sa.Connection, version_id: int, files: ConfigFiles) -> bool:
    """Whether `version_id` recorded exactly these file texts."""
    shas = conn.execute(sa.select(config_sources.c.files).where(
        config_sources.c.version_id == version_id)).scalar()
    if shas is None:
        return False
    return dict(shas) == {str(k): sha_of(t) for k, t in files.texts.items()}
