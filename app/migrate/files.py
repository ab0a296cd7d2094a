"""Migration files in `migrations/`: a reviewable record of each applied schema change.

Each file holds the steps (what a reviewer reads) and the full resolved config they lead to, so
another deployment (staging -> production) replays exactly the same steps without guessing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from app.migrate.steps import Step

HEADER = """\
# A schema change applied by `crm migrate`. Do not edit: another deployment replays these exact
# steps with `crm migrate` (it checks its own data first and refuses what would lose any).
"""


@dataclass
class MigrationFile:
    id: str
    path: Path
    from_digest: str | None
    to_digest: str
    steps: list[Step]
    config: dict[str, Any]
    author: str | None = None
    message: str | None = None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "change"


def new_id(folder: Path, summary: str) -> str:
    existing = sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.yaml")) if folder.is_dir() else []
    seq = int(existing[-1].name[:4]) + 1 if existing else 1
    return f"{seq:04d}_{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}_{slug(summary)}"


def render(m: MigrationFile) -> str:
    body = {
        "id": m.id,
        "from_digest": m.from_digest,
        "to_digest": m.to_digest,
        "author": m.author,
        "message": m.message,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "steps": [s.to_dict() for s in m.steps],
        "config": m.config,
    }
    return HEADER + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def write_pending(folder: Path, m: MigrationFile) -> Path:
    """Write to a temporary name; `commit_file` renames it once the database has committed."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{m.id}.yaml.tmp"
    tmp.write_text(render(m), encoding="utf-8")
    return tmp


def commit_file(tmp: Path) -> Path:
    final = tmp.with_name(tmp.name[1:].removesuffix(".tmp"))
    os.replace(tmp, final)
    return final


def read_all(folder: Path) -> list[MigrationFile]:
    out: list[MigrationFile] = []
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out.append(MigrationFile(
            id=data["id"], path=path, from_digest=data.get("from_digest"),
            to_digest=data["to_digest"], steps=[Step.from_dict(s) for s in data["steps"]],
            config=data["config"], author=data.get("author"), message=data.get("message")))
    return out
