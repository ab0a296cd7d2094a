"""The designer's drafts, previews, plans and history as plain JSON data: the shapes the REST API
answers (app/api/designer.py) and `crm config ... --json` prints (app/cli_designer.py), so both
say the same thing the same way. File paths are shown relative to the deployment's folder (the
one holding its config.yaml), never as the server's absolute paths."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.designer import history
from app.designer.changes import describe
from app.designer.drafts import Draft
from app.designer.service import Applied, Conflict, Preview
from app.meta.errors import ConfigError
from app.migrate.steps import Plan, Step

#: the keys of a plan step that say what it does (its `data` is what replaying needs)
STEP_KEYS = ("op", "entity", "safety", "summary", "column", "rows", "problems", "warnings")


def when(value: datetime | None) -> str | None:
    """An ISO 8601 time with its offset (stored naive times are UTC)."""
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()


def relative(path: str | Path, root: Path) -> str:
    """`path` relative to the deployment folder `root` (posix slashes)."""
    try:
        return Path(os.path.relpath(Path(path), root)).as_posix()
    except ValueError:  # another drive (Windows)
        return Path(path).as_posix()


def draft_json(draft: Draft, live_version: int | None = None) -> dict[str, Any]:
    """The draft with its changes numbered from 1 (the number `remove` takes) and summarised."""
    return {"author": draft.author, "base_version": draft.base_version,
            "live_version": live_version,
            "changes": [{"number": i, "summary": change_summary(c), "change": c}
                        for i, c in enumerate(draft.changes, 1)]}


def change_summary(change: dict[str, Any]) -> str:
    if change.get("op") == "restore":
        return f"restore version {change.get('version')}"
    return describe(change)


def step_json(step: Step | dict[str, Any]) -> dict[str, Any]:
    """What a plan step does (without the data it carries for replaying)."""
    raw = step.to_dict() if isinstance(step, Step) else dict(step)
    out: dict[str, Any] = {k: raw[k] for k in STEP_KEYS if k in raw}
    out.setdefault("problems", [])
    out.setdefault("warnings", [])
    return out


def plan_json(plan: Plan) -> dict[str, Any]:
    return {"base_version": plan.base_version, "base_digest": plan.base_digest,
            "target_digest": plan.target_digest, "purge": plan.purge,
            "steps": [step_json(s) for s in plan.steps]}


def version_json(version: history.Version, live: int | None = None) -> dict[str, Any]:
    return {"id": version.id, "created_at": when(version.created_at),
            "author": version.author, "message": version.message, "digest": version.digest,
            "parent_id": version.parent_id, "has_files": version.has_files,
            "live": version.id == live, "steps": [step_json(s) for s in version.steps]}


def difference_json(diff: history.Difference) -> dict[str, Any]:
    return {"where": diff.where, "kind": diff.kind,
            "details": [{"key": k, "old": old, "new": new} for k, old, new in diff.details]}


def file_diff_json(diff: history.FileDiff, root: Path) -> dict[str, Any]:
    return {"key": str(diff.key), "path": relative(diff.path, root), "kind": diff.kind,
            "diff": diff.unified}


def error_json(error: ConfigError, root: Path) -> dict[str, Any]:
    out = dict(error.as_dict())
    if out.get("file"):
        out["file"] = relative(str(out["file"]), root)
    return out


def check_json(result: Any) -> dict[str, Any]:
    """A config check's result (app.configtests CheckResult, or anything with `as_dict`)."""
    if hasattr(result, "as_dict"):
        return dict(result.as_dict())
    return {"name": str(result), "passed": bool(getattr(result, "passed", True))}


def conflict_json(conflict: Conflict) -> dict[str, Any]:
    return {"base_version": conflict.base, "live_version": conflict.live,
            "message": str(conflict),
            "newer": [version_json(v, conflict.live) for v in conflict.newer],
            "differences": [difference_json(d) for d in conflict.differences]}


def preview_json(preview: Preview, root: Path) -> dict[str, Any]:
    """Everything the designer's preview page shows, and whether the draft can be applied."""
    blockers = preview.blockers
    return {
        **draft_json(preview.draft, preview.live_version),
        "files": [file_diff_json(d, root) for d in preview.diffs],
        "change_error": preview.change_error,
        "errors": [error_json(e, root) for e in preview.errors],
        "plan": plan_json(preview.plan) if preview.plan is not None else None,
        "hides": [step_json(s) for s in preview.hides],
        "checks": [check_json(c) for c in preview.checks],
        "failed_checks": len(preview.failed_checks),
        "conflict": conflict_json(preview.conflict) if preview.conflict else None,
        "read_only": preview.read_only,
        "drift": [relative(p, root) for p in preview.drift],
        "blockers": blockers,
        "needs_confirm": bool(preview.hides or preview.failed_checks),
        "can_apply": not blockers,
    }


def applied_json(applied: Applied, root: Path) -> dict[str, Any]:
    return {"version": applied.version, "plan": plan_json(applied.plan),
            "written": [relative(p, root) for p in applied.written],
            "skipped": [{"path": relative(p, root), "reason": why}
                        for p, why in applied.skipped]}
